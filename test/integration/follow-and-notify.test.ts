import { loadConfig } from '../../webapp/config';
import { createWebApp } from '../../webapp/web/create-web-app';
import { delivery, memoryJournal } from '../helpers/app';
import { eventually, eventuallyRead } from '../helpers/eventually';
import { startTestHub, type FakeHub, type TestHubOptions } from '../helpers/fake-hub';
import { captureLogs } from '../helpers/logs';
import { startNotifyReceiver } from '../helpers/notify-receiver';

const githubToken = 'ghp_followToken0123456789';
const gitlabToken = 'glptt-followTriggerToken';
const gitlabApiToken = 'glpat-followReadToken987';
const secrets = [githubToken, gitlabToken, gitlabApiToken, 'receiverSecretKey42'];

/** The web app as the web process wires it, on real timers, against fakes on loopback. */
async function startApp(
  env: (hub: FakeHub) => Record<string, string>,
  hubOptions: Partial<TestHubOptions> = {},
) {
  const hub = await startTestHub({ user: 'maddouri', repo: 'void-docker', ...hubOptions });
  const receiver = await startNotifyReceiver();
  const config = loadConfig({
    PROPAGATION_DELAY: '0',
    BUILD_POLL_INTERVAL: '1',
    TRIGGER_RETRY_INITIAL: '0.01',
    TRIGGER_RETRY_MAX: '0.05',
    TRIGGER_RETRY_GIVE_UP: '1',
    TRIGGER_TIMEOUT: '2',
    RECONCILE_INTERVAL: '0',
    NOTIFY_URL: receiver.url,
    ...env(hub),
  });
  const logs = captureLogs('web');
  const web = createWebApp(config, logs.log, { journal: memoryJournal(), version: '9.9.9' });
  web.start();
  const post = (tag: string, pushedAt = 1764158400) =>
    web.server.inject({
      method: 'POST',
      url: config.propagationRoute,
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(delivery(tag, { push_data: { tag, pushed_at: pushedAt } })),
    });
  const status = async () => (await web.server.inject('/status')).body;
  const close = async () => {
    await web.close();
    await hub.close();
    await receiver.close();
  };
  return { hub, receiver, logs, web, post, status, close };
}

type Started = Awaited<ReturnType<typeof startApp>>;

function expectNoSecret(text: string) {
  for (const secret of secrets) expect(text).not.toContain(secret);
}

const github = {
  BUILD_TARGET: 'github',
  BUILD_GITHUB_REPOSITORY: 'acme/images',
  BUILD_GITHUB_WORKFLOW: 'build.yml',
  BUILD_GITHUB_TOKEN: githubToken,
};
const gitlab = {
  BUILD_TARGET: 'gitlab',
  GITLAB_PROJECT: 'acme/images',
  GITLAB_TRIGGER_TOKEN: gitlabToken,
};

describe('a failed build is reported within one poll interval, with its link', () => {
  let t: Started | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it.each([
    ['github', (hub: FakeHub) => ({ ...github, BUILD_GITHUB_API_URL: hub.url })],
    [
      'gitlab',
      (hub: FakeHub) => ({ ...gitlab, GITLAB_URL: hub.url, GITLAB_API_TOKEN: gitlabApiToken }),
    ],
  ])('%s', async (api, env) => {
    t = await startApp(env, { failBuild: ['step-1'], buildTime: 200 });
    expect((await t.post('init')).statusCode).toBe(200);
    await eventually(() => t?.hub.runs.length === 1, `the ${api} build of step-1 to start`);
    const run = t.hub.runs[0];
    expect(run).toMatchObject({ api, tag: 'step-1', fails: true });
    await eventually(() => t?.receiver.received.length === 1, 'the build-failed notification');
    // The run ended 200 ms after its trigger; the first read, one interval (1 s) after the
    // trigger, reports it.
    expect(Date.now() - (run?.endsAt ?? 0)).toBeLessThan(1000 + 1500);

    const link = run?.url ?? '';
    expect(t.receiver.received).toEqual([
      { text: `maddouri/void-docker: build of step-1 failed: ${link}` },
    ]);
    expect(t.receiver.requests[0]?.contentType).toBe('application/json');
    expect(t.logs.entries()).toContainEqual(
      expect.objectContaining({
        level: 50,
        unit: 'builds',
        tag: 'step-1',
        run: link,
        msg: `build of step-1 failed: ${link}`,
      }),
    );
    type Status = {
      tags: { tag: string; state: string | null; build: unknown }[];
      awaiting: unknown[];
      notifications: { event: string; text: string }[];
    };
    // The receiver counts the notification when it arrives; the app, once the answer is back.
    const status = await eventuallyRead(
      async () => JSON.parse(await t!.status()) as Status,
      (read) => read.notifications.length > 0,
      'the notification to be listed in /status',
    );
    expect(status.tags[1]).toEqual(
      expect.objectContaining({
        tag: 'step-1',
        state: 'failed',
        build: { state: 'failure', url: link },
      }),
    );
    // The wait for its push ended: no stall is reported for it after STALL_TIMEOUT.
    expect(status.awaiting).toEqual([]);
    expect(status.notifications).toEqual([
      expect.objectContaining({ event: 'build-failed', text: expect.stringContaining(link) }),
    ]);
    expect(t.hub.runReads.map((read) => read.status)).toEqual([200]);
    expectNoSecret(await t.status());
    expectNoSecret(t.logs.text());
  });
});

describe('following builds', () => {
  let t: Started | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it("shows a GitHub run as building while it runs, then counts its success as the tag's push", async () => {
    t = await startApp((hub) => ({ ...github, BUILD_GITHUB_API_URL: hub.url }), {
      buildTime: 1500,
    });
    await t.post('init');
    await eventually(() => t?.hub.runs.length === 1, 'the build of step-1 to start');
    const tagOf = async () =>
      (JSON.parse(await t!.status()) as { tags: { state: string; build: unknown }[] }).tags[1];
    const building = await eventuallyRead(
      tagOf,
      (tag) => tag?.state === 'building',
      'step-1 to show as building',
    );
    expect(building?.build).toEqual({
      state: expect.stringMatching(/^(requested|in_progress)$/),
      url: t.hub.runs[0]?.url,
    });
    const built = await eventuallyRead(
      tagOf,
      (tag) =>
        JSON.stringify(tag?.build) ===
        JSON.stringify({ state: 'success', url: t!.hub.runs[0]?.url }),
      'the run of step-1 to be read as a success',
      6000,
    );
    // No push webhook came: the run's end is step-1's build, and step-2 is queued after it.
    expect(built?.state).toBeNull();
    await eventually(() => t?.hub.runs[1]?.tag === 'step-2', 'the build of step-2 to start');
    // Docker Hub's webhook for that same push, later, is a repeat of it.
    const late = await t.post('step-1', Math.floor(Date.now() / 1000) - 5);
    expect(JSON.parse(late.body)).toMatchObject({ duplicate: true });
    expect(t.hub.runReads.length).toBeGreaterThanOrEqual(2);
    expect(t.receiver.received).toEqual([]);
  });

  it('reads a GitHub run that does not end no more once its tag is pushed', async () => {
    t = await startApp((hub) => ({ ...github, BUILD_GITHUB_API_URL: hub.url }), {
      buildTime: 600_000,
    });
    await t.post('init');
    await eventually(() => t?.hub.runs.length === 1, 'the build of step-1 to start');
    const readsOf = (nth: number) =>
      t!.hub.runReads.filter((read) => read.path.endsWith(`/runs/${t!.hub.runs[nth]?.id}`));
    await eventually(() => readsOf(0).length >= 2, 'two reads of the run of step-1');
    await t.post('step-1', 1764158500);
    const atPush = readsOf(0).length;
    await eventually(() => t?.hub.runs.length === 2, 'the build of step-2 to start');
    // step-2's run is read every second: its third read is more than two intervals after the
    // push, in which step-1's run would have been read twice more.
    await eventually(() => readsOf(1).length >= 3, 'three reads of the run of step-2');
    // A read already sent when the push came in may arrive after it.
    expect(readsOf(0).length - atPush).toBeLessThanOrEqual(1);
    type Status = { tags: { state: string | null; build: Record<string, unknown> | null }[] };
    const status = JSON.parse(await t.status()) as Status;
    expect(status.tags[1]).toEqual({
      tag: 'step-1',
      registryPush: null,
      appPush: expect.any(String),
      state: null,
      build: { state: 'in_progress', url: t.hub.runs[0]?.url, stopped: 'the tag was pushed' },
    });
    expect(status.tags[2]?.state).toBe('building');
    const page = (await t.web.server.inject('/')).body;
    const entry = page.slice(page.indexOf('data-tag="step-1"'), page.indexOf('data-tag="step-2"'));
    expect(entry).toContain('data-state="built"');
    expect(entry).not.toContain('in_progress');
  });

  it('falls back to a plain dispatch where GitHub refuses return_run_details, remembers, and finds the run among the workflow runs', async () => {
    t = await startApp((hub) => ({ ...github, BUILD_GITHUB_API_URL: hub.url }), {
      githubRunDetails: 'refuse',
    });
    await t.post('init');
    await eventually(() => t?.hub.triggers.length === 2, 'the dispatch, and its plain repeat');
    expect(t.hub.triggers.map((call) => call.status)).toEqual([422, 204]);
    const bodies = t.hub.triggers.map((call) => JSON.parse(call.body) as Record<string, unknown>);
    expect(bodies.map((body) => body.return_run_details)).toEqual([true, undefined]);
    await t.post('step-1', 1764158500);
    await eventually(() => t?.hub.triggers.length === 3, 'the dispatch of step-2');
    expect(JSON.parse(t.hub.triggers[2]?.body ?? '')).not.toHaveProperty('return_run_details');
    expect(t.hub.triggers[2]?.status).toBe(204);
    // A dispatch that names no run: its run is found among the workflow's runs, then read.
    const found = () =>
      t!.logs.entries().filter((line) => /^found the run of step-2/.test(String(line.msg)));
    await eventually(() => found().length > 0, 'the run of step-2 to be found');
    expect(found()[0]).toMatchObject({ run: t.hub.runs[1]?.url });
    await eventually(() => (t?.hub.runReads.length ?? 0) > 0, 'a read of that run');
    expect(t.hub.runReads.map((read) => read.path)).toContain(
      `/repos/acme/images/actions/runs/${t.hub.runs[1]?.id}`,
    );
    expect(t.logs.text()).not.toMatch(/builds are not followed/);
  });

  it('says once, without GITLAB_API_TOKEN, that pipelines are not followed, and still links them', async () => {
    t = await startApp((hub) => ({ ...gitlab, GITLAB_URL: hub.url }), { buildTime: 60_000 });
    await t.post('init');
    await eventually(() => t?.hub.runs.length === 1, 'the pipeline of step-1 to start');
    const said = t.logs
      .entries()
      .filter((line) => /GITLAB_API_TOKEN is not set/.test(String(line.msg)));
    expect(said).toHaveLength(1);
    // The hub records the pipeline when the trigger arrives; the app, once the answer is back.
    type Status = { tags: { state: string; build: unknown }[] };
    const status = await eventuallyRead(
      async () => JSON.parse(await t!.status()) as Status,
      (read) => read.tags[1]?.state === 'building',
      'step-1 to show as building',
    );
    expect(status.tags[1]).toMatchObject({
      state: 'building',
      build: { state: 'requested', url: t.hub.runs[0]?.url },
    });
    expect(t.hub.runReads).toEqual([]);
  });
});

describe('notifications', () => {
  let t: Started | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('sends one notification naming the tag when a trigger is given up', async () => {
    t = await startApp((hub) => ({ ...github, BUILD_GITHUB_API_URL: hub.url }), {
      refuseWith: 401,
    });
    await t.post('init');
    await eventually(() => t?.receiver.received.length === 1, 'the given-up notification');
    expect(t.receiver.received).toEqual([
      {
        text: 'maddouri/void-docker: trigger of step-1 given up: GitHub answered 401: BUILD_GITHUB_TOKEN is wrong, expired or revoked',
      },
    ]);
    expectNoSecret(t.logs.text());
    expectNoSecret(await t.status());
  });

  it('sends one notification when the last tag is pushed, however often it is delivered', async () => {
    t = await startApp((hub) => ({
      DOCKERHUB_TRIGGER_URL: `${hub.url}/u/maddouri/void-docker/trigger/hubtok/`,
    }));
    for (let i = 0; i < 3; i++) expect((await t.post('latest')).statusCode).toBe(200);
    await eventually(() => t?.receiver.received.length === 1, 'the chain-complete notification');
    await t.post('step-3', 1764158999);
    await eventually(() => t?.hub.triggers.length === 1, 'the trigger of latest');
    expect(t.receiver.received).toEqual([
      { text: 'maddouri/void-docker: chain complete: latest pushed at 2025-11-26T12:00:00.000Z' },
    ]);
  });

  it('retries a failing NOTIFY_URL, and only says so in the logs, its secret masked', async () => {
    const receiver = await startNotifyReceiver('/hooks/failing/receiverSecretKey42', 2);
    t = await startApp(
      (hub) => ({
        ...github,
        BUILD_GITHUB_API_URL: hub.url,
        NOTIFY_URL: receiver.url,
        // TRIGGER_RETRY_GIVE_UP counts on the wall clock from the first attempt: the 1 s above
        // leaves a busy machine too little for three round trips.
        TRIGGER_RETRY_GIVE_UP: '60',
      }),
      { refuseWith: 404 },
    );
    try {
      await t.post('init');
      await eventually(() => receiver.received.length === 1, 'the notification, after two 503s');
      expect(receiver.requests.map((request) => request.status)).toEqual([503, 503, 200]);
      // TRIGGER_RETRY_INITIAL is 0.01 s: the retries still wait for the second between POSTs
      // (measured where they arrive, which a connection set up first can make a little shorter).
      const gaps = receiver.requests.slice(1).map((r, i) => r.at - (receiver.requests[i]?.at ?? 0));
      for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(950);
      for (const gap of gaps) expect(gap).toBeLessThan(2000);
      const retries = t.logs
        .entries()
        .filter((line) => line.unit === 'notify' && line.level === 40);
      expect(retries).toHaveLength(2);
      expect(retries[0]).toMatchObject({
        notify: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/\*\*\*$/),
      });
      expectNoSecret(t.logs.text());
      expect(t.logs.text()).not.toContain('/hooks/failing');
    } finally {
      await receiver.close();
    }
  });
});
