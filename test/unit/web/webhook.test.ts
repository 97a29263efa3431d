import { request } from 'undici';
import { buildTestApp, delivery, flush, hook } from '../../helpers/app';

const deep = (levels: number) => `{"push_data": ${'['.repeat(levels)}${']'.repeat(levels)}}`;
const withCallback = (url: unknown) => delivery('init', { callback_url: url });
const withTag = (tag: unknown) =>
  delivery('init', { push_data: { pushed_at: 1764158400, images: [], tag } });

/** [name, body (object or raw text), content type, status, description] */
type Case = [string, unknown, string | undefined, number, RegExp];

const badDeliveries: Case[] = [
  ['a body that is not JSON', 'tag=init', 'application/json', 400, /not valid JSON/],
  ['an empty body', '', 'application/json', 400, /empty/],
  ['null', 'null', 'application/json', 400, /must be a JSON object/],
  ['an array', '[1]', 'application/json', 400, /must be a JSON object/],
  ['a string', '"init"', 'application/json', 400, /must be a JSON object/],
  ['a number', '42', 'application/json', 400, /must be a JSON object/],
  ['text/plain', JSON.stringify(delivery('init')), 'text/plain', 415, /must be JSON/],
  ['a form', 'push_data=1', 'application/x-www-form-urlencoded', 415, /must be JSON/],
  ['no content type', JSON.stringify(delivery('init')), undefined, 415, /must be JSON/],
  [
    'no push_data',
    { callback_url: hook() },
    'application/json',
    400,
    /push_data must be an object/,
  ],
  [
    'push_data null',
    delivery('init', { push_data: null }),
    'application/json',
    400,
    /push_data must be an object/,
  ],
  ['no tag', withTag(undefined), 'application/json', 400, /push_data.tag must be a string/],
  ['a numeric tag', withTag(1), 'application/json', 400, /push_data.tag must be a string/],
  [
    'a pushed_at that is not a time',
    delivery('init', { push_data: { tag: 'init', pushed_at: 'yesterday' } }),
    'application/json',
    400,
    /push_data.pushed_at must be a number/,
  ],
  [
    'no callback_url',
    delivery('init', { callback_url: undefined }),
    'application/json',
    400,
    /callback_url is missing/,
  ],
  [
    'a numeric callback_url',
    withCallback(7),
    'application/json',
    400,
    /callback_url must be a string/,
  ],
  [
    'an object callback_url',
    withCallback({ url: hook() }),
    'application/json',
    400,
    /callback_url must be a string/,
  ],
  [
    'a tag __proto__',
    withTag('__proto__'),
    'application/json',
    422,
    /"__proto__" is not in the tag sequence/,
  ],
  ['a tag constructor', withTag('constructor'), 'application/json', 422, /not in the tag sequence/],
  ['a tag toString', withTag('toString'), 'application/json', 422, /not in the tag sequence/],
  ['an empty tag', withTag(''), 'application/json', 422, /"" is not in the tag sequence/],
  [
    'a tag with a trailing space',
    withTag('init '),
    'application/json',
    422,
    /not in the tag sequence/,
  ],
  ['a tag in another case', withTag('INIT'), 'application/json', 422, /not in the tag sequence/],
  ['a tag with a NUL', withTag('in\u0000it'), 'application/json', 422, /"in\\u0000it" is not/],
  [
    'a tag of 10,000 characters',
    withTag('a'.repeat(10_000)),
    'application/json',
    422,
    /^push_data.tag "a{64}…" is not/,
  ],
  [
    'a callback of another user',
    withCallback(hook('someone', 'void-docker')),
    'application/json',
    403,
    /callback_url is not a webhook of maddouri\/void-docker/,
  ],
  [
    'a callback of another repository',
    withCallback(hook('maddouri', 'other')),
    'application/json',
    403,
    /callback_url/,
  ],
  [
    'a callback on a host suffix',
    withCallback('https://registry.hub.docker.com.evil.example/u/maddouri/void-docker/hook/abc/'),
    'application/json',
    403,
    /callback_url/,
  ],
  [
    'a callback with userinfo',
    withCallback('https://registry.hub.docker.com@evil.example/u/maddouri/void-docker/hook/abc/'),
    'application/json',
    403,
    /callback_url/,
  ],
  [
    'a callback with more after the last /',
    withCallback(`${hook()}x`),
    'application/json',
    403,
    /callback_url/,
  ],
  [
    'a callback with a trailing newline',
    withCallback(`${hook()}\n`),
    'application/json',
    403,
    /callback_url/,
  ],
  [
    'a callback id of 129 characters',
    withCallback(hook('maddouri', 'void-docker', 'a'.repeat(129))),
    'application/json',
    403,
    /callback_url/,
  ],
  [
    'a callback id that is not alphanumeric',
    withCallback(hook('maddouri', 'void-docker', 'ab-c')),
    'application/json',
    403,
    /callback_url/,
  ],
  [
    'a callback with another scheme',
    withCallback('http://registry.hub.docker.com/u/maddouri/void-docker/hook/abc/'),
    'application/json',
    403,
    /callback_url/,
  ],
  [
    'another repo_name',
    delivery('init', { repository: { repo_name: 'someone/else' } }),
    'application/json',
    403,
    /repository.repo_name is not maddouri\/void-docker/,
  ],
  [
    'a __proto__ key',
    `{"__proto__": {"polluted": true}, "push_data": {"tag": "init"}, "callback_url": "${hook()}"}`,
    'application/json',
    400,
    /has a (__proto__|constructor.prototype) key, which is refused/,
  ],
  [
    'a constructor.prototype key',
    `{"constructor": {"prototype": {"polluted": true}}, "push_data": {"tag": "init"}, "callback_url": "${hook()}"}`,
    'application/json',
    400,
    /has a (__proto__|constructor.prototype) key, which is refused/,
  ],
  [
    'a __proto__ key spelled with escapes',
    `{"\\u005f_proto\\u005F_": {"polluted": true}, "push_data": {"tag": "init"}, "callback_url": "${hook()}"}`,
    'application/json',
    400,
    /has a __proto__ key, which is refused/,
  ],
  [
    'a constructor.prototype key spelled with escapes',
    `{"push_data": {"tag": "init", "\\u0063onstructor": {"prototyp\\u0065": {}}}, "callback_url": "${hook()}"}`,
    'application/json',
    400,
    /has a constructor.prototype key, which is refused/,
  ],
  ['JSON nested 20,000 levels deep', deep(20_000), 'application/json', 400, /./],
  [
    'a body in UTF-16',
    JSON.stringify(delivery('init')),
    'application/json; charset=utf-16',
    415,
    /must be JSON in UTF-8/,
  ],
  [
    'a body in Latin-1',
    JSON.stringify(delivery('init')),
    'application/json;charset="ISO-8859-1"',
    415,
    /must be JSON in UTF-8/,
  ],
  [
    'a body over 64 KiB',
    JSON.stringify(delivery('init', { padding: 'x'.repeat(70_000) })),
    'application/json',
    413,
    /larger than 65536 bytes/,
  ],
];

describe('the webhook rejects bad input', () => {
  it.each(badDeliveries)('%s', async (_name, body, type, status, description) => {
    const t = buildTestApp();
    const response = await t.app.inject({
      method: 'POST',
      url: '/propagate',
      headers: type === undefined ? {} : { 'content-type': type },
      payload: typeof body === 'string' ? body : JSON.stringify(body),
    });
    expect(response.statusCode).toBe(status);
    expect(response.json()).toEqual({
      state: 'error',
      description: expect.stringMatching(description),
    });
    t.timers.advance(10_000_000);
    expect(t.triggered).toEqual([]);
    expect(t.journal.saved).toEqual([]);
    const warnings = t.logs.entries().filter((line) => line.level === 40);
    expect(warnings).toEqual([expect.objectContaining({ status, msg: 'delivery rejected' })]);
    expect(t.logs.text()).not.toContain('x'.repeat(100));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each(['gzip', 'deflate', 'br'])(
    'answers a body with content-encoding %s with 415',
    async (coding) => {
      const t = buildTestApp();
      const response = await t.app.inject({
        method: 'POST',
        url: '/propagate',
        headers: { 'content-type': 'application/json', 'content-encoding': coding },
        payload: JSON.stringify(delivery('init')),
      });
      expect(response.statusCode).toBe(415);
      expect(response.json()).toEqual({
        state: 'error',
        description: 'the body must not be compressed or encoded (content-encoding)',
      });
      t.timers.advance(10_000_000);
      expect(t.triggered).toEqual([]);
    },
  );

  it.each([
    'application/json; charset=utf-8',
    'application/json; charset="UTF-8"',
    'application/json',
  ])('takes a body sent as %s', async (type) => {
    const t = buildTestApp();
    const response = await t.app.inject({
      method: 'POST',
      url: '/propagate',
      headers: { 'content-type': type, 'content-encoding': 'identity' },
      payload: JSON.stringify(delivery('init')),
    });
    expect(response.statusCode).toBe(200);
  });

  it('takes regex metacharacters in user and repository names literally', async () => {
    const t = buildTestApp({ DOCKERHUB_USER: 'acme.io', DOCKERHUB_REPO: 'a+b' });
    const look = (user: string, repo: string) =>
      t.post(delivery('init', { callback_url: hook(user, repo), repository: null }));
    expect((await look('acmeXio', 'a+b')).statusCode).toBe(403);
    expect((await look('acme.io', 'aab')).statusCode).toBe(403);
    expect((await look('acme.io', 'a+b')).statusCode).toBe(200);
  });

  it.each(['GET', 'PUT', 'DELETE', 'PATCH'] as const)(
    'answers %s on the route with 405',
    async (method) => {
      const t = buildTestApp();
      const response = await t.app.inject({ method, url: '/propagate' });
      expect(response.statusCode).toBe(405);
      expect(response.headers.allow).toBe('POST');
      expect(response.json()).toMatchObject({ state: 'error' });
    },
  );

  it('sends every bad delivery to a listening server, then a valid one still propagates', async () => {
    const t = buildTestApp();
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const { port } = t.app.server.address() as { port: number };
      for (const [name, body, type, status] of badDeliveries) {
        const response = await request(`http://127.0.0.1:${port}/propagate`, {
          method: 'POST',
          headers: type === undefined ? {} : { 'content-type': type },
          body: typeof body === 'string' ? body : JSON.stringify(body),
        });
        const answer = (await response.body.json()) as { state: string };
        expect([name, response.statusCode, answer.state]).toEqual([name, status, 'error']);
      }
      t.timers.advance(10_000_000);
      expect(t.triggered).toEqual([]);
      const valid = await request(`http://127.0.0.1:${port}/propagate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(delivery('step-2')),
      });
      expect(valid.statusCode).toBe(200);
      expect(await valid.body.json()).toMatchObject({ next_tag: 'step-3' });
      t.timers.advance(100_000);
      expect(t.triggered).toEqual(['step-3']);
    } finally {
      await t.app.close();
    }
  });
});

describe('duplicate deliveries', () => {
  it('trigger the next tag once for six identical deliveries, and once more only for a new push', async () => {
    const t = buildTestApp();
    const six = () => Promise.all(Array.from({ length: 6 }, () => t.post(delivery('step-1'))));
    const first = await six();
    expect(first.map((response) => response.statusCode)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(first.filter((response) => response.json().duplicate === true)).toHaveLength(5);
    expect(first.every((response) => response.json().next_tag === 'step-2')).toBe(true);
    t.timers.advance(100_000);
    await flush();
    expect(t.triggered).toEqual(['step-2']);

    const again = await six();
    expect(again.every((response) => response.json().duplicate === true)).toBe(true);
    t.timers.advance(1_000_000);
    expect(t.triggered).toEqual(['step-2']);

    const newPush = delivery('step-1', {
      push_data: { tag: 'step-1', pushed_at: 1764160000, images: [] },
    });
    expect((await t.post(newPush)).json()).toMatchObject({ next_tag: 'step-2' });
    expect((await t.post(newPush)).json()).toMatchObject({ duplicate: true });
    t.timers.advance(100_000);
    expect(t.triggered).toEqual(['step-2', 'step-2']);
    // one info line per push; the repeats are debug lines
    const lines = t.logs.entries().filter((line) => line.unit === 'webhook');
    expect(lines.filter((line) => line.level === 30).map((line) => line.duplicate)).toEqual([
      false,
      false,
    ]);
    expect(lines.filter((line) => line.level === 20)).toHaveLength(12);
  });

  it('answer a repeated delivery of the last tag as a duplicate, logged at debug', async () => {
    const t = buildTestApp();
    const first = await t.post(delivery('latest'));
    const again = await t.post(delivery('latest'));
    expect(first.json()).toMatchObject({ next_tag: null });
    expect(first.json().duplicate).toBeUndefined();
    expect(again.json()).toMatchObject({ next_tag: null, duplicate: true });
    const lines = t.logs.entries().filter((line) => line.unit === 'webhook');
    expect(lines.map((line) => line.level)).toEqual([30, 20]);
  });
});

describe('WEBHOOK_SECRET', () => {
  const secret = 'webhook-secret-0123456789';
  const forms =
    'send the secret as the password of Basic credentials (https://hook:<secret>@<host>/propagate) or as ?token=<secret>';
  const refused = `the secret is missing or wrong: ${forms}`;
  const basic = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`;
  const postWith = (t: ReturnType<typeof buildTestApp>, authorization: string, query = '') =>
    t.app.inject({
      method: 'POST',
      url: `/propagate${query}`,
      headers: { 'content-type': 'application/json', authorization },
      payload: JSON.stringify(delivery('init')),
    });

  it('requires ?token=<secret>, answering 403 without it and logging no secret', async () => {
    const t = buildTestApp({ WEBHOOK_SECRET: secret });
    for (const query of [
      '',
      '?token=',
      '?token=wrong',
      `?token=${secret}x`,
      `?token=${secret}&token=${secret}`,
    ]) {
      const response = await t.post(delivery('init'), query);
      expect([query, response.statusCode]).toEqual([query, 403]);
      expect(response.json()).toEqual({ state: 'error', description: refused });
    }
    const good = await t.post(delivery('init'), `?token=${secret}`);
    expect(good.statusCode).toBe(200);
    t.timers.advance(100_000);
    expect(t.triggered).toEqual(['step-1']);
    expect(t.logs.text()).not.toContain(secret);
  });

  it('takes the secret as the password of Basic credentials, whatever the user', async () => {
    const t = buildTestApp({ WEBHOOK_SECRET: secret });
    for (const authorization of [
      basic(`hook:${secret}`),
      basic(`:${secret}`),
      `basic  ${Buffer.from(`docker-hub:${secret}`).toString('base64')}`,
    ]) {
      const response = await postWith(t, authorization);
      expect([authorization, response.statusCode]).toEqual([authorization, 200]);
    }
    t.timers.advance(100_000);
    expect(t.triggered).toEqual(['step-1']);
    expect(t.logs.text()).not.toContain(secret);
  });

  it('refuses wrong Basic credentials with 403, naming both forms and echoing nothing', async () => {
    const t = buildTestApp({ WEBHOOK_SECRET: secret });
    for (const authorization of [
      basic('hook:wrong-guess-0123456789'),
      basic(`${secret}:`),
      basic(`hook:${secret}x`),
    ]) {
      const response = await postWith(t, authorization);
      expect([authorization, response.statusCode]).toEqual([authorization, 403]);
      expect(response.json()).toEqual({ state: 'error', description: refused });
      expect(response.body).not.toContain('wrong-guess');
    }
    expect(t.triggered).toEqual([]);
    expect(t.logs.text()).not.toContain('wrong-guess');
    expect(t.logs.text()).not.toContain(secret);
  });

  it('refuses a malformed Authorization header with 403 that says what is wrong, never 500', async () => {
    const t = buildTestApp({ WEBHOOK_SECRET: secret });
    const cases: [string, string][] = [
      ['Basic %%not-base64%%', "the Authorization header's Basic credentials are not base64"],
      ['Basic d2l0aG91dB==', "the Authorization header's Basic credentials are not base64"],
      [
        basic(`no-colon-${secret}`),
        "the Authorization header's Basic credentials have no ':' between user and password",
      ],
      [`Bearer ${secret}`, 'the Authorization header holds a Bearer token, not Basic credentials'],
      ['Digest username="hook"', 'the Authorization header holds no Basic credentials'],
      ['Basic', 'the Authorization header holds no Basic credentials'],
      ['Basic abc def', 'the Authorization header holds no Basic credentials'],
    ];
    for (const [authorization, problem] of cases) {
      const response = await postWith(t, authorization);
      expect([authorization, response.statusCode]).toEqual([authorization, 403]);
      expect(response.json()).toEqual({ state: 'error', description: `${problem}: ${forms}` });
      expect(response.body).not.toContain(secret);
    }
    expect(t.logs.entries().filter((line) => (line.level as number) >= 50)).toEqual([]);
    expect(t.logs.text()).not.toContain(secret);
    // a right ?token= still admits it: the header may come from a proxy on the way
    expect((await postWith(t, 'Digest x', `?token=${secret}`)).statusCode).toBe(200);
  });

  it('takes either of two secrets, so that one can replace the other', async () => {
    const newer = 'newer-secret-0123456789';
    const t = buildTestApp({ WEBHOOK_SECRET: `${newer},${secret}` });
    expect((await postWith(t, basic(`hook:${newer}`))).statusCode).toBe(200);
    expect((await t.post(delivery('step-1'), `?token=${secret}`)).statusCode).toBe(200);
    expect((await postWith(t, basic(`hook:${secret}`))).statusCode).toBe(200);
    expect((await t.post(delivery('init'), `?token=${newer},${secret}`)).statusCode).toBe(403);
    expect((await postWith(t, basic(`hook:${newer},${secret}`))).statusCode).toBe(403);
    const text = t.logs.text();
    expect(text).not.toContain(newer);
    expect(text).not.toContain(secret);
  });

  it('checks the secret before anything else about the request', async () => {
    const t = buildTestApp({ WEBHOOK_SECRET: secret });
    const response = await t.app.inject({
      method: 'POST',
      url: '/propagate?token=nope',
      headers: { 'content-type': 'text/plain' },
      payload: 'x'.repeat(100_000),
    });
    expect(response.statusCode).toBe(403);
  });

  it('makes callback_url optional, but still checks it when present', async () => {
    const t = buildTestApp({ WEBHOOK_SECRET: secret });
    const query = `?token=${secret}`;
    expect((await t.post(delivery('init', { callback_url: undefined }), query)).statusCode).toBe(
      200,
    );
    expect((await t.post(delivery('init', { callback_url: null }), query)).statusCode).toBe(200);
    expect((await t.post(withCallback(hook('other', 'repo')), query)).statusCode).toBe(403);
  });
});
