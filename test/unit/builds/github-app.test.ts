import { generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { Agent, MockAgent } from 'undici';
import {
  AppTokenError,
  createAppTokens,
  renewBefore,
  type AppTokens,
} from '../../../webapp/builds/github-app/create-app-tokens';
import {
  appIdSchema,
  appKeySchema,
  readAppKey,
} from '../../../webapp/builds/github-app/read-app-key';
import { signAppJwt } from '../../../webapp/builds/github-app/sign-app-jwt';
import { startFakeHub } from '../../../webapp/simulation/start-fake-hub';
import {
  createFakeGitHubApp,
  generateAppKeyPair,
  serveFakeGitHubApp,
  type FakeGitHubApp,
} from '../../helpers/fake-github-app';
import { captureLogs, type CapturedLogs } from '../../helpers/logs';
import { ManualTimers } from '../../helpers/timers';

const APP_ID = '12345';
const MINUTE = 60_000;
const pair = generateAppKeyPair();
const key = readAppKey(pair.privateKeyPem);

function decode(jwt: string): { header: unknown; claims: unknown; signed: string; sig: Buffer } {
  const [header, claims, signature] = jwt.split('.') as [string, string, string];
  const json = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  return {
    header: json(header),
    claims: json(claims),
    signed: `${header}.${claims}`,
    sig: Buffer.from(signature, 'base64url'),
  };
}

const verifies = (jwt: string, publicKey: KeyObject) => {
  const { signed, sig } = decode(jwt);
  return verify('sha256', Buffer.from(signed), publicKey, sig);
};

/** The base64 of a PEM, without its BEGIN and END lines. */
const bodyOf = (pem: string) => pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');

/** Whether `text` holds any 8 characters in a row of `secret`. */
function holdsPartOf(text: string, secret: string): boolean {
  for (let i = 0; i + 8 <= secret.length; i++) {
    if (text.includes(secret.slice(i, i + 8))) return true;
  }
  return false;
}

const pkcs1 = (k: KeyObject) => k.export({ type: 'pkcs1', format: 'pem' }).toString();

describe('signAppJwt', () => {
  const now = Date.UTC(2026, 10, 26, 12, 0, 0, 987);
  const seconds = Math.floor(now / 1000);

  it("is an RS256 JWT from the App, valid from a minute back to nine minutes on, that the App's public key verifies", () => {
    const jwt = signAppJwt(APP_ID, key, now);
    const { header, claims } = decode(jwt);
    expect(header).toEqual({ alg: 'RS256', typ: 'JWT' });
    expect(claims).toEqual({ iat: seconds - 60, exp: seconds + 9 * 60, iss: APP_ID });
    expect(verifies(jwt, pair.publicKey)).toBe(true);
  });

  it('does not verify with another key, nor once its claims are changed', () => {
    const jwt = signAppJwt(APP_ID, key, now);
    expect(verifies(jwt, generateAppKeyPair().publicKey)).toBe(false);
    const [header, , signature] = jwt.split('.');
    const forged = Buffer.from(JSON.stringify({ iat: 0, exp: 9e9, iss: APP_ID })).toString(
      'base64url',
    );
    expect(verifies(`${header}.${forged}.${signature}`, pair.publicKey)).toBe(false);
  });
});

describe('readAppKey', () => {
  const pem = pair.privateKeyPem;
  const oneLine = pem.trim().replace(/\n/g, '\\n');
  const pkcs8 = key.export({ type: 'pkcs8', format: 'pem' }).toString();

  it.each([
    ['the .pem GitHub gives (PKCS#1)', pem],
    ['with \\n written out on one line', oneLine],
    ['with Windows line ends', pem.replace(/\n/g, '\r\n')],
    ['in double quotes, with blanks around', `  "${oneLine}"\n`],
    ['in single quotes, real newlines', `'${pem}'`],
    ['with spaces for newlines', pem.trim().replace(/\n/g, ' ')],
    ['with no newline at all', pem.replace(/\n/g, '')],
    ['PKCS#8', pkcs8],
    ['PKCS#8 on one line', pkcs8.trim().replace(/\n/g, '\\n')],
    ['the whole file base64-encoded', Buffer.from(pem).toString('base64')],
  ])('reads the key %s', (_form, text) => {
    const read = readAppKey(text);
    expect(pkcs1(read)).toBe(pem);
    expect(verifies(signAppJwt(APP_ID, read, Date.now()), pair.publicKey)).toBe(true);
  });

  const lines = pem.trim().split('\n');
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });

  it.each([
    ['an empty value', '   ', /is empty/],
    ["a file's name", 'github-app.private-key.pem', /no -----BEGIN RSA PRIVATE KEY----- line/],
    ['some other secret', 'hunter2-and-more-secret-text', /no -----BEGIN RSA PRIVATE KEY-----/],
    ['a key cut short', pem.slice(0, pem.length / 2), /cut short/],
    [
      'a key with lines lost in the middle',
      [...lines.slice(0, 5), ...lines.slice(10)].join('\n'),
      /not a readable private key/,
    ],
    [
      'a key with other text in it',
      pem.replace(lines[3] as string, `${(lines[3] as string).slice(0, 30)}%%%`),
      /not base64/,
    ],
    [
      'the public key',
      pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      /is a public key, not the App's private key/,
    ],
    [
      'a key with a passphrase',
      rsa.privateKey
        .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pass' })
        .toString(),
      /encrypted with a passphrase/,
    ],
    [
      'an EC key',
      ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      /not an RSA key \(ec\)/,
    ],
  ])('refuses %s, naming GITHUB_APP_PRIVATE_KEY and quoting none of it', (_what, text, why) => {
    let error: unknown;
    try {
      readAppKey(text);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(Error);
    const { message } = error as Error;
    expect(message).toMatch(/^GITHUB_APP_PRIVATE_KEY: /);
    expect(message).toMatch(why);
    expect(holdsPartOf(message, bodyOf(text))).toBe(false);
  });

  it('gives the same problem to the settings, without the name they add themselves', () => {
    const result = appKeySchema.safeParse('key.pem');
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.message)).toEqual([
      "has no -----BEGIN RSA PRIVATE KEY----- line: it must hold the text of the App's .pem file (its contents, not its name)",
    ]);
    const read = appKeySchema.safeParse(oneLine);
    expect(read.success && pkcs1(read.data)).toBe(pem);
  });
});

describe('appIdSchema', () => {
  it.each([
    ['12345', '12345'],
    [' 12345\n', '12345'],
  ])('takes the App ID %j', (text, id) => {
    expect(appIdSchema.parse(text)).toBe(id);
  });

  it.each(['', '0', '-5', '12.5', '1e5', 'Iv1.8a61f9b3a7aba766', '12345 678'])(
    'refuses %j, saying it wants the App ID',
    (text) => {
      const result = appIdSchema.safeParse(text);
      expect(result.success).toBe(false);
      expect(result.error?.issues[0]?.message).toMatch(/must be the App ID \(a whole number/);
    },
  );
});

describe('createAppTokens against a fake GitHub App on loopback', () => {
  let timers: ManualTimers;
  let fake: FakeGitHubApp;
  let server: { url: string; close(): Promise<void> };
  let dispatcher: Agent;
  let logs: CapturedLogs;
  let tokens: AppTokens;
  const errors: Error[] = [];

  const make = (extra: Partial<Parameters<typeof createAppTokens>[0]> = {}) =>
    createAppTokens({
      appId: APP_ID,
      key,
      apiUrl: server.url,
      dispatcher,
      clock: timers,
      timeout: 5000,
      log: logs.log,
      ...extra,
    });

  /** The call's AppTokenError (kept for the secrets test). */
  async function failure(call: Promise<unknown>): Promise<AppTokenError> {
    const error = await call.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(AppTokenError);
    errors.push(error as AppTokenError);
    return error as AppTokenError;
  }

  const calls = () => fake.requests.map((r) => `${r.method} ${r.path} ${r.status}`);
  const jwtOf = (request: FakeGitHubApp['requests'][number] | undefined) =>
    (request?.headers.authorization ?? '').replace(/^Bearer /, '');

  beforeEach(async () => {
    timers = new ManualTimers();
    fake = createFakeGitHubApp({
      appId: APP_ID,
      publicKey: pair.publicKey,
      installations: { 'acme/app': 42, 'acme/lib': 42, 'acme/site': 7 },
      now: () => timers.now(),
    });
    server = await serveFakeGitHubApp(fake);
    dispatcher = new Agent();
    logs = captureLogs();
    tokens = make();
    errors.length = 0;
  });

  afterEach(async () => {
    await dispatcher.close();
    await server.close();
  });

  it("finds the repository's installation and makes a token that GitHub takes", async () => {
    const token = await tokens.tokenFor('acme/app');
    expect(token).toMatch(/^ghs_/);
    expect(fake.isValid(token)).toBe(true);
    expect(calls()).toEqual([
      'GET /repos/acme/app/installation 200',
      'POST /app/installations/42/access_tokens 201',
    ]);
    for (const request of fake.requests) {
      expect(request.headers).toMatchObject({
        accept: 'application/vnd.github+json',
        'x-github-api-version': '2022-11-28',
        'user-agent': 'dockerhub-trigger-propagate',
      });
      expect(verifies(jwtOf(request), pair.publicKey)).toBe(true);
    }
  });

  it('gives the same token while 5 minutes of its hour are left, a new one after, for every repository of the installation', async () => {
    expect(renewBefore).toBe(5 * MINUTE);
    const first = await tokens.tokenFor('acme/app');
    timers.advance(55 * MINUTE);
    expect(await tokens.tokenFor('acme/app')).toBe(first);
    expect(await tokens.tokenFor('acme/lib')).toBe(first);
    expect(fake.tokens).toHaveLength(1);

    timers.advance(1);
    const second = await tokens.tokenFor('acme/lib');
    expect(second).not.toBe(first);
    expect(fake.isValid(second)).toBe(true);
    expect(await tokens.tokenFor('acme/app')).toBe(second);
    expect(calls()).toEqual([
      'GET /repos/acme/app/installation 200',
      'POST /app/installations/42/access_tokens 201',
      'GET /repos/acme/lib/installation 200',
      'POST /app/installations/42/access_tokens 201',
    ]);
    timers.advance(5 * MINUTE);
    expect(fake.isValid(first)).toBe(false);
  });

  it('lets callers at the same time share one lookup and one token', async () => {
    const given = await Promise.all([
      ...Array.from({ length: 5 }, () => tokens.tokenFor('acme/app')),
      ...Array.from({ length: 3 }, () => tokens.tokenFor('acme/lib')),
    ]);
    expect(new Set(given).size).toBe(1);
    expect(fake.tokens).toHaveLength(1);
    expect(
      calls()
        .filter((call) => call.startsWith('GET'))
        .sort(),
    ).toEqual(['GET /repos/acme/app/installation 200', 'GET /repos/acme/lib/installation 200']);
  });

  it('makes a new token once GitHub refused the one it gave, and keeps the new one when an older is refused', async () => {
    const first = await tokens.tokenFor('acme/app');
    fake.expire(first);
    tokens.refused('acme/app', first);
    const second = await tokens.tokenFor('acme/app');
    expect(second).not.toBe(first);
    expect(fake.isValid(second)).toBe(true);

    tokens.refused('acme/app', first);
    expect(await tokens.tokenFor('acme/app')).toBe(second);
    expect(fake.tokens).toHaveLength(2);
    expect(logs.text()).toContain('GitHub refused the token of the GitHub App 12345');
  });

  it('keeps its JWT for a while, and signs a new one before the old one expires', async () => {
    await tokens.tokenFor('acme/app');
    timers.advance(MINUTE);
    await tokens.tokenFor('acme/site');
    timers.advance(9 * MINUTE);
    await tokens.tokenFor('acme/lib');
    // 10 minutes on, the first JWT has expired: the fake would have refused it.
    expect(fake.requests.every((request) => request.status < 300)).toBe(true);
    const jwts = fake.requests.map(jwtOf);
    expect(new Set(jwts.slice(0, 4)).size).toBe(1);
    expect(jwts[4]).not.toBe(jwts[0]);
  });

  it('looks the installation up again when the App was installed anew', async () => {
    const first = await tokens.tokenFor('acme/app');
    fake.installations['acme/app'] = 43;
    fake.installations['acme/lib'] = 43;
    fake.expire(first);
    tokens.refused('acme/app', first);
    const second = await tokens.tokenFor('acme/app');
    expect(fake.isValid(second)).toBe(true);
    expect(fake.tokens.at(-1)).toMatchObject({ token: second, installation: 43 });
    expect(calls().slice(2)).toEqual([
      'POST /app/installations/42/access_tokens 404',
      'GET /repos/acme/app/installation 200',
      'POST /app/installations/43/access_tokens 201',
    ]);
  });

  it('says the App is not installed on a repository, and finds it once it is', async () => {
    const error = await failure(tokens.tokenFor('acme/nowhere'));
    expect(error).toMatchObject({
      kind: 'not-installed',
      retryable: false,
      status: 404,
      message:
        'the GitHub App 12345 is not installed on acme/nowhere (or that repository does not exist)',
    });
    expect(error.reason).toBe(error.message);
    fake.installations['acme/nowhere'] = 9;
    expect(fake.isValid(await tokens.tokenFor('acme/nowhere'))).toBe(true);
  });

  it('says the App ID or the key is wrong when GitHub refuses the JWT', async () => {
    const otherKey = readAppKey(generateAppKeyPair().privateKeyPem);
    const wrongKey = await failure(make({ key: otherKey }).tokenFor('acme/app'));
    expect(wrongKey).toMatchObject({ kind: 'unauthorized', retryable: false, status: 401 });
    expect(wrongKey.message).toContain('GITHUB_APP_ID or GITHUB_APP_PRIVATE_KEY is wrong');
    expect(wrongKey.message).toContain('"A JSON web token could not be decoded"');

    const wrongId = await failure(make({ appId: '999' }).tokenFor('acme/app'));
    expect(wrongId.message).toContain(
      `GitHub refused the GitHub App 999's JWT (HTTP 401, "Integration not found")`,
    );
  });

  it('tells what may pass (a 5xx, a rate limit, no answer) from what will not', async () => {
    fake.failNext(502);
    expect(await failure(tokens.tokenFor('acme/app'))).toMatchObject({
      kind: 'server',
      retryable: true,
      status: 502,
    });

    const reset = Math.floor(timers.now() / 1000) + 120;
    fake.failNext(
      403,
      { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) },
      'API rate limit exceeded for installation ID 42.',
    );
    expect(await failure(tokens.tokenFor('acme/app'))).toMatchObject({
      kind: 'throttled',
      retryable: true,
      retryAfter: 120_000,
    });
    fake.failNext(403, {}, 'You have exceeded a secondary rate limit. Please wait a few minutes.');
    expect(await failure(tokens.tokenFor('acme/app'))).toMatchObject({
      kind: 'throttled',
      retryAfter: 60_000,
    });
    fake.failNext(429, { 'retry-after': '30' });
    expect(await failure(tokens.tokenFor('acme/app'))).toMatchObject({ retryAfter: 30_000 });

    // The installation is known now: the next request is the token's.
    await tokens.tokenFor('acme/site');
    timers.advance(56 * MINUTE);
    fake.failNext(403, {}, 'This installation has been suspended');
    const suspended = await failure(tokens.tokenFor('acme/site'));
    expect(suspended).toMatchObject({ kind: 'forbidden', retryable: false, status: 403 });
    expect(suspended.message).toContain('This installation has been suspended');
    fake.failNext(422, {}, 'There is at least one repository that does not exist');
    expect(await failure(tokens.tokenFor('acme/site'))).toMatchObject({
      kind: 'refused',
      retryable: false,
    });

    const closed = await serveFakeGitHubApp(fake);
    await closed.close();
    expect(await failure(make({ apiUrl: closed.url }).tokenFor('acme/app'))).toMatchObject({
      kind: 'unreachable',
      retryable: true,
    });
  });

  it('stops at once on shutdown', async () => {
    const controller = new AbortController();
    controller.abort();
    const error = await failure(make({ signal: controller.signal }).tokenFor('acme/app'));
    expect(error).toMatchObject({ kind: 'aborted', retryable: false });
    expect(fake.requests).toEqual([]);
  });

  it('refuses a repository that is not owner/name, asking nothing', async () => {
    const error = await failure(tokens.tokenFor('acme/app/../../app/installations'));
    expect(error).toMatchObject({ kind: 'bad-repository', retryable: false });
    expect(fake.requests).toEqual([]);
  });

  it('remembers at most maxRepositories installations, the most recently used', async () => {
    tokens = make({ maxRepositories: 2 });
    await tokens.tokenFor('acme/app');
    await tokens.tokenFor('acme/lib');
    await tokens.tokenFor('acme/app');
    await tokens.tokenFor('acme/site');
    await tokens.tokenFor('acme/app');
    await tokens.tokenFor('acme/lib');
    expect(calls().filter((call) => call.startsWith('GET'))).toEqual([
      'GET /repos/acme/app/installation 200',
      'GET /repos/acme/lib/installation 200',
      'GET /repos/acme/site/installation 200',
      'GET /repos/acme/lib/installation 200',
    ]);
  });

  it('names in secrets() every token and JWT until it expires, renewed or refused', async () => {
    const first = await tokens.tokenFor('acme/app');
    const firstJwt = jwtOf(fake.requests.at(-1));
    expect(tokens.secrets().sort()).toEqual([firstJwt, first].sort());
    tokens.refused('acme/app', first);
    timers.advance(10 * MINUTE);
    const second = await tokens.tokenFor('acme/app');
    const secondJwt = jwtOf(fake.requests.at(-1));
    expect(tokens.secrets().sort()).toEqual([first, second, secondJwt].sort());
    timers.advance(51 * MINUTE);
    expect(tokens.secrets()).toEqual([second]);
    timers.advance(10 * MINUTE);
    expect(tokens.secrets()).toEqual([]);
  });

  it('puts no token, JWT or key in its log lines or errors, even one GitHub echoes', async () => {
    const token = await tokens.tokenFor('acme/app');
    const jwt = jwtOf(fake.requests.at(-1));
    fake.failNext(422, {}, `Cannot use ${jwt} nor ${token}`);
    const echoed = await failure(tokens.tokenFor('acme/site'));
    expect(echoed.message).toContain('"Cannot use *** nor ***"');

    timers.advance(56 * MINUTE);
    await tokens.tokenFor('acme/site');
    tokens.refused('acme/site', fake.tokens.at(-1)?.token ?? '');
    await tokens.tokenFor('acme/site');
    await failure(tokens.tokenFor('acme/nowhere'));
    const otherKey = readAppKey(generateAppKeyPair().privateKeyPem);
    await failure(make({ key: otherKey }).tokenFor('acme/lib'));

    const secrets = [
      ...fake.tokens.map((made) => made.token),
      ...fake.requests.map(jwtOf),
      bodyOf(pair.privateKeyPem),
      bodyOf(otherKey.export({ type: 'pkcs1', format: 'pem' }).toString()),
    ];
    expect(fake.tokens).toHaveLength(3);
    expect(logs.entries().length).toBeGreaterThan(5);
    const texts = [logs.text(), ...errors.map((error) => `${error.message} ${error.stack}`)];
    for (const text of texts) {
      for (const secret of secrets) expect(holdsPartOf(text, secret)).toBe(false);
    }
  });
});

describe('the fake GitHub App in the fake hub', () => {
  it("serves the App beside the build APIs, through the hub's intercept", async () => {
    const fake = createFakeGitHubApp({
      appId: APP_ID,
      publicKey: pair.publicKey,
      installations: { 'acme/app': 42 },
    });
    const hub = await startFakeHub({
      user: 'acme',
      repo: 'app',
      intercept: (request, res) => (fake.handle(request, res) ? { taken: true } : undefined),
    });
    const dispatcher = new Agent();
    try {
      const tokens = createAppTokens({
        appId: APP_ID,
        key,
        apiUrl: hub.url,
        dispatcher,
        clock: { now: Date.now },
        timeout: 5000,
        log: captureLogs().log,
      });
      expect(fake.isValid(await tokens.tokenFor('acme/app'))).toBe(true);
      expect(hub.triggers).toEqual([]);
    } finally {
      await dispatcher.close();
      await hub.close();
    }
  });
});

describe('createAppTokens on GitHub Enterprise Server', () => {
  it('asks at the /api/v3 it is given, and refuses an answer too large to be a token', async () => {
    const agent = new MockAgent();
    agent.disableNetConnect();
    const pool = agent.get('https://github.example.com');
    pool
      .intercept({ method: 'GET', path: '/api/v3/repos/acme/app/installation' })
      .reply(200, { id: 5 });
    pool
      .intercept({ method: 'POST', path: '/api/v3/app/installations/5/access_tokens' })
      .reply(201, { token: 'ghs_enterprise', expires_at: '2026-11-26T13:00:00Z' });
    pool
      .intercept({ method: 'GET', path: '/api/v3/repos/acme/big/installation' })
      .reply(200, { id: 6, padding: 'x'.repeat(70 * 1024) });
    pool
      .intercept({ method: 'GET', path: '/api/v3/repos/acme/odd/installation' })
      .reply(200, { id: 8 });
    pool
      .intercept({ method: 'POST', path: '/api/v3/app/installations/8/access_tokens' })
      .reply(201, { token: 'ghs_odd' });
    const tokens = createAppTokens({
      appId: APP_ID,
      key,
      apiUrl: 'https://github.example.com/api/v3/',
      dispatcher: agent,
      clock: { now: () => Date.UTC(2026, 10, 26, 12) },
      timeout: 5000,
      log: captureLogs().log,
    });
    expect(await tokens.tokenFor('acme/app')).toBe('ghs_enterprise');
    await expect(tokens.tokenFor('acme/big')).rejects.toMatchObject({
      kind: 'bad-answer',
      retryable: false,
      message: expect.stringContaining('larger than 64 KiB'),
    });
    await expect(tokens.tokenFor('acme/odd')).rejects.toMatchObject({
      kind: 'bad-answer',
      message: expect.stringContaining('has no token and expires_at'),
    });
    agent.assertNoPendingInterceptors();
    await agent.close();
  });
});
