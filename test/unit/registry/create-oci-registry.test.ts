import { MockAgent } from 'undici';
import {
  createOciRegistry,
  RegistryError,
  type OciRegistryDeps,
  type RegistryImage,
} from '../../../webapp/registry/create-oci-registry';
import { readRegistryCredentials } from '../../../webapp/registry/read-registry-credentials';
import { captureLogs } from '../../helpers/logs';

const DIGEST = 'sha256:6457d53fb065d6f250e1504b9bc42d5b6c65941d57532c072d929dd0628977d0';
const OTHER = 'sha256:0c3b3c1b4b2e0bd6e8b5bd6b3a2b3f1b6fd1d6e2a8d7b6f3c1e2d3a4b5c6d7e8';
const PASSWORD = 'ghp_S3CRET-password';
const TOKEN = 'eyJ-registry-SECRET-token';
const SVC: RegistryImage = { registry: 'ghcr.io', name: 'acme/svc', tag: '1.2' };

interface Seen {
  origin: string;
  method: string;
  path: string;
  headers: Record<string, string>;
}

interface Reply {
  status: number;
  headers?: Record<string, string | string[]>;
  body?: string | object;
}

type Route = (request: Seen) => Reply;

function lowerHeaders(raw: unknown): Record<string, string> {
  const pairs: [string, string][] =
    raw instanceof Headers
      ? [...raw.entries()]
      : Array.isArray(raw)
        ? (raw as string[]).flatMap((value, index, all) =>
            index % 2 === 0 ? [[value, all[index + 1] as string] as [string, string]] : [],
          )
        : Object.entries((raw ?? {}) as Record<string, string>);
  return Object.fromEntries(pairs.map(([name, value]) => [name.toLowerCase(), String(value)]));
}

/** A registry made of one answering function per origin, every request kept. */
function setup(routes: Record<string, Route>, overrides: Partial<OciRegistryDeps> = {}) {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const seen: Seen[] = [];
  for (const [origin, route] of Object.entries(routes)) {
    agent
      .get(origin)
      .intercept({ path: () => true, method: () => true })
      .reply((options) => {
        const request = {
          origin,
          method: options.method,
          path: options.path,
          headers: lowerHeaders(options.headers),
        };
        seen.push(request);
        const reply = route(request);
        const body =
          reply.body === undefined || typeof reply.body === 'string'
            ? (reply.body ?? '')
            : JSON.stringify(reply.body);
        return {
          statusCode: reply.status,
          data: body,
          responseOptions: { headers: reply.headers ?? {} },
        };
      })
      .persist();
  }
  const logs = captureLogs();
  let now = 1_000_000;
  const waits: number[] = [];
  const registry = createOciRegistry({
    dispatcher: agent,
    timeout: 5000,
    log: logs.log,
    clock: {
      now: () => now,
      random: () => 0.5,
      sleep: async (ms) => {
        waits.push(ms);
        now += ms;
      },
    },
    credentialsFor: () => undefined,
    retries: { initialDelay: 1000, maxDelay: 8000, giveUpAfter: 20_000 },
    ...overrides,
  });
  return {
    registry,
    seen,
    logs,
    waits,
    advance: (ms: number) => {
      now += ms;
    },
    heads: () => seen.filter((request) => request.method === 'HEAD'),
    tokenRequests: () => seen.filter((request) => request.path.includes('/token')),
  };
}

async function failure(promise: Promise<unknown>): Promise<RegistryError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(RegistryError);
    return err as RegistryError;
  }
  throw new Error('expected a failure');
}

const found = (digest = DIGEST): Reply => ({
  status: 200,
  headers: {
    'docker-content-digest': digest,
    'content-type': 'application/vnd.oci.image.index.v1+json',
    'content-length': '9001',
  },
});

const challenge = (realm: string, scope = 'repository:acme/svc:pull'): Reply => ({
  status: 401,
  headers: {
    'www-authenticate': `Bearer realm="${realm}",service="ghcr.io",scope="${scope}"`,
  },
  body: '{"errors":[{"code":"UNAUTHORIZED"}]}',
});

/** ghcr.io as it is: anonymous HEADs are challenged, `valid` tokens are let in. */
function tokenRegistry(valid: (token: string) => boolean, issue: () => object) {
  return {
    'https://ghcr.io': (request: Seen): Reply => {
      if (request.method === 'GET' && request.path.startsWith('/token')) {
        return { status: 200, body: issue() };
      }
      const bearer = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
      if (bearer === undefined || !valid(bearer)) return challenge('https://ghcr.io/token');
      return found();
    },
  };
}

describe('createOciRegistry, reading a digest', () => {
  it('sends one HEAD, never a GET, accepting every index and manifest type, and reads the digest', async () => {
    const { registry, seen } = setup({ 'https://ghcr.io': () => found() });
    expect(await registry.readDigest(SVC)).toBe(DIGEST);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'HEAD', path: '/v2/acme/svc/manifests/1.2' });
    const accepted = (seen[0]?.headers.accept ?? '').split(',').map((type) => type.trim());
    expect(accepted).toEqual(
      expect.arrayContaining([
        'application/vnd.oci.image.index.v1+json',
        'application/vnd.oci.image.manifest.v1+json',
        'application/vnd.docker.distribution.manifest.list.v2+json',
        'application/vnd.docker.distribution.manifest.v2+json',
      ]),
    );
    expect(seen[0]?.headers.authorization).toBeUndefined();
  });

  it('reads a repository path of several parts', async () => {
    const { registry, seen } = setup({ 'https://quay.io': () => found() });
    const image = { registry: 'quay.io', name: 'team/group/svc', tag: 'v1' };
    expect(await registry.readDigest(image)).toBe(DIGEST);
    expect(seen[0]?.path).toBe('/v2/team/group/svc/manifests/v1');
  });

  it('reads Docker Hub at registry-1.docker.io, an official image under library/', async () => {
    const { registry, seen } = setup({ 'https://registry-1.docker.io': () => found() });
    await registry.readDigest({ registry: 'docker.io', name: 'alpine', tag: '3.20' });
    await registry.readDigest({ registry: 'index.docker.io', name: 'acme/base', tag: '1' });
    expect(seen.map((request) => `${request.origin}${request.path}`)).toEqual([
      'https://registry-1.docker.io/v2/library/alpine/manifests/3.20',
      'https://registry-1.docker.io/v2/acme/base/manifests/1',
    ]);
  });

  it('answers not-found for a 404, naming the image', async () => {
    const { registry } = setup({ 'https://ghcr.io': () => ({ status: 404 }) });
    const err = await failure(registry.readDigest(SVC));
    expect(err).toMatchObject({ kind: 'not-found', status: 404 });
    expect(err.message).toContain('ghcr.io/acme/svc:1.2');
  });

  it("names Docker Hub's images as docker.io/library/...", async () => {
    const { registry } = setup({ 'https://registry-1.docker.io': () => ({ status: 404 }) });
    const err = await failure(
      registry.readDigest({ registry: 'docker.io', name: 'nope', tag: 'x' }),
    );
    expect(err.message).toContain('docker.io/library/nope:x');
  });

  it('answers bad-answer for a 200 without Docker-Content-Digest, and says so', async () => {
    const { registry } = setup({ 'https://ghcr.io': () => ({ status: 200 }) });
    const err = await failure(registry.readDigest(SVC));
    expect(err).toMatchObject({ kind: 'bad-answer', status: 200 });
    expect(err.message).toMatch(/ghcr\.io\/acme\/svc:1\.2.*Docker-Content-Digest/);
  });

  it('refuses a digest header that is not a digest', async () => {
    for (const digest of ['sha256:abc', 'latest', `sha256:${'Z'.repeat(64)}`]) {
      const { registry } = setup({ 'https://ghcr.io': () => found(digest) });
      expect(await failure(registry.readDigest(SVC))).toMatchObject({ kind: 'bad-answer' });
    }
    const { registry } = setup({ 'https://ghcr.io': () => found(`sha512:${'ab'.repeat(64)}`) });
    expect(await registry.readDigest(SVC)).toBe(`sha512:${'ab'.repeat(64)}`);
  });

  it('sends nothing for a name no registry can hold', async () => {
    const { registry, seen } = setup({ 'https://ghcr.io': () => found() });
    for (const image of [
      { registry: 'ghcr.io', name: '../etc', tag: '1' },
      { registry: 'ghcr.io', name: 'acme/svc', tag: '1?x=y' },
      { registry: 'user@ghcr.io', name: 'acme/svc', tag: '1' },
    ]) {
      expect(await failure(registry.readDigest(image))).toMatchObject({ kind: 'not-found' });
    }
    expect(seen).toEqual([]);
  });
});

describe('createOciRegistry, plain HTTP', () => {
  it('speaks HTTPS to ghcr.io: no http:// request is ever made', async () => {
    const { registry, seen } = setup({
      'http://ghcr.io': () => found(OTHER),
      'https://ghcr.io': () => found(),
    });
    expect(await registry.readDigest(SVC)).toBe(DIGEST);
    expect(seen.map((request) => request.origin)).toEqual(['https://ghcr.io']);
  });

  it.each([
    ['127.0.0.1:5000', 'http://127.0.0.1:5000'],
    ['127.3.4.5', 'http://127.3.4.5'],
    ['localhost:5000', 'http://localhost:5000'],
    ['[::1]:5000', 'http://[::1]:5000'],
    ['10.0.0.7:5000', 'https://10.0.0.7:5000'],
    ['127.0.0.1.example.com', 'https://127.0.0.1.example.com'],
    ['localhost.example.com', 'https://localhost.example.com'],
  ])('reads %s at %s', async (host, origin) => {
    const { registry, seen } = setup({ [origin]: () => found() });
    expect(await registry.readDigest({ registry: host, name: 'svc', tag: 'latest' })).toBe(DIGEST);
    expect(seen.map((request) => `${request.origin}${request.path}`)).toEqual([
      `${origin}/v2/svc/manifests/latest`,
    ]);
  });
});

describe('createOciRegistry, tokens', () => {
  it('asks the realm for an anonymous token with its service and scope, then sends it', async () => {
    const { registry, seen } = setup(
      tokenRegistry(
        (token) => token === TOKEN,
        () => ({ token: TOKEN }),
      ),
    );
    expect(await registry.readDigest(SVC)).toBe(DIGEST);
    expect(seen.map((request) => request.method)).toEqual(['HEAD', 'GET', 'HEAD']);
    const asked = new URL(`https://ghcr.io${seen[1]?.path}`);
    expect(asked.pathname).toBe('/token');
    expect(asked.searchParams.get('service')).toBe('ghcr.io');
    expect(asked.searchParams.getAll('scope')).toEqual(['repository:acme/svc:pull']);
    expect(seen[1]?.headers.authorization).toBeUndefined();
    expect(seen[2]?.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('accepts access_token in place of token', async () => {
    const { registry } = setup(
      tokenRegistry(
        (token) => token === TOKEN,
        () => ({ access_token: TOKEN }),
      ),
    );
    expect(await registry.readDigest(SVC)).toBe(DIGEST);
  });

  it('asks for repository:<name>:pull when the challenge names no scope', async () => {
    const { registry, tokenRequests } = setup({
      'https://ghcr.io': (request) => {
        if (request.method === 'GET') return { status: 200, body: { token: TOKEN } };
        if (request.headers.authorization === `Bearer ${TOKEN}`) return found();
        return {
          status: 401,
          headers: { 'www-authenticate': 'Bearer realm="https://ghcr.io/token"' },
        };
      },
    });
    await registry.readDigest(SVC);
    const asked = new URL(`https://ghcr.io${tokenRequests()[0]?.path}`);
    expect(asked.searchParams.getAll('scope')).toEqual(['repository:acme/svc:pull']);
    expect(asked.searchParams.has('service')).toBe(false);
  });

  it('sends the login to the realm as Basic, and neither password nor token reaches a log or an error', async () => {
    let refuse = false;
    const routes = {
      'https://ghcr.io': (request: Seen): Reply => {
        if (request.method === 'GET')
          return { status: 200, body: { token: TOKEN, expires_in: 300 } };
        if (request.headers.authorization !== `Bearer ${TOKEN}`) {
          return challenge('https://ghcr.io/token');
        }
        return refuse
          ? { status: 403, body: `{"errors":[{"detail":"${TOKEN} ${PASSWORD}"}]}` }
          : found();
      },
    };
    const { registry, seen, logs } = setup(routes, {
      credentialsFor: readRegistryCredentials({
        REGISTRY_GHCR_IO_USER: 'octocat',
        REGISTRY_GHCR_IO_PASSWORD: PASSWORD,
      }),
    });
    expect(await registry.readDigest(SVC)).toBe(DIGEST);
    const basic = `Basic ${Buffer.from(`octocat:${PASSWORD}`).toString('base64')}`;
    expect(seen[1]?.headers.authorization).toBe(basic);
    // The registry itself never sees the password: only the realm does.
    expect(
      seen.filter((request) => request.method === 'HEAD').map((r) => r.headers.authorization),
    ).toEqual([undefined, `Bearer ${TOKEN}`]);
    refuse = true;
    const err = await failure(registry.readDigest(SVC));
    expect(err).toMatchObject({ kind: 'unauthorized', status: 403 });
    expect(err.message).toContain('REGISTRY_GHCR_IO_USER');
    for (const secret of [PASSWORD, TOKEN, basic.slice(6)]) {
      expect(err.message).not.toContain(secret);
      expect(logs.text()).not.toContain(secret);
    }
    expect(logs.text().length).toBeGreaterThan(0);
  });

  it('says which variables to set when the realm refuses, without a secret', async () => {
    const { registry, logs } = setup(
      {
        'https://ghcr.io': (request) =>
          request.method === 'GET'
            ? { status: 401, body: `{"details":"${PASSWORD}"}` }
            : challenge('https://ghcr.io/token'),
      },
      { credentialsFor: () => ({ user: 'octocat', password: PASSWORD }) },
    );
    const err = await failure(registry.readDigest(SVC));
    expect(err).toMatchObject({ kind: 'unauthorized', status: 401 });
    expect(err.message).toContain('REGISTRY_GHCR_IO_USER');
    expect(err.message).not.toContain(PASSWORD);
    expect(logs.text()).not.toContain(PASSWORD);
  });

  it('names both variables when an anonymous read is refused', async () => {
    const { registry } = setup(
      tokenRegistry(
        () => false,
        () => ({ token: TOKEN }),
      ),
    );
    const err = await failure(registry.readDigest(SVC));
    expect(err).toMatchObject({ kind: 'unauthorized', status: 401 });
    expect(err.message).toContain('REGISTRY_GHCR_IO_USER and REGISTRY_GHCR_IO_PASSWORD');
  });

  it('refuses half a login by its names', async () => {
    const { registry } = setup(
      tokenRegistry(
        () => true,
        () => ({ token: TOKEN }),
      ),
      {
        credentialsFor: readRegistryCredentials({ REGISTRY_GHCR_IO_PASSWORD: PASSWORD }),
      },
    );
    const err = await failure(registry.readDigest(SVC));
    expect(err.kind).toBe('unauthorized');
    expect(err.message).toContain('REGISTRY_GHCR_IO_USER and REGISTRY_GHCR_IO_PASSWORD');
    expect(err.message).not.toContain(PASSWORD);
  });

  it('keeps a token for the next reads of the repository, until it is about to end', async () => {
    let issued = 0;
    const { registry, seen, heads, tokenRequests, advance } = setup(
      tokenRegistry(
        (token) => token.startsWith('tok-'),
        () => ({ token: `tok-${++issued}`, expires_in: 300 }),
      ),
    );
    await registry.readDigest(SVC);
    await registry.readDigest(SVC);
    await registry.readDigest(SVC);
    expect(tokenRequests()).toHaveLength(1);
    // Once it has the token, each read is one HEAD.
    expect(heads()).toHaveLength(4);
    expect(seen.at(-1)?.headers.authorization).toBe('Bearer tok-1');
    advance(295_000);
    await registry.readDigest(SVC);
    expect(tokenRequests()).toHaveLength(2);
    expect(seen.at(-1)?.headers.authorization).toBe('Bearer tok-2');
  });

  it('keeps a token 60 s when the answer names no expires_in', async () => {
    let issued = 0;
    const { registry, tokenRequests, advance } = setup(
      tokenRegistry(
        () => true,
        () => ({ token: `tok-${++issued}` }),
      ),
    );
    // Every HEAD without a token is challenged, so only a kept token spares a token request.
    await registry.readDigest(SVC);
    advance(45_000);
    await registry.readDigest(SVC);
    expect(tokenRequests()).toHaveLength(1);
    advance(20_000);
    await registry.readDigest(SVC);
    expect(tokenRequests()).toHaveLength(2);
  });

  it('asks for a new token once when the kept one is refused', async () => {
    let issued = 0;
    let accepted = 'tok-1';
    const { registry, seen, tokenRequests } = setup(
      tokenRegistry(
        (token) => token === accepted,
        () => ({ token: `tok-${++issued}`, expires_in: 3600 }),
      ),
    );
    await registry.readDigest(SVC);
    accepted = 'tok-2';
    seen.length = 0;
    expect(await registry.readDigest(SVC)).toBe(DIGEST);
    expect(
      seen.map((request) => `${request.method} ${request.headers.authorization ?? ''}`),
    ).toEqual(['HEAD Bearer tok-1', 'GET ', 'HEAD Bearer tok-2']);
    expect(tokenRequests()).toHaveLength(1);

    accepted = 'none';
    seen.length = 0;
    const err = await failure(registry.readDigest(SVC));
    expect(err.kind).toBe('unauthorized');
    // One new token, not a loop of them.
    expect(tokenRequests()).toHaveLength(1);
    expect(seen).toHaveLength(3);
  });

  it('keeps at most 256 tokens, the oldest going first', async () => {
    let issued = 0;
    const { registry, tokenRequests } = setup({
      'https://ghcr.io': (request) => {
        if (request.method === 'GET') return { status: 200, body: { token: `tok-${++issued}` } };
        const name = /^\/v2\/(.+)\/manifests\//.exec(request.path)?.[1] ?? '';
        if (request.headers.authorization?.startsWith('Bearer ')) return found();
        return challenge('https://ghcr.io/token', `repository:${name}:pull`);
      },
    });
    const image = (n: number) => ({ registry: 'ghcr.io', name: `acme/svc-${n}`, tag: '1' });
    for (let n = 1; n <= 257; n++) await registry.readDigest(image(n));
    expect(tokenRequests()).toHaveLength(257);
    await registry.readDigest(image(257));
    expect(tokenRequests()).toHaveLength(257);
    await registry.readDigest(image(1));
    expect(tokenRequests()).toHaveLength(258);
  });

  it('refuses a realm on plain HTTP away from this machine: no login goes there', async () => {
    const { registry, seen } = setup(
      {
        'https://ghcr.io': () => challenge('http://auth.example.com/token'),
        'http://auth.example.com': () => ({ status: 200, body: { token: TOKEN } }),
      },
      { credentialsFor: () => ({ user: 'octocat', password: PASSWORD }) },
    );
    const err = await failure(registry.readDigest(SVC));
    expect(err.kind).toBe('bad-answer');
    expect(err.message).toMatch(/http:\/\/auth\.example\.com\/token.*not HTTPS/);
    expect(seen.map((request) => request.origin)).toEqual(['https://ghcr.io']);
  });

  it('sends the login to a realm on plain HTTP on this machine', async () => {
    const { registry, seen } = setup(
      {
        'http://127.0.0.1:5000': (request) =>
          request.headers.authorization === `Bearer ${TOKEN}`
            ? found()
            : challenge('http://127.0.0.1:5001/token'),
        'http://127.0.0.1:5001': () => ({ status: 200, body: { token: TOKEN } }),
      },
      { credentialsFor: () => ({ user: 'me', password: PASSWORD }) },
    );
    expect(await registry.readDigest({ registry: '127.0.0.1:5000', name: 'svc', tag: '1' })).toBe(
      DIGEST,
    );
    expect(seen[1]).toMatchObject({ origin: 'http://127.0.0.1:5001' });
    expect(seen[1]?.headers.authorization).toMatch(/^Basic /);
  });

  it('refuses a token answer larger than 64 KiB', async () => {
    const { registry } = setup({
      'https://ghcr.io': (request) =>
        request.method === 'GET'
          ? { status: 200, body: { token: 'x'.repeat(70 * 1024) } }
          : challenge('https://ghcr.io/token'),
    });
    const err = await failure(registry.readDigest(SVC));
    expect(err.kind).toBe('too-large');
    expect(err.message).toContain('64 KiB');
  });

  it('answers bad-answer for a token answer without a token', async () => {
    const { registry } = setup({
      'https://ghcr.io': (request) =>
        request.method === 'GET'
          ? { status: 200, body: { expires_in: 60 } }
          : challenge('https://ghcr.io/token'),
    });
    expect(await failure(registry.readDigest(SVC))).toMatchObject({ kind: 'bad-answer' });
  });
});

describe('createOciRegistry, Basic', () => {
  const basicRegistry = (password: string) => ({
    'https://registry.example.com:5000': (request: Seen): Reply => {
      const expected = `Basic ${Buffer.from(`me:${password}`).toString('base64')}`;
      if (request.headers.authorization === expected) return found();
      return { status: 401, headers: { 'www-authenticate': 'Basic realm="Registry Realm"' } };
    },
  });
  const image = { registry: 'registry.example.com:5000', name: 'svc', tag: '1' };

  it('sends the login when asked, and at once on the next reads', async () => {
    const { registry, seen } = setup(basicRegistry(PASSWORD), {
      credentialsFor: (host) =>
        host === 'registry.example.com:5000' ? { user: 'me', password: PASSWORD } : undefined,
    });
    expect(await registry.readDigest(image)).toBe(DIGEST);
    expect(seen).toHaveLength(2);
    expect(await registry.readDigest(image)).toBe(DIGEST);
    expect(seen).toHaveLength(3);
    expect(seen[2]?.headers.authorization).toMatch(/^Basic /);
  });

  it('names the variables to set when there is no login', async () => {
    const { registry } = setup(basicRegistry(PASSWORD));
    const err = await failure(registry.readDigest(image));
    expect(err).toMatchObject({ kind: 'unauthorized', status: 401 });
    expect(err.message).toContain(
      'REGISTRY_REGISTRY_EXAMPLE_COM_5000_USER and REGISTRY_REGISTRY_EXAMPLE_COM_5000_PASSWORD',
    );
  });

  it('answers unauthorized, once, when the login is refused', async () => {
    const { registry, seen } = setup(basicRegistry('other'), {
      credentialsFor: () => ({ user: 'me', password: PASSWORD }),
    });
    const err = await failure(registry.readDigest(image));
    expect(err.kind).toBe('unauthorized');
    expect(err.message).not.toContain(PASSWORD);
    expect(seen).toHaveLength(2);
  });
});

describe('createOciRegistry, retries', () => {
  it("waits what a 429's Retry-After asks, then reads", async () => {
    let calls = 0;
    const { registry, waits } = setup({
      'https://ghcr.io': () =>
        ++calls === 1 ? { status: 429, headers: { 'retry-after': '3' } } : found(),
    });
    expect(await registry.readDigest(SVC)).toBe(DIGEST);
    expect(waits).toEqual([3000]);
  });

  it('keeps a Retry-After longer than the retry budget: no request until it has passed', async () => {
    let throttled = true;
    const { registry, seen, waits, advance } = setup({
      'https://ghcr.io': () =>
        throttled ? { status: 429, headers: { 'retry-after': '120' } } : found(),
    });
    const first = await failure(registry.readDigest(SVC));
    expect(first).toMatchObject({ kind: 'throttled', status: 429 });
    expect(waits).toEqual([]);
    expect(seen).toHaveLength(1);
    throttled = false;
    const second = await failure(registry.readDigest(SVC));
    expect(second.kind).toBe('throttled');
    expect(second.message).toContain('ghcr.io/acme/svc:1.2');
    expect(seen).toHaveLength(1);
    advance(120_000);
    expect(await registry.readDigest(SVC)).toBe(DIGEST);
    expect(seen).toHaveLength(2);
  });

  it('retries a 5xx and a network error with backoff', async () => {
    let calls = 0;
    const { registry, waits } = setup({
      'https://ghcr.io': () => (++calls < 3 ? { status: 503 } : found()),
    });
    expect(await registry.readDigest(SVC)).toBe(DIGEST);
    expect(waits).toEqual([750, 1500]);

    const down = setup({});
    const err = await failure(down.registry.readDigest(SVC));
    expect(err.kind).toBe('unreachable');
    expect(down.waits.length).toBeGreaterThan(1);
  });

  it('gives up on a server that keeps failing, as server', async () => {
    const { registry, seen } = setup({ 'https://ghcr.io': () => ({ status: 502 }) });
    const err = await failure(registry.readDigest(SVC));
    expect(err).toMatchObject({ kind: 'server', status: 502 });
    expect(seen.length).toBeGreaterThan(1);
  });

  it('stops at shutdown as aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const { registry } = setup({ 'https://ghcr.io': () => found() }, { signal: controller.signal });
    expect(await failure(registry.readDigest(SVC))).toMatchObject({ kind: 'aborted' });
  });
});
