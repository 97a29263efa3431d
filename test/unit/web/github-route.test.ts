import type { TriggerOutcome } from '../../../webapp/types';
import { buildTestApp, delivery, flush } from '../../helpers/app';
import { eventually } from '../../helpers/eventually';
import {
  digestOf,
  registryPackagePayload,
  signBody,
  workflowRunPayload,
  writeGhcrLine,
  answerGhcrDigests,
} from '../../helpers/github';

const secret = 'gh-hook-secret-5f2c1e9a7b3d4c60';
const githubToken = 'ghp_githubRouteToken0123456';
const page = 'https://github.com/acme/images/actions/runs/4242';
const withRun: TriggerOutcome = {
  ok: true,
  dryRun: false,
  attempts: 1,
  status: 204,
  run: { id: '4242', url: page, state: 'requested' },
};

type Answer = Awaited<ReturnType<ReturnType<typeof buildTestApp>['app']['inject']>>;

interface TagView {
  tag: string;
  state: string | null;
  appPush: string | null;
  build: { state: string; url: string | null } | null;
}

/**
 * The web app of a line built by GitHub Actions, on manual timers; with `secret` it takes
 * GitHub's deliveries. `trigger` starts step-1, whose dispatch names run 4242; the run's API
 * answers that it is still in progress, and each read of it is counted.
 */
function startLine(env: Record<string, string> = { GITHUB_WEBHOOK_SECRET: secret }) {
  const t = buildTestApp({
    BUILD_TARGET: 'github',
    BUILD_GITHUB_REPOSITORY: 'acme/images',
    BUILD_GITHUB_WORKFLOW: 'build.yml',
    BUILD_GITHUB_TOKEN: githubToken,
    ...env,
  });
  const answers: Answer[] = [];
  let reads = 0;
  t.registry
    .get('https://api.github.com')
    .intercept({ path: '/repos/acme/images/actions/runs/4242', method: 'GET' })
    .reply(() => {
      reads++;
      return {
        statusCode: 200,
        data: JSON.stringify({ id: 4242, status: 'in_progress', conclusion: null, html_url: page }),
      };
    })
    .persist();
  /** POSTs `body` to /github as GitHub sends event `event`, signed with `signWith`. */
  const deliver = async (
    event: string,
    body: unknown,
    options: { signWith?: string | null; signature?: string; contentType?: string } = {},
  ) => {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const signWith = options.signWith === undefined ? secret : options.signWith;
    const signature =
      options.signature ?? (signWith === null ? undefined : signBody(signWith, text));
    const answer = await t.app.inject({
      method: 'POST',
      url: '/github',
      headers: {
        'content-type': options.contentType ?? 'application/json',
        'user-agent': 'GitHub-Hookshot/044aadd',
        'x-github-event': event,
        'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958',
        'x-github-hook-id': '292430182',
        ...(signature === undefined ? {} : { 'x-hub-signature-256': signature }),
      },
      payload: text,
    });
    answers.push(answer);
    return answer;
  };
  const status = async () => (await t.app.inject('/status')).json();
  const tag = async (name: string) =>
    ((await status()).tags as TagView[]).find((entry) => entry.tag === name);
  /** init pushed, and step-1 triggered PROPAGATION_DELAY later: its run 4242 is followed. */
  const startStep1 = async () => {
    t.failTriggers(withRun);
    expect((await t.post(delivery('init'))).statusCode).toBe(200);
    t.timers.advance(t.config.propagationDelay);
    await eventually(() => t.triggered.includes('step-1'), 'the trigger of step-1');
    await flush();
    // The next builds name no run.
    t.failTriggers({ ok: true, dryRun: false, attempts: 1, status: 204 });
    expect(await tag('step-1')).toMatchObject({ state: 'building', build: { state: 'requested' } });
  };
  return { ...t, deliver, status, tag, startStep1, answers, reads: () => reads };
}

describe('POST /github: a workflow run that completed', () => {
  it('counts a success at once as the push of the node it built, and queues its child', async () => {
    const t = startLine();
    await t.startStep1();
    const answer = await t.deliver('workflow_run', workflowRunPayload({ conclusion: 'success' }));
    expect(answer.statusCode).toBe(200);
    expect(answer.json()).toEqual({
      state: 'success',
      description: 'run 4242 of acme/images ended: success',
    });
    // Told by the delivery, not by a read of the run.
    expect(t.reads()).toBe(0);
    const step1 = await t.tag('step-1');
    expect(step1?.state).toBeNull();
    expect(step1?.appPush).toBe(new Date(t.timers.now()).toISOString());
    expect(step1?.build).toEqual({ state: 'success', url: page });
    const { pending } = await t.status();
    expect(pending).toEqual([
      {
        tag: 'step-2',
        after: 'step-1',
        dueAt: new Date(t.timers.now() + t.config.propagationDelay).toISOString(),
      },
    ]);
    t.timers.advance(t.config.propagationDelay);
    await eventually(() => t.triggered.includes('step-2'), 'the trigger of step-2');
    expect(t.triggered).toEqual(['step-1', 'step-2']);
    await t.web.close();
  });

  it.each(['failure', 'timed_out', 'cancelled'])(
    'shows a run that concluded %s as a failed node, and triggers nothing built from it',
    async (conclusion) => {
      const t = startLine();
      await t.startStep1();
      const answer = await t.deliver('workflow_run', workflowRunPayload({ conclusion }));
      expect(answer.statusCode).toBe(200);
      const state = conclusion === 'cancelled' ? 'cancelled' : 'failure';
      expect(answer.json().description).toBe(`run 4242 of acme/images ended: ${state}`);
      const step1 = await t.tag('step-1');
      expect(step1?.state).toBe('failed');
      expect(step1?.appPush).toBeNull();
      expect(step1?.build).toEqual({ state, url: page });
      const failed = (await t.status()).failed as { tag: string }[];
      expect(failed.map((entry) => entry.tag)).toEqual(['step-1']);
      for (let i = 0; i < 10; i++) {
        t.timers.advance(t.config.propagationDelay);
        await flush();
      }
      expect(t.triggered).toEqual(['step-1']);
      expect((await t.status()).pending).toEqual([]);
      await t.web.close();
    },
  );

  it('counts a run once when the same delivery comes again', async () => {
    const t = startLine();
    await t.startStep1();
    await t.deliver('workflow_run', workflowRunPayload());
    const before = await t.status();
    const again = await t.deliver('workflow_run', workflowRunPayload());
    expect(again.statusCode).toBe(200);
    expect(await t.status()).toEqual(before);
    t.timers.advance(t.config.propagationDelay);
    await eventually(() => t.triggered.includes('step-2'), 'the trigger of step-2');
    await flush();
    expect(t.triggered).toEqual(['step-1', 'step-2']);
    await t.web.close();
  });

  it('answers 202 for a run it does not follow, and changes nothing', async () => {
    const t = startLine();
    await t.startStep1();
    const before = await t.status();
    const answer = await t.deliver('workflow_run', workflowRunPayload({ id: 5151 }));
    expect(answer.statusCode).toBe(202);
    expect(answer.json()).toEqual({
      state: 'success',
      description: 'run 5151 of acme/images is not one this app follows',
    });
    expect(await t.status()).toEqual(before);
    await t.web.close();
  });
});

describe('POST /github: deliveries that are not believed', () => {
  const signatureProblem =
    'the signature (X-Hub-Signature-256) is missing or is not that of GITHUB_WEBHOOK_SECRET: nothing was read';

  it.each([
    ['no signature', { signWith: null }],
    ['a signature that is not one', { signature: 'sha256=deadbeef' }],
    ['a signature made with another secret', { signWith: 'another-secret-0123456789' }],
    [
      'the signature of another body',
      { signature: signBody(secret, JSON.stringify(workflowRunPayload({ id: 5151 }))) },
    ],
    [
      'an X-Hub-Signature (sha1) only',
      { signature: 'sha1=0123456789abcdef0123456789abcdef01234567' },
    ],
  ])('refuses one with %s (401) and changes nothing', async (_what, options) => {
    const t = startLine();
    await t.startStep1();
    const before = await t.status();
    const answer = await t.deliver('workflow_run', workflowRunPayload(), options);
    expect(answer.statusCode).toBe(401);
    expect(answer.json()).toEqual({ state: 'error', description: signatureProblem });
    expect(await t.status()).toEqual(before);
    const refused = t.logs.entries().filter((line) => line.msg === 'GitHub delivery refused');
    expect(refused).toEqual([expect.objectContaining({ level: 40, status: 401 })]);
    t.timers.advance(10 * t.config.propagationDelay);
    await flush();
    expect(t.triggered).toEqual(['step-1']);
    await t.web.close();
  });

  it.each([
    ['ping', { zen: 'Design for failure.', hook_id: 292430182, hook: { type: 'Repository' } }],
    ['push', { ref: 'refs/heads/main', before: '0'.repeat(40), after: '1'.repeat(40) }],
    [
      'workflow_run',
      workflowRunPayload({ action: 'requested', status: 'queued', conclusion: null }),
    ],
    ['workflow_job', { action: 'completed', workflow_job: { id: 1, run_id: 4242 } }],
  ])('answers %s with 204 and changes nothing', async (event, payload) => {
    const t = startLine();
    await t.startStep1();
    const before = await t.status();
    const answer = await t.deliver(event, payload);
    expect(answer.statusCode).toBe(204);
    expect(answer.body).toBe('');
    expect(await t.status()).toEqual(before);
    await t.web.close();
  });

  it('without GITHUB_WEBHOOK_SECRET, refuses every delivery with 404, naming the variable', async () => {
    const t = startLine({});
    await t.startStep1();
    const before = await t.status();
    for (const signWith of [secret, null]) {
      const answer = await t.deliver('workflow_run', workflowRunPayload(), { signWith });
      expect(answer.statusCode).toBe(404);
      expect(answer.json().state).toBe('error');
      expect(answer.json().description).toContain('GITHUB_WEBHOOK_SECRET');
    }
    expect(await t.status()).toEqual(before);
    await t.web.close();
  });

  it('refuses a correctly signed body of more than 1 MiB, and changes nothing', async () => {
    const t = startLine();
    await t.startStep1();
    const before = await t.status();
    const payload = { ...workflowRunPayload(), padding: 'x'.repeat(1024 * 1024) };
    const answer = await t.deliver('workflow_run', payload);
    expect(answer.statusCode).toBe(413);
    expect(answer.json().state).toBe('error');
    expect(await t.status()).toEqual(before);
    await t.web.close();
  });

  // BUG (webapp/web/build-server.ts, describe(), FST_ERR_CTP_BODY_TOO_LARGE): the 413 of
  // /github says "the body is larger than 65536 bytes", the push webhook's limit, while /github
  // takes up to 1 MiB (githubBodyLimit in webapp/web/add-github-route.ts): GitHub's delivery log
  // shows a limit that is not the one applied. Marked `failing` until fixed: then a plain `it`.
  it('says the limit of /github (1 MiB) when it refuses a body over it', async () => {
    const t = startLine();
    const payload = { ...workflowRunPayload(), padding: 'x'.repeat(1024 * 1024) };
    const answer = await t.deliver('workflow_run', payload);
    expect(answer.statusCode).toBe(413);
    expect(answer.json().description).toMatch(/1048576 bytes|1 MiB/);
    await t.web.close();
  });

  it('takes a body larger than the push webhook takes, as GitHub sends runs of tens of KiB', async () => {
    const t = startLine();
    await t.startStep1();
    const payload = { ...workflowRunPayload(), padding: 'x'.repeat(200 * 1024) };
    const answer = await t.deliver('workflow_run', payload);
    expect(answer.statusCode).toBe(200);
    expect((await t.tag('step-1'))?.build?.state).toBe('success');
    await t.web.close();
  });

  it('answers 400 to a signed body that is not JSON', async () => {
    const t = startLine();
    await t.startStep1();
    const before = await t.status();
    const answer = await t.deliver('workflow_run', '{"action": "completed",');
    expect(answer.statusCode).toBe(400);
    expect(answer.json().description).toMatch(/not JSON/);
    expect(await t.status()).toEqual(before);
    await t.web.close();
  });
});

describe('POST /github: a webhook sending a form', () => {
  it('reads the JSON in its payload field, signed as it came', async () => {
    const t = startLine();
    await t.startStep1();
    const form = new URLSearchParams({ payload: JSON.stringify(workflowRunPayload()) }).toString();
    const answer = await t.deliver('workflow_run', form, {
      contentType: 'application/x-www-form-urlencoded',
    });
    expect(answer.statusCode).toBe(200);
    expect(answer.json().description).toBe('run 4242 of acme/images ended: success');
    expect((await t.status()).pending).toEqual([expect.objectContaining({ tag: 'step-2' })]);
    await t.web.close();
  });

  it('refuses a form signed over its JSON rather than over the form', async () => {
    const t = startLine();
    await t.startStep1();
    const json = JSON.stringify(workflowRunPayload());
    const form = new URLSearchParams({ payload: json }).toString();
    const answer = await t.deliver('workflow_run', form, {
      contentType: 'application/x-www-form-urlencoded',
      signature: signBody(secret, json),
    });
    expect(answer.statusCode).toBe(401);
    expect((await t.status()).pending).toEqual([]);
    await t.web.close();
  });
});

describe('POST /github: the secret', () => {
  it('never appears in an answer, on /status, on the page or in a log line', async () => {
    const t = startLine();
    await t.startStep1();
    await t.deliver('workflow_run', workflowRunPayload(), { signWith: null });
    await t.deliver('workflow_run', workflowRunPayload(), {
      signWith: 'another-secret-0123456789',
    });
    await t.deliver('ping', { zen: 'Speak like a human.' });
    await t.deliver('workflow_run', '{"broken":');
    await t.deliver('workflow_run', { ...workflowRunPayload(), padding: 'x'.repeat(1024 * 1024) });
    await t.deliver('workflow_run', workflowRunPayload({ id: 5151 }));
    await t.deliver('workflow_run', workflowRunPayload());
    const shown = [
      ...t.answers.map((answer) => `${JSON.stringify(answer.headers)}\n${answer.body}`),
      (await t.app.inject('/status')).body,
      (await t.app.inject('/')).body,
    ];
    expect(t.answers.map((answer) => answer.statusCode)).toEqual([
      401, 401, 204, 400, 413, 202, 200,
    ]);
    for (const text of [...shown, t.logs.text()]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(githubToken);
    }
    await t.web.close();
  });
});

/** A line of three images on GHCR, each built by the workflow of its own repository. */
const ghcrGraph = writeGhcrLine(['base', 'svc', 'app']);

interface NodeView {
  id: string;
  state: string | null;
  digest?: string | null;
  warning?: string;
  build?: { state: string } | null;
}

const BASE = 'ghcr.io/acme/base:latest';
const SVC = 'ghcr.io/acme/svc:latest';
const APP = 'ghcr.io/acme/app:latest';
/** what the tests deliver: the registry named by its host, so that the image reads as ghcr.io */
const onGhcr = { registryUrl: 'https://ghcr.io/acme' };

/** The web app of that graph; ghcr.io answers `digests[name]` for each image's manifest. */
function startGraph(digests: Record<string, string> = {}) {
  const t = startLine({
    GRAPH_FILE: ghcrGraph,
    GITHUB_WEBHOOK_SECRET: secret,
    GH_BUILD_TOKEN: githubToken,
  });
  const heads = answerGhcrDigests(t.registry, (name) => digests[name]);
  const node = async (id: string) =>
    ((await t.status()).graph.nodes as NodeView[]).find((entry) => entry.id === id);
  // A delivery is checked against the registry once answered: this waits for that read.
  const published = (name: string, digest: string, fields = onGhcr) =>
    t.deliver('registry_package', registryPackagePayload({ name, digest, ...fields }));
  /** base published, and svc triggered `delay` later: its dispatch names run 4242. */
  const startSvc = async () => {
    t.failTriggers(withRun);
    const answer = await published('base', digestOf('base 1'));
    expect(answer.statusCode).toBe(200);
    t.timers.advance(t.config.propagationDelay);
    await eventually(() => t.triggered.includes(SVC), 'the trigger of svc');
    await flush();
    t.failTriggers({ ok: true, dryRun: false, attempts: 1, status: 204 });
  };
  return { ...t, node, published, startSvc, heads };
}

describe('POST /github: a container published to GHCR', () => {
  it("counts as the push of the graph's node of that image, and queues what is built from it", async () => {
    const t = startGraph();
    const digest = digestOf('base 1');
    const answer = await t.published('base', digest);
    expect(answer.statusCode).toBe(200);
    expect(answer.json()).toEqual({
      state: 'success',
      description: `${BASE} published as ${digest}`,
    });
    expect(await t.node(BASE)).toMatchObject({ digest });
    expect((await t.status()).pending).toEqual([
      expect.objectContaining({ tag: SVC, after: BASE }),
    ]);
    t.timers.advance(t.config.propagationDelay);
    await eventually(() => t.triggered.includes(SVC), 'the trigger of svc');
    expect(t.triggered).toEqual([SVC]);
    await t.web.close();
  });

  it('counts the same digest delivered again once', async () => {
    const t = startGraph();
    await t.published('base', digestOf('base 1'));
    t.timers.advance(t.config.propagationDelay);
    await eventually(() => t.triggered.includes(SVC), 'the trigger of svc');
    await flush();
    const before = await t.status();
    expect((await t.published('base', digestOf('base 1'))).statusCode).toBe(200);
    expect(await t.status()).toEqual(before);
    await t.web.close();
  });

  it('answers 202 for an image that is not in the graph, and changes nothing', async () => {
    const t = startGraph();
    const before = await t.status();
    const answer = await t.published('other', digestOf('other'));
    expect(answer.statusCode).toBe(202);
    expect(answer.json().description).toBe(
      'ghcr.io/acme/other:latest is not an image of the graph',
    );
    const tagged = await t.deliver(
      'registry_package',
      registryPackagePayload({ name: 'base', tag: 'v2', ...onGhcr }),
    );
    expect(tagged.statusCode).toBe(202);
    expect(await t.status()).toEqual(before);
    await t.web.close();
  });

  // BUG (webapp/github/read-github-event.ts, registryHost): GitHub names the registry of a
  // container https://CONTAINER.pkg.github.com/<owner>, and the image is read as
  // container.pkg.github.com/acme/base:latest: a real delivery is answered 202 "not an image of
  // the graph" and nothing is queued. Marked `failing` until fixed: then a plain `it`.
  it('counts a delivery as GitHub sends it (registry CONTAINER.pkg.github.com)', async () => {
    const t = startGraph();
    const answer = await t.published('base', digestOf('base 1'), {
      registryUrl: 'https://CONTAINER.pkg.github.com/acme',
    });
    expect(answer.statusCode).toBe(200);
    expect((await t.status()).pending).toEqual([expect.objectContaining({ tag: SVC })]);
    await t.web.close();
  });

  it("is no second push once the build's CI run counted: what is built from it is triggered once", async () => {
    const svc = digestOf('svc 1');
    const t = startGraph({ svc });
    await t.startSvc();
    const ended = await t.deliver('workflow_run', workflowRunPayload({ repository: 'acme/svc' }));
    expect(ended.statusCode).toBe(200);
    // The run's end counted: app is queued, and the registry is read to confirm the push.
    const queued = (await t.status()).pending;
    expect(queued).toEqual([expect.objectContaining({ tag: APP, after: SVC })]);
    await eventually(async () => (await t.node(SVC))?.digest === svc, "svc's digest read");
    const late = await t.published('svc', svc);
    expect(late.statusCode).toBe(200);
    expect((await t.status()).pending).toEqual(queued);
    t.timers.advance(10 * t.config.propagationDelay);
    await eventually(() => t.triggered.includes(APP), 'the trigger of app');
    await flush();
    expect(t.triggered).toEqual([SVC, APP]);
    const shown = await t.node(SVC);
    expect(shown).toMatchObject({ digest: svc, build: { state: 'success' } });
    expect(shown).not.toHaveProperty('warning');
    await t.web.close();
  });

  it("waits, for a package published while its CI run goes on, for the run's end, which then counts once", async () => {
    const svc = digestOf('svc 1');
    const t = startGraph({ svc });
    await t.startSvc();
    // GitHub tells of the push while the run is still going: a later step may still fail it.
    expect((await t.published('svc', svc)).statusCode).toBe(200);
    expect((await t.status()).pending).toEqual([]);
    t.timers.advance(5000);
    const ended = await t.deliver('workflow_run', workflowRunPayload({ repository: 'acme/svc' }));
    expect(ended.statusCode).toBe(200);
    await flush();
    expect((await t.status()).pending).toEqual([expect.objectContaining({ tag: APP, after: SVC })]);
    t.timers.advance(10 * t.config.propagationDelay);
    await eventually(() => t.triggered.includes(APP), 'the trigger of app');
    await flush();
    expect(t.triggered).toEqual([SVC, APP]);
    const shown = await t.node(SVC);
    expect(shown?.digest).toBe(svc);
    // The digest the run's end confirms is the one published during it: no warning.
    expect(shown?.warning).toBeUndefined();
    const warned = t.logs
      .entries()
      .filter((line) => line.level === 40 && line.unit === 'digests' && line.tag === SVC);
    expect(warned).toEqual([]);
    await t.web.close();
  });
});
