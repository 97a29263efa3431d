import { Agent, MockAgent } from 'undici';
import { loadConfig } from '../../../webapp/config';
import { createTarget } from '../../../webapp/builds/targets/create-target';
import { triggerTag } from '../../../webapp/builds/trigger-tag';
import { backoffDelay } from '../../../webapp/timing/next-retry-wait';
import type { RetryPolicy } from '../../../webapp/types';
import { startHostileServer } from '../../helpers/hostile-server';
import { captureLogs } from '../../helpers/logs';

const token = 'S3CRET-tok3n';
const retry: RetryPolicy = {
  initialDelay: 2000,
  maxDelay: 60_000,
  giveUpAfter: 600_000,
  timeout: 5000,
};

function setup(env: Record<string, string> = {}) {
  const config = loadConfig({ DOCKERHUB_TRIGGER_TOKEN: token, ...env });
  const agent = new MockAgent();
  agent.disableNetConnect();
  const logs = captureLogs();
  let clock = 0;
  const waits: number[] = [];
  const deps = {
    target: createTarget(config.target, config),
    log: logs.log,
    dryRun: config.dryRun,
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
  };
  return { agent, logs, deps, waits };
}

describe('triggerTag on Docker Hub', () => {
  it('POSTs {"docker_tag": tag} to the legacy trigger URL', async () => {
    const { agent, logs, deps } = setup();
    let body = '';
    agent
      .get('https://registry.hub.docker.com')
      .intercept({
        method: 'POST',
        path: `/u/maddouri/void-docker/trigger/${token}/`,
        headers: { 'content-type': 'application/json' },
        body: (text) => ((body = text), true),
      })
      .reply(200, { state: 'Success' });
    const outcome = await triggerTag('step-1', deps);
    expect(outcome).toEqual({ ok: true, dryRun: false, attempts: 1, status: 200 });
    expect(JSON.parse(body)).toEqual({ docker_tag: 'step-1' });
    agent.assertNoPendingInterceptors();
    const [line] = logs.entries();
    expect(line).toMatchObject({
      level: 30,
      tag: 'step-1',
      status: 200,
      attempt: 1,
      target: 'https://registry.hub.docker.com/u/maddouri/void-docker/trigger/***/',
    });
    expect(logs.text()).not.toContain(token);
  });

  it('uses DOCKERHUB_TRIGGER_URL when set, and hides its token', async () => {
    const { agent, logs, deps } = setup({
      DOCKERHUB_TRIGGER_URL:
        'https://hub.docker.com/api/build/v1/source/1234-abcd/trigger/tok-in-url/call/',
    });
    agent
      .get('https://hub.docker.com')
      .intercept({
        method: 'POST',
        path: '/api/build/v1/source/1234-abcd/trigger/tok-in-url/call/',
      })
      .reply(202, {});
    expect(await triggerTag('init', deps)).toMatchObject({ ok: true, status: 202 });
    expect(logs.text()).not.toContain('tok-in-url');
    expect(logs.text()).toContain('/trigger/***/call/');
  });

  it.each([
    [
      'user info',
      'https://hub-user:url-secret@proxy.example/build/',
      'https://***:***@proxy.example/***/',
    ],
    [
      'a token in the query',
      'https://proxy.example/build?token=url-secret',
      'https://proxy.example/***?token=***',
    ],
  ])('never logs a DOCKERHUB_TRIGGER_URL with %s, in any attempt', async (_shape, url, shown) => {
    const { agent, logs, deps } = setup({ DOCKERHUB_TRIGGER_URL: url });
    const pool = agent.get('https://proxy.example');
    pool.intercept({ method: 'POST', path: /build/ }).replyWithError(new Error(`refused ${url}`));
    pool.intercept({ method: 'POST', path: /build/ }).reply(500, 'url-secret');
    pool.intercept({ method: 'POST', path: /build/ }).reply(401, {});
    const outcome = await triggerTag('init', deps);
    expect(outcome).toMatchObject({ ok: false, attempts: 3 });
    expect(logs.entries().map((line) => line.target)).toEqual([shown, shown, shown]);
    expect(`${logs.text()}${JSON.stringify(outcome)}`).not.toMatch(/url-secret|hub-user/);
  });

  it('logs a dry run and sends nothing without a token', async () => {
    const { agent, logs, deps } = setup();
    const outcome = await triggerTag('init', { ...deps, dryRun: true });
    expect(outcome).toEqual({ ok: true, dryRun: true, attempts: 0 });
    expect(logs.entries()[0]).toMatchObject({
      level: 40,
      tag: 'init',
      msg: 'dry run: would trigger init',
    });
    agent.assertNoPendingInterceptors();
  });

  it('retries 5xx, 429 and network errors with growing waits, then succeeds', async () => {
    const { agent, logs, deps, waits } = setup();
    const hub = agent.get('https://registry.hub.docker.com');
    const path = `/u/maddouri/void-docker/trigger/${token}/`;
    hub.intercept({ method: 'POST', path }).reply(503, 'down');
    hub.intercept({ method: 'POST', path }).reply(429, 'slow down');
    hub.intercept({ method: 'POST', path }).replyWithError(new Error(`boom at ${path}`));
    hub.intercept({ method: 'POST', path }).reply(200, {});
    const outcome = await triggerTag('step-2', deps);
    expect(outcome).toMatchObject({ ok: true, attempts: 4 });
    expect(waits).toEqual([1500, 3000, 6000]);
    const lines = logs.entries();
    expect(lines.map((line) => line.attempt)).toEqual([1, 2, 3, 4]);
    expect(lines.map((line) => line.level)).toEqual([40, 40, 40, 30]);
    expect(lines[2]?.msg).toMatch(/boom at .*\/trigger\/\*\*\*\//);
    expect(logs.text()).not.toContain(token);
  });

  it('does not retry a 4xx other than 429, and names the likely cause', async () => {
    const { agent, logs, deps, waits } = setup();
    agent
      .get('https://registry.hub.docker.com')
      .intercept({ method: 'POST', path: `/u/maddouri/void-docker/trigger/${token}/` })
      .reply(404, 'nope');
    const outcome = await triggerTag('init', deps);
    expect(outcome).toMatchObject({ ok: false, attempts: 1, status: 404 });
    expect(waits).toEqual([]);
    expect(logs.entries()[0]).toMatchObject({ level: 50, status: 404 });
    expect(String(logs.entries()[0]?.msg)).toMatch(/token is wrong.*DOCKERHUB_TRIGGER_TOKEN/);
  });

  it('gives up once the next wait would pass the give-up time', async () => {
    const { agent, logs, deps, waits } = setup();
    const hub = agent.get('https://registry.hub.docker.com');
    hub
      .intercept({ method: 'POST', path: `/u/maddouri/void-docker/trigger/${token}/` })
      .reply(500, '')
      .persist();
    const outcome = await triggerTag('init', { ...deps, retry: { ...retry, giveUpAfter: 20_000 } });
    expect(outcome).toMatchObject({ ok: false, attempts: 4, status: 500 });
    expect(waits).toEqual([1500, 3000, 6000]);
    expect(logs.entries().at(-1)).toMatchObject({
      level: 50,
      msg: expect.stringMatching(/giving up after 4 attempt\(s\)/),
    });
  });

  it('stops at once when shut down while waiting to retry', async () => {
    const { agent, deps } = setup();
    agent
      .get('https://registry.hub.docker.com')
      .intercept({ method: 'POST', path: `/u/maddouri/void-docker/trigger/${token}/` })
      .reply(502, '');
    const outcome = await triggerTag('init', {
      ...deps,
      clock: {
        ...deps.clock,
        sleep: async () => {
          throw new Error('aborted');
        },
      },
    });
    expect(outcome).toMatchObject({ ok: false, aborted: true, attempts: 1 });
  });
});

describe('backoffDelay', () => {
  it('doubles from the initial delay up to the cap, with jitter in the upper half', () => {
    const at = (attempt: number, random: number) => backoffDelay(attempt, retry, () => random);
    expect([1, 2, 3, 4, 5, 6, 7].map((attempt) => at(attempt, 1))).toEqual([
      2000, 4000, 8000, 16000, 32000, 60000, 60000,
    ]);
    expect(at(1, 0)).toBe(1000);
    expect(at(10, 0)).toBe(30000);
  });
});

describe('triggerTag against a dispatch whose answer body trickles in', () => {
  const github = (url: string) => ({
    DOCKERHUB_TRIGGER_TOKEN: '',
    BUILD_TARGET: 'github',
    BUILD_GITHUB_API_URL: url,
    BUILD_GITHUB_REPOSITORY: 'acme/images',
    BUILD_GITHUB_WORKFLOW: 'build.yml',
    BUILD_GITHUB_TOKEN: 'ghp_trickleToken123',
  });

  it('counts the dispatch as sent once its status came, within the attempt timeout', async () => {
    const server = await startHostileServer({ kind: 'trickle', status: 200, every: 100 });
    const dispatcher = new Agent();
    try {
      const { deps, logs } = setup(github(server.url));
      const started = Date.now();
      const outcome = await triggerTag('step-1', {
        ...deps,
        dispatcher,
        retry: { ...retry, timeout: 600 },
      });
      expect(Date.now() - started).toBeLessThan(1600);
      expect(outcome).toMatchObject({ ok: true, attempts: 1, status: 200 });
      expect(outcome.run).toBeUndefined();
      expect(server.requests).toHaveLength(1);
      expect(logs.text()).toContain('came without its whole body (timeout)');
    } finally {
      await dispatcher.destroy();
      await server.close();
    }
  });

  it('counts it as sent, not owed, when shutdown cuts its body off', async () => {
    const server = await startHostileServer({ kind: 'trickle', status: 200, every: 100 });
    const dispatcher = new Agent();
    const shutdown = new AbortController();
    try {
      const { deps } = setup(github(server.url));
      setTimeout(() => shutdown.abort(), 300);
      const outcome = await triggerTag('step-1', {
        ...deps,
        dispatcher,
        signal: shutdown.signal,
        retry: { ...retry, timeout: 30_000 },
      });
      expect(outcome).toMatchObject({ ok: true, attempts: 1 });
      expect(outcome.aborted).toBeUndefined();
      expect(server.requests).toHaveLength(1);
    } finally {
      await dispatcher.destroy();
      await server.close();
    }
  });
});

describe("triggerTag and GitHub's rate limits", () => {
  const github = {
    BUILD_TARGET: 'github',
    BUILD_GITHUB_REPOSITORY: 'acme/images',
    BUILD_GITHUB_WORKFLOW: 'build.yml',
    BUILD_GITHUB_TOKEN: 'ghp_rateLimitToken0123',
  };
  const dispatch = {
    method: 'POST',
    path: '/repos/acme/images/actions/workflows/build.yml/dispatches',
  };

  it('retries a 403 that is a rate limit, after the wait GitHub asked for, instead of giving up', async () => {
    const { agent, deps, waits } = setup(github);
    const api = agent.get('https://api.github.com');
    api.intercept(dispatch).reply(
      403,
      { message: 'API rate limit exceeded' },
      {
        headers: { 'retry-after': '30', 'x-ratelimit-remaining': '0' },
      },
    );
    api.intercept(dispatch).reply(204, '');
    const outcome = await triggerTag('step-1', deps);
    expect(outcome).toMatchObject({ ok: true, attempts: 2 });
    expect(waits[0]).toBeGreaterThanOrEqual(30_000);
  });

  it("waits a 429's Retry-After before the next attempt", async () => {
    const { agent, deps, waits } = setup(github);
    const api = agent.get('https://api.github.com');
    api.intercept(dispatch).reply(429, '', { headers: { 'retry-after': '3' } });
    api.intercept(dispatch).reply(204, '');
    expect(await triggerTag('step-1', deps)).toMatchObject({ ok: true, attempts: 2 });
    expect(waits[0]).toBeGreaterThanOrEqual(3000);
  });

  it('still gives up at once on a 403 that is no rate limit', async () => {
    const { agent, deps } = setup(github);
    agent
      .get('https://api.github.com')
      .intercept(dispatch)
      .reply(403, { message: 'Resource not accessible' });
    expect(await triggerTag('step-1', deps)).toMatchObject({ ok: false, attempts: 1, status: 403 });
  });
});
