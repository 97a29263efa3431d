import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, errors, MockAgent } from 'undici';
import {
  createHubApi,
  HubApiError,
  type HubApiDeps,
} from '../../../webapp/registry/create-hub-api';
import { startHostileServer } from '../../helpers/hostile-server';
import { captureLogs } from '../../helpers/logs';

const HUB = 'https://hub.docker.com';
const TAGS = '/v2/namespaces/acme/repositories/app/tags';
const TOKEN = 'dckr_pat_S3CRET-token';
const BEARER = 'eyJ-bearer-SECRET-1';

function tag(name: string, pushed: string | null, extra: Record<string, unknown> = {}) {
  return {
    name,
    tag_last_pushed: pushed,
    last_updated: '2026-11-20T00:00:00.000000Z',
    digest: `sha256:${name}`,
    ...extra,
  };
}

type Overrides = Partial<HubApiDeps> & { now?: () => number; random?: () => number };

function setup({ now, random, ...overrides }: Overrides = {}) {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const logs = captureLogs();
  let clock = 1_000_000;
  const waits: number[] = [];
  const api = createHubApi({
    baseUrl: HUB,
    dispatcher: agent,
    timeout: 5000,
    retries: { initialDelay: 1000, maxDelay: 8000, giveUpAfter: 60_000 },
    log: logs.log,
    clock: {
      now: now ?? (() => clock),
      random: random ?? (() => 0.5),
      sleep: async (ms) => {
        waits.push(ms);
        clock += ms;
      },
    },
    ...overrides,
  });
  return { agent, hub: agent.get(HUB), logs, waits, api };
}

async function failure(promise: Promise<unknown>): Promise<HubApiError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(HubApiError);
    return err as HubApiError;
  }
  throw new Error('expected a failure');
}

describe('createHubApi, public repositories', () => {
  it('lists the tags of every page, following next', async () => {
    const { agent, hub, api } = setup();
    hub.intercept({ path: `${TAGS}?page_size=100` }).reply(200, {
      count: 3,
      next: `${HUB}${TAGS}?page=2&page_size=100`,
      previous: null,
      results: [tag('init', '2026-11-26T10:00:00.123456Z'), tag('step-1', null)],
    });
    hub.intercept({ path: `${TAGS}?page=2&page_size=100` }).reply(200, {
      count: 3,
      next: null,
      previous: `${HUB}${TAGS}?page=1&page_size=100`,
      results: [tag('latest', '2026-11-26T11:00:00Z', { digest: null })],
    });
    expect(await api.listTags('acme', 'app')).toEqual({
      tags: [
        { name: 'init', pushedAt: Date.parse('2026-11-26T10:00:00.123Z'), digest: 'sha256:init' },
        { name: 'step-1', pushedAt: Date.parse('2026-11-20T00:00:00Z'), digest: 'sha256:step-1' },
        { name: 'latest', pushedAt: Date.parse('2026-11-26T11:00:00Z'), digest: undefined },
      ],
      skipped: [],
    });
    agent.assertNoPendingInterceptors();
  });

  it('sends no authorization without a user and token', async () => {
    const { hub, api } = setup({ user: 'acme' });
    let authorization: unknown = 'unset';
    hub.intercept({ path: `${TAGS}/init` }).reply(200, (options) => {
      authorization = (options.headers as Record<string, string>).authorization;
      return tag('init', '2026-11-26T10:00:00Z');
    });
    expect(await api.getTag('acme', 'app', 'init')).toMatchObject({ name: 'init' });
    expect(authorization).toBeUndefined();
  });

  it('does not follow a next page on another site', async () => {
    const { hub, api } = setup();
    hub.intercept({ path: `${TAGS}?page_size=100` }).reply(200, {
      next: 'https://evil.example/v2/steal?page=2',
      results: [],
    });
    const err = await failure(api.listTags('acme', 'app'));
    expect(err.kind).toBe('bad-answer');
    expect(err.message).toContain('another site');
  });

  it('stops after the page cap', async () => {
    const { hub, api } = setup({ maxPages: 2 });
    hub
      .intercept({ path: (path) => path.startsWith(TAGS) })
      .reply(200, { next: `${HUB}${TAGS}?page=9`, results: [] })
      .times(2);
    const err = await failure(api.listTags('acme', 'app'));
    expect(err).toMatchObject({ kind: 'bad-answer' });
    expect(err.message).toContain('more than 2 pages');
  });

  it('reads one tag, and says not-found for a missing one', async () => {
    const { hub, api } = setup();
    hub.intercept({ path: `${TAGS}/step-1` }).reply(200, tag('step-1', '2026-11-26T10:00:00Z'));
    hub.intercept({ path: `${TAGS}/nope` }).reply(404, { message: 'object not found' });
    expect(await api.getTag('acme', 'app', 'step-1')).toEqual({
      name: 'step-1',
      pushedAt: Date.parse('2026-11-26T10:00:00Z'),
      digest: 'sha256:step-1',
    });
    const err = await failure(api.getTag('acme', 'app', 'nope'));
    expect(err).toMatchObject({ kind: 'not-found', status: 404 });
    expect(err.message).toBe('reading acme/app:nope: no such repository or tag (HTTP 404)');
  });

  it.each([
    ['not JSON', 'hello'],
    ['no results', { next: null }],
    ['results that are no list', { results: { name: 'x' } }],
  ])('calls a malformed answer bad-answer (%s)', async (_what, body) => {
    const { hub, api } = setup();
    hub.intercept({ path: `${TAGS}?page_size=100` }).reply(200, body);
    expect(await failure(api.listTags('acme', 'app'))).toMatchObject({ kind: 'bad-answer' });
  });

  it('skips a tag that cannot be read, and still lists the others', async () => {
    const { hub, api } = setup();
    hub.intercept({ path: `${TAGS}?page_size=100` }).reply(200, {
      next: null,
      results: [
        { name: 'nightly', tag_last_pushed: 'yesterday' },
        tag('init', '2026-11-26T10:00:00Z'),
        { name: 'old', tag_last_pushed: null, last_updated: null },
        42,
      ],
    });
    const listed = await api.listTags('acme', 'app');
    expect(listed.tags.map((t) => t.name)).toEqual(['init']);
    expect(listed.skipped).toEqual([
      { name: 'nightly', reason: expect.stringContaining('not a date') },
      { name: 'old', reason: expect.stringContaining('no tag_last_pushed') },
      { name: null, reason: expect.any(String) },
    ]);
  });

  it('says a 401 without a login needs credentials', async () => {
    const { hub, api } = setup();
    hub.intercept({ path: `${TAGS}/init` }).reply(401, {});
    const err = await failure(api.getTag('acme', 'app', 'init'));
    expect(err).toMatchObject({ kind: 'unauthorized', status: 401 });
    expect(err.message).toContain('needs a user and access token');
  });
});

describe('createHubApi, retries', () => {
  it('retries 5xx with doubling equal-jitter waits, then succeeds', async () => {
    const { hub, api, waits, logs } = setup();
    hub
      .intercept({ path: `${TAGS}/init` })
      .reply(503, 'busy')
      .times(3);
    hub.intercept({ path: `${TAGS}/init` }).reply(200, tag('init', '2026-11-26T10:00:00Z'));
    expect(await api.getTag('acme', 'app', 'init')).toMatchObject({ name: 'init' });
    // random() = 0.5: half fixed + a quarter = 3/4 of 1000, 2000, 4000
    expect(waits).toEqual([750, 1500, 3000]);
    // each retry is detail: the caller says once per outage that Docker Hub cannot be read
    expect(logs.entries().map((line) => line.level)).toEqual([20, 20, 20]);
  });

  it('caps the wait at maxDelay and gives up after giveUpAfter as a server failure', async () => {
    const { hub, api, waits, logs } = setup({
      retries: { initialDelay: 1000, maxDelay: 4000, giveUpAfter: 12_000 },
      random: () => 1,
    });
    hub
      .intercept({ path: `${TAGS}/init` })
      .reply(502, '')
      .persist();
    const err = await failure(api.getTag('acme', 'app', 'init'));
    expect(waits).toEqual([1000, 2000, 4000, 4000]);
    expect(err).toMatchObject({ kind: 'server', status: 502 });
    expect(err.message).toBe('reading acme/app:init failed after 5 attempt(s): HTTP 502');
    expect(logs.entries().at(-1)).toMatchObject({ level: 20, msg: err.message });
  });

  it('retries network errors and calls them unreachable when it gives up', async () => {
    const { hub, api, waits } = setup({
      retries: { initialDelay: 1000, maxDelay: 1000, giveUpAfter: 1000 },
    });
    hub
      .intercept({ path: `${TAGS}/init` })
      .replyWithError(new Error('ECONNRESET'))
      .times(2);
    const err = await failure(api.getTag('acme', 'app', 'init'));
    expect(waits).toEqual([750]);
    expect(err.kind).toBe('unreachable');
    expect(err.status).toBeUndefined();
    expect(err.message).toContain('ECONNRESET');
  });

  it('treats a headers timeout as unreachable and retries it', async () => {
    const { hub, api } = setup();
    hub
      .intercept({ path: `${TAGS}/init` })
      .replyWithError(new errors.HeadersTimeoutError('Headers Timeout Error'));
    hub.intercept({ path: `${TAGS}/init` }).reply(200, tag('init', '2026-11-26T10:00:00Z'));
    expect(await api.getTag('acme', 'app', 'init')).toMatchObject({ name: 'init' });
  });

  it('waits what Retry-After says on 429', async () => {
    const { hub, api, waits } = setup();
    hub.intercept({ path: `${TAGS}/init` }).reply(429, '', { headers: { 'retry-after': '30' } });
    hub.intercept({ path: `${TAGS}/init` }).reply(200, tag('init', '2026-11-26T10:00:00Z'));
    expect(await api.getTag('acme', 'app', 'init')).toMatchObject({ name: 'init' });
    expect(waits).toEqual([30_000]);
  });

  it('waits at least the backoff when a 429 asks for no wait at all', async () => {
    const { hub, api, waits } = setup();
    hub
      .intercept({ path: `${TAGS}/init` })
      .reply(429, '', { headers: { 'retry-after': '0' } })
      .times(2);
    hub.intercept({ path: `${TAGS}/init` }).reply(200, tag('init', '2026-11-26T10:00:00Z'));
    await api.getTag('acme', 'app', 'init');
    expect(waits).toEqual([750, 1500]);
  });

  it('falls back to X-RateLimit-Reset on 429', async () => {
    const { hub, api, waits } = setup({ now: () => 1_000_000 });
    hub
      .intercept({ path: `${TAGS}/init` })
      .reply(429, '', { headers: { 'x-ratelimit-reset': '1010' } });
    hub.intercept({ path: `${TAGS}/init` }).reply(200, tag('init', '2026-11-26T10:00:00Z'));
    await api.getTag('acme', 'app', 'init');
    expect(waits).toEqual([10_000]);
  });

  it('keeps a Retry-After beyond its budget for the calls after it, then asks again', async () => {
    let clock = 1_000_000;
    const { hub, api, waits } = setup({ now: () => clock });
    hub.intercept({ path: `${TAGS}/init` }).reply(429, '', { headers: { 'retry-after': '3600' } });
    expect(await failure(api.getTag('acme', 'app', 'init'))).toMatchObject({ kind: 'throttled' });
    // Ten more calls within the hour send nothing: MockAgent would fail on an unplanned request.
    for (let call = 0; call < 10; call++) {
      clock += 1000;
      const err = await failure(api.getTag('acme', 'app', 'init'));
      expect(err).toMatchObject({ kind: 'throttled', status: 429 });
      expect(err.message).toContain('not asked again before then');
    }
    clock = 1_000_000 + 3600_000;
    hub.intercept({ path: `${TAGS}/init` }).reply(200, tag('init', '2026-11-26T10:00:00Z'));
    expect(await api.getTag('acme', 'app', 'init')).toMatchObject({ name: 'init' });
    expect(waits).toEqual([]);
  });

  it('fails as throttled when Retry-After is beyond giveUpAfter, without waiting', async () => {
    const { hub, api, waits } = setup();
    hub.intercept({ path: `${TAGS}/init` }).reply(429, '', { headers: { 'retry-after': '3600' } });
    const err = await failure(api.getTag('acme', 'app', 'init'));
    expect(waits).toEqual([]);
    expect(err).toMatchObject({ kind: 'throttled', status: 429 });
    expect(err.message).toContain('asks to wait 3600000 ms');
  });
});

describe('createHubApi, private repositories', () => {
  function login(hub: ReturnType<typeof setup>['hub'], bearer: string, bodies: string[] = []) {
    hub.intercept({ method: 'POST', path: '/v2/auth/token' }).reply(200, (options) => {
      bodies.push(String(options.body));
      return { access_token: bearer };
    });
  }

  function expectBearer(hub: ReturnType<typeof setup>['hub'], bearer: string, status = 200) {
    hub
      .intercept({ path: `${TAGS}/init`, headers: { authorization: `Bearer ${bearer}` } })
      .reply(status, status === 200 ? tag('init', '2026-11-26T10:00:00Z') : {});
  }

  it('logs in once with the token and sends the bearer on every request', async () => {
    const { agent, hub, api } = setup({ user: 'acme', token: TOKEN });
    const bodies: string[] = [];
    login(hub, BEARER, bodies);
    expectBearer(hub, BEARER);
    expectBearer(hub, BEARER);
    await api.getTag('acme', 'app', 'init');
    await api.getTag('acme', 'app', 'init');
    expect(bodies.map((body) => JSON.parse(body))).toEqual([{ identifier: 'acme', secret: TOKEN }]);
    agent.assertNoPendingInterceptors();
  });

  it('logs in again once when the cached bearer is refused', async () => {
    const { agent, hub, api, logs } = setup({ user: 'acme', token: TOKEN });
    login(hub, BEARER);
    expectBearer(hub, BEARER);
    expectBearer(hub, BEARER, 401);
    login(hub, 'eyJ-bearer-SECRET-2');
    expectBearer(hub, 'eyJ-bearer-SECRET-2');
    await api.getTag('acme', 'app', 'init');
    expect(await api.getTag('acme', 'app', 'init')).toMatchObject({ name: 'init' });
    agent.assertNoPendingInterceptors();
    expect(logs.text()).toContain('logging in again');
  });

  it('does not loop when a fresh bearer is refused', async () => {
    const { agent, hub, api } = setup({ user: 'acme', token: TOKEN });
    login(hub, BEARER);
    expectBearer(hub, BEARER, 403);
    const err = await failure(api.getTag('acme', 'app', 'init'));
    expect(err).toMatchObject({ kind: 'unauthorized', status: 403 });
    expect(err.message).toContain('the login of acme may not read it');
    agent.assertNoPendingInterceptors();
  });

  it('says a refused login is unauthorized, and tries to log in again next time', async () => {
    const { hub, api } = setup({ user: 'acme', token: TOKEN });
    hub.intercept({ method: 'POST', path: '/v2/auth/token' }).reply(401, { detail: TOKEN });
    const err = await failure(api.getTag('acme', 'app', 'init'));
    expect(err).toMatchObject({ kind: 'unauthorized', status: 401 });
    expect(err.message).toBe(
      'Docker Hub refused the login of acme (HTTP 401): check the user and its access token',
    );
    login(hub, BEARER);
    expectBearer(hub, BEARER);
    expect(await api.getTag('acme', 'app', 'init')).toMatchObject({ name: 'init' });
  });

  it('never lets the token or the bearer reach an error or a log line', async () => {
    const { hub, api, logs } = setup({
      user: 'acme',
      token: TOKEN,
      retries: { initialDelay: 1000, maxDelay: 1000, giveUpAfter: 2500 },
    });
    login(hub, BEARER);
    hub
      .intercept({ path: `${TAGS}/init` })
      .replyWithError(new Error(`socket hang up, sent ${TOKEN} and Bearer ${BEARER}`))
      .persist();
    const err = await failure(api.getTag('acme', 'app', 'init'));
    expect(err.kind).toBe('unreachable');
    expect(err.message).toContain('***');
    const everything = `${err.message} ${err.stack} ${JSON.stringify(err)} ${logs.text()}`;
    expect(everything).not.toContain(TOKEN);
    expect(everything).not.toContain(BEARER);
    expect(logs.entries().length).toBeGreaterThan(2);
  });
});

describe('createHubApi over a real socket', () => {
  it('gives up on an answer that never comes within the timeout', async () => {
    const server = createServer(() => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const dispatcher = new Agent();
    try {
      const { port } = server.address() as AddressInfo;
      const { api, waits } = setup({
        baseUrl: `http://127.0.0.1:${port}`,
        dispatcher,
        timeout: 100,
        retries: { initialDelay: 1000, maxDelay: 1000, giveUpAfter: 0 },
      });
      const err = await failure(api.getTag('acme', 'app', 'init'));
      expect(err.kind).toBe('unreachable');
      expect(err.message).toMatch(/timeout/i);
      expect(waits).toEqual([]);
    } finally {
      await dispatcher.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('gives up on a body that trickles in, within the timeout of each attempt', async () => {
    const server = await startHostileServer({ kind: 'trickle', status: 200, every: 100 });
    const dispatcher = new Agent();
    try {
      const { api } = setup({
        baseUrl: server.url,
        dispatcher,
        timeout: 500,
        retries: { initialDelay: 1000, maxDelay: 1000, giveUpAfter: 0 },
      });
      const started = Date.now();
      const err = await failure(api.listTags('acme', 'app'));
      expect(Date.now() - started).toBeLessThan(1500);
      expect(err).toMatchObject({ kind: 'unreachable' });
      expect(err.message).toContain('did not arrive within 500 ms');
    } finally {
      await dispatcher.destroy();
      await server.close();
    }
  });

  it('refuses a tags page larger than its cap at once, without retrying', async () => {
    const server = await startHostileServer({
      kind: 'huge',
      status: 200,
      bytes: 52 * 1024 * 1024,
      declared: false,
    });
    const dispatcher = new Agent();
    try {
      const { api, waits } = setup({ baseUrl: server.url, dispatcher, timeout: 10_000 });
      const err = await failure(api.listTags('acme', 'app'));
      expect(err).toMatchObject({ kind: 'too-large' });
      expect(err.message).toBe(
        'listing the tags of acme/app: the answer is larger than 4 MiB, refused',
      );
      expect(waits).toEqual([]);
      expect(server.requests).toHaveLength(1);
    } finally {
      await dispatcher.destroy();
      await server.close();
    }
  });

  it('stops a hung read at once when its signal aborts (shutdown)', async () => {
    const server = await startHostileServer({ kind: 'hang' });
    const dispatcher = new Agent();
    const shutdown = new AbortController();
    try {
      const { api } = setup({
        baseUrl: server.url,
        dispatcher,
        timeout: 30_000,
        signal: shutdown.signal,
      });
      const started = Date.now();
      setTimeout(() => shutdown.abort(), 200);
      const err = await failure(api.listTags('acme', 'app'));
      expect(err).toMatchObject({ kind: 'aborted' });
      expect(Date.now() - started).toBeLessThan(1200);
    } finally {
      await dispatcher.destroy();
      await server.close();
    }
  });
});
