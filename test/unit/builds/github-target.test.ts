import type { ServerResponse } from 'node:http';
import { MockAgent } from 'undici';
import { shareAppTokens } from '../../../webapp/builds/github-app/share-app-tokens';
import type { AppTokens } from '../../../webapp/builds/github-app/create-app-tokens';
import type { BuildTarget, GitHubApp } from '../../../webapp/builds/targets/build-target';
import { createTarget } from '../../../webapp/builds/targets/create-target';
import { triggerTag } from '../../../webapp/builds/trigger-tag';
import { loadConfig } from '../../../webapp/config';
import type { RetryPolicy } from '../../../webapp/types';
import {
  createFakeGitHubApp,
  generateAppKeyPair,
  type FakeGitHubApp,
} from '../../helpers/fake-github-app';
import { captureLogs } from '../../helpers/logs';

const token = 'ghp_githubTargetToken0123456';
const APP_ID = '424242';
const pair = generateAppKeyPair();
const api = 'https://api.github.com';
const dispatches = '/repos/acme/images/actions/workflows/build.yml/dispatches';

const baseEnv = {
  BUILD_TARGET: 'github',
  BUILD_GITHUB_REPOSITORY: 'acme/images',
  BUILD_GITHUB_WORKFLOW: 'build.yml',
};

/** The GitHub target of `env`, with `appTokens` as the process's maker of App tokens. */
function targetOf(env: Record<string, string>, appTokens?: (app: GitHubApp) => AppTokens) {
  const config = loadConfig({ ...baseEnv, ...env });
  return createTarget(config.target, {
    ...config,
    ...(appTokens === undefined ? {} : { appTokens }),
  });
}

function finderOf(target: BuildTarget) {
  const finder = target.runs?.find;
  if (finder === undefined) throw new Error('the GitHub target has no run finder');
  return finder;
}

const since = Date.parse('2026-11-26T12:00:00.250Z');
const at = (seconds: number) =>
  new Date(since + seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** One run of a workflow's list, as GET .../workflows/{id}/runs gives it. */
const run = (id: number, title: string, created: number, fields: Record<string, unknown> = {}) => ({
  id,
  name: 'build',
  display_title: title,
  head_branch: 'main',
  event: 'workflow_dispatch',
  status: 'queued',
  conclusion: null,
  created_at: at(created),
  html_url: `https://github.com/acme/images/actions/runs/${id}`,
  ...fields,
});

/** The list GitHub answers, newest first as it sorts it. */
const listOf = (...runs: ReturnType<typeof run>[]) =>
  JSON.stringify({
    total_count: runs.length,
    workflow_runs: [...runs].sort((a, b) => b.created_at.localeCompare(a.created_at)),
  });

describe('the GitHub target: finding the run of a dispatch', () => {
  it("lists the workflow's dispatched runs on its branch created since then, with its token", async () => {
    const finder = finderOf(
      targetOf({ BUILD_GITHUB_TOKEN: token, BUILD_GITHUB_REF: 'refs/heads/release' }),
    );
    const { url, headers } = await finder.request(since);
    const asked = new URL(url);
    expect(`${asked.origin}${asked.pathname}`).toBe(
      `${api}/repos/acme/images/actions/workflows/build.yml/runs`,
    );
    expect(Object.fromEntries(asked.searchParams)).toEqual({
      event: 'workflow_dispatch',
      branch: 'release',
      // GitHub's search takes whole seconds: the second `since` falls in.
      created: '>=2026-11-26T12:00:00Z',
      per_page: expect.any(String),
    });
    expect(headers).toMatchObject({
      authorization: `Bearer ${token}`,
      accept: 'application/vnd.github+json',
    });
  });

  const finder = finderOf(targetOf({ BUILD_GITHUB_TOKEN: token }));
  const none = new Set<string>();

  it('takes the earliest run created since then whose title names the tag', () => {
    const body = listOf(
      run(13, 'build step-1', 20),
      run(12, 'build step-2', 10),
      run(14, 'build step-1', 30),
    );
    expect(finder.read(body, 'step-1', since, none)).toEqual({
      id: '13',
      url: 'https://github.com/acme/images/actions/runs/13',
      state: 'queued',
    });
    expect(finder.read(body, 'step-2', since, none)?.id).toBe('12');
  });

  it('reads the state of the run it finds', () => {
    const body = listOf(
      run(13, 'build step-1', 20, { status: 'completed', conclusion: 'failure' }),
    );
    expect(finder.read(body, 'step-1', since, none)?.state).toBe('failure');
  });

  it("leaves out the runs other nodes' builds already took", () => {
    const body = listOf(run(13, 'build step-1', 20), run(14, 'build step-1', 30));
    expect(finder.read(body, 'step-1', since, new Set(['13']))?.id).toBe('14');
    expect(finder.read(body, 'step-1', since, new Set(['13', '14']))).toBeUndefined();
  });

  it('leaves out runs of other branches, of other events, and runs from before', () => {
    const body = listOf(
      run(11, 'build step-1', -5),
      run(12, 'build step-1', 5, { head_branch: 'feature' }),
      run(13, 'build step-1', 6, { event: 'push' }),
      run(14, 'build step-1', 7, { event: 'schedule' }),
      run(15, 'build step-1', 40),
    );
    expect(finder.read(body, 'step-1', since, none)?.id).toBe('15');
  });

  it('does not take a tag that is only part of a word of the title', () => {
    const body = listOf(run(13, 'build step-10', 20), run(14, 'build step-1 (again)', 30));
    expect(finder.read(body, 'step-1', since, none)?.id).toBe('14');
  });

  it('takes the one run there is when no title names the tag (a workflow without run-name)', () => {
    expect(finder.read(listOf(run(13, 'build', 20)), 'step-1', since, none)?.id).toBe('13');
    // A run that names another tag is still the only candidate.
    expect(
      finder.read(listOf(run(13, 'build', 20), run(11, 'build', -30)), 'step-1', since, none)?.id,
    ).toBe('13');
  });

  it('takes none among several runs when no title names the tag: it cannot tell which', () => {
    const body = listOf(run(13, 'build', 20), run(14, 'build', 30));
    expect(finder.read(body, 'step-1', since, none)).toBeUndefined();
  });

  it.each([
    ['no run at all', listOf()],
    ['only older runs', listOf(run(11, 'build step-1', -1))],
    ['a body that is not a list of runs', '{"message":"Not Found"}'],
    ['a body that is not JSON', '<html>unicorn</html>'],
    ['runs without ids', JSON.stringify({ workflow_runs: [{ display_title: 'step-1' }] })],
  ])('finds none in %s', (_what, body) => {
    expect(finder.read(body, 'step-1', since, none)).toBeUndefined();
  });
});

/** A stand-in for the App's tokens: each call gives a new token, and what was asked is kept. */
function stubTokens() {
  const asked: { app: GitHubApp; repository: string }[] = [];
  const refused: string[] = [];
  let made = 0;
  const appTokens = (app: GitHubApp): AppTokens => ({
    tokenFor: async (repository) => {
      asked.push({ app, repository });
      return `ghs_stub${++made}`;
    },
    refused: (_repository, given) => refused.push(given),
    secrets: () => Array.from({ length: made }, (_, i) => `ghs_stub${i + 1}`),
  });
  return { appTokens, asked, refused };
}

const appEnv = { GITHUB_APP_ID: APP_ID, GITHUB_APP_PRIVATE_KEY: pair.privateKeyPem };

describe('the GitHub target with a GitHub App', () => {
  it("dispatches with a token of the App's installation on the repository", async () => {
    const stub = stubTokens();
    const target = targetOf(appEnv, stub.appTokens);
    const request = await target.request('step-1');
    expect(request.url).toBe(`${api}${dispatches}`);
    expect(request.headers.authorization).toBe('Bearer ghs_stub1');
    expect(stub.asked).toEqual([
      {
        app: { appId: APP_ID, privateKey: pair.privateKeyPem, apiUrl: api },
        repository: 'acme/images',
      },
    ]);
    // The token it was given is scrubbed like any secret of the target.
    expect(target.secrets).toContain('ghs_stub1');
    // Reading and finding runs go with the App's tokens too.
    const found = await finderOf(target).request(since);
    expect(found.headers.authorization).toBe('Bearer ghs_stub2');
  });

  it('sends BUILD_GITHUB_TOKEN when it is set too, and never asks the App', async () => {
    const stub = stubTokens();
    const target = targetOf({ ...appEnv, BUILD_GITHUB_TOKEN: token }, stub.appTokens);
    expect((await target.request('step-1')).headers.authorization).toBe(`Bearer ${token}`);
    expect((await finderOf(target).request(since)).headers.authorization).toBe(`Bearer ${token}`);
    expect(stub.asked).toEqual([]);
  });

  it("gives up a token GitHub refused (401) and is asked again; BUILD_GITHUB_TOKEN's 401 is final", async () => {
    const stub = stubTokens();
    const target = targetOf(appEnv, stub.appTokens);
    await target.request('step-1');
    expect(target.refusal(401)).toEqual({ retry: true, reason: expect.stringContaining('401') });
    expect(stub.refused).toEqual(['ghs_stub1']);
    const plain = targetOf({ BUILD_GITHUB_TOKEN: token });
    await plain.request('step-1');
    expect(plain.refusal(401)).toMatchObject({ retry: false });
  });
});

const retry: RetryPolicy = {
  initialDelay: 1000,
  maxDelay: 4000,
  giveUpAfter: 20_000,
  timeout: 5000,
};

/**
 * The App's token endpoints of `app`, answered through a MockAgent; the dispatch endpoint
 * answers `dispatch(nth, authorization)`.
 */
function appAgent(app: FakeGitHubApp, dispatch: (nth: number, authorization: string) => number) {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const pool = agent.get(api);
  pool
    .intercept({
      path: /^\/(repos\/[^/]+\/[^/]+\/installation|app\/installations\/\d+\/access_tokens)$/,
      method: (method) => method === 'GET' || method === 'POST',
    })
    .reply((options) => {
      const answer = { status: 500, headers: {} as Record<string, string>, body: '' };
      const res = {
        writeHead(status: number, headers: Record<string, string>) {
          answer.status = status;
          answer.headers = headers;
          return res;
        },
        end(body: string) {
          answer.body = body;
        },
      };
      const headers = Object.fromEntries(
        Object.entries((options.headers ?? {}) as Record<string, string>).map(([k, v]) => [
          k.toLowerCase(),
          v,
        ]),
      );
      const taken = app.handle(
        { method: options.method, path: options.path, headers, body: String(options.body ?? '') },
        res as unknown as ServerResponse,
      );
      return taken
        ? {
            statusCode: answer.status,
            data: answer.body,
            responseOptions: { headers: answer.headers },
          }
        : { statusCode: 404, data: '{"message":"Not Found"}' };
    })
    .persist();
  const authorizations: string[] = [];
  pool
    .intercept({ path: dispatches, method: 'POST' })
    .reply((options) => {
      const authorization = String(
        (options.headers as Record<string, string> | undefined)?.authorization ?? '',
      );
      authorizations.push(authorization);
      return { statusCode: dispatch(authorizations.length, authorization), data: '' };
    })
    .persist();
  return { agent, authorizations };
}

/** triggerTag on the App's target, its waits taken at once. */
function triggerWithApp(dispatch: (nth: number, authorization: string) => number) {
  const app = createFakeGitHubApp({
    appId: APP_ID,
    publicKey: pair.publicKey,
    installations: { 'acme/images': 77 },
  });
  const { agent, authorizations } = appAgent(app, dispatch);
  const logs = captureLogs();
  const appTokens = shareAppTokens({
    dispatcher: agent,
    clock: Date,
    timeout: 5000,
    log: logs.log,
  });
  const target = targetOf(appEnv, appTokens);
  let clock = 0;
  const waits: number[] = [];
  const trigger = () =>
    triggerTag('step-1', {
      target,
      log: logs.log,
      dryRun: false,
      retry,
      dispatcher: agent,
      clock: {
        now: () => clock,
        random: () => 0.5,
        sleep: async (ms: number) => {
          waits.push(ms);
          clock += ms;
        },
      },
    });
  return { app, trigger, authorizations, logs, waits, target };
}

describe('triggerTag on the GitHub target with a GitHub App', () => {
  it('dispatches with an installation token that GitHub made, and keeps it for the next one', async () => {
    const t = triggerWithApp(() => 204);
    expect(await t.trigger()).toMatchObject({ ok: true, attempts: 1, status: 204 });
    expect(await t.trigger()).toMatchObject({ ok: true, attempts: 1 });
    expect(t.app.tokens).toHaveLength(1);
    const made = t.app.tokens[0]?.token as string;
    expect(t.authorizations).toEqual([`Bearer ${made}`, `Bearer ${made}`]);
    expect(t.logs.text()).not.toContain(made);
  });

  it('makes a new token when GitHub refuses one before its hour is up (401), and the dispatch goes', async () => {
    const t = triggerWithApp((_nth, authorization) => {
      const given = authorization.replace(/^Bearer /, '');
      return t.app.isValid(given) ? 204 : 401;
    });
    // The App was reinstalled, say: the token it had is no longer taken.
    expect(await t.trigger()).toMatchObject({ ok: true, attempts: 1 });
    t.app.expire(t.app.tokens[0]?.token as string);
    const outcome = await t.trigger();
    expect(outcome).toMatchObject({ ok: true, dryRun: false, status: 204, attempts: 2 });
    const [first, second] = t.app.tokens.map((made) => made.token);
    expect(t.app.tokens).toHaveLength(2);
    expect(t.authorizations).toEqual([`Bearer ${first}`, `Bearer ${first}`, `Bearer ${second}`]);
    const retried = t.logs.entries().filter((line) => /retrying/.test(String(line.msg)));
    expect(retried).toEqual([
      expect.objectContaining({
        level: 40,
        status: 401,
        msg: expect.stringContaining('making a new one'),
      }),
    ]);
    for (const made of [first, second]) expect(t.logs.text()).not.toContain(made as string);
  });

  it('gives up, as any retry does, when every new token is refused, with no token in what it says', async () => {
    const t = triggerWithApp(() => 401);
    const outcome = await t.trigger();
    expect(outcome.ok).toBe(false);
    expect(outcome.status).toBe(401);
    expect(outcome.reason).toContain(`GitHub App ${APP_ID}`);
    expect(t.authorizations.length).toBeGreaterThan(1);
    // Each attempt was made with a token made for it.
    expect(new Set(t.authorizations).size).toBe(t.authorizations.length);
    const text = `${t.logs.text()}${JSON.stringify(outcome)}`;
    for (const made of t.app.tokens) expect(text).not.toContain(made.token);
    expect(text).not.toContain(pair.privateKeyPem.split('\n')[1] as string);
  });
});
