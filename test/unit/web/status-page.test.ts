import { ConfigError, loadConfig } from '../../../webapp/config';
import { buildTestApp, delivery, flush } from '../../helpers/app';

const secret = 'page-secret-0123456789abcdef';
const triggerToken = 'page-trigger-token-9876';

/** [tag, state] of every tag the page lists, in its order. */
const listed = (html: string) =>
  [...html.matchAll(/data-tag="([^"]*)" data-state="([^"]*)"/g)].map((match) => [
    match[1],
    match[2],
  ]);

/** Every answer and log line must be free of the secrets. */
function expectNoSecret(text: string) {
  expect(text).not.toContain(secret);
  expect(text).not.toContain(triggerToken);
}

describe('the status page at GET /', () => {
  it('shows every tag in order with its state, and the repository', async () => {
    const t = buildTestApp({ DOCKERHUB_TRIGGER_TOKEN: triggerToken });
    await t.post(delivery('init'));
    await t.post(delivery('step-2'));
    t.timers.advance(100_000);
    await flush();
    await t.post(delivery('step-1'));
    const answer = await t.app.inject('/');
    expect(answer.statusCode).toBe(200);
    expect(answer.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(answer.headers['cache-control']).toBe('no-store');
    expect(answer.headers['content-security-policy']).toContain("default-src 'none'");
    expect(listed(answer.body)).toEqual([
      ['init', 'built'],
      ['step-1', 'built'],
      ['step-2', 'pending'],
      // step-3 waits for step-2, which waits for its trigger: each is built once
      ['step-3', 'waiting'],
      ['latest', 'waiting'],
    ]);
    expect(answer.body).toContain('maddouri/void-docker');
    expect(answer.body).toContain('<meta http-equiv="refresh"');
    expectNoSecret(answer.body);
    expectNoSecret(t.logs.text());
  });

  it('keeps / for itself: the webhook cannot be moved there', () => {
    expect(() => loadConfig({ PROPAGATION_ROUTE: '/' })).toThrow(ConfigError);
    expect(() => loadConfig({ PROPAGATION_ROUTE: '/' })).toThrow(
      /PROPAGATION_ROUTE: must not be \/, \/healthz, \/status or \/github/,
    );
  });

  it('answers HEAD as GET, without a body', async () => {
    const t = buildTestApp();
    const answer = await t.app.inject({ method: 'HEAD', url: '/' });
    expect(answer.statusCode).toBe(200);
    expect(answer.body).toBe('');
  });
});

describe('the token of / and /status, with WEBHOOK_SECRET set', () => {
  const build = (secrets = secret) =>
    buildTestApp({ WEBHOOK_SECRET: secrets, DOCKERHUB_TRIGGER_TOKEN: triggerToken });
  type TestApp = ReturnType<typeof build>;
  const statusRefused =
    'the token is missing or wrong: send the secret as Authorization: Bearer <secret>, as the password of Basic credentials, or as ?token=<secret>, which is logged';
  const basic = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`;
  const form = (t: TestApp, payload: string, headers: Record<string, string> = {}) =>
    t.app.inject({
      method: 'POST',
      url: '/',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      payload,
    });
  const cookieOf = (answer: { headers: Record<string, unknown> }) =>
    String(answer.headers['set-cookie']).split(';')[0] as string;

  it('refuses both without the token: a page with a form that POSTs it, and JSON', async () => {
    const t = build();
    const page = await t.app.inject('/');
    expect(page.statusCode).toBe(403);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toContain("form-action 'self'");
    expect(page.body).toContain('<form method="post" action="/">');
    expect(page.body).toContain('<input id="token" name="token" type="password"');
    expect(page.body).not.toContain('data-tag');
    const status = await t.app.inject('/status');
    expect(status.statusCode).toBe(403);
    expect(status.json()).toEqual({ state: 'error', description: statusRefused });
    expectNoSecret(page.body + status.body);
  });

  it('refuses a wrong token, and logs the refusal without any token', async () => {
    const t = build();
    for (const payload of [
      'token=wrong-guess',
      'token=a&token=b',
      `token=${secret}&token=${secret}`,
    ]) {
      const answer = await form(t, payload);
      expect([payload, answer.statusCode]).toEqual([payload, 403]);
      expect(answer.headers['set-cookie']).toBeUndefined();
      expect(answer.body).toContain('That token is wrong.');
      expect(answer.body).toContain('<form method="post" action="/">');
    }
    expect((await t.app.inject('/status?token=wrong-guess')).statusCode).toBe(403);
    const refusals = t.logs
      .entries()
      .filter((line) => line.msg === 'status refused: the token is wrong');
    expect(refusals).toHaveLength(4);
    expect(refusals[0]).toMatchObject({ level: 40, route: '/', status: 403 });
    expect(t.logs.text()).not.toContain('wrong-guess');
    expectNoSecret(t.logs.text());
  });

  it('takes the token from the form, remembers it in a cookie, and sends the browser to /', async () => {
    const t = build();
    const given = await form(t, `token=${encodeURIComponent(secret)}`);
    expect(given.statusCode).toBe(303);
    expect(given.headers.location).toBe('/');
    const setCookie = String(given.headers['set-cookie']);
    expect(setCookie).toMatch(/^status_token=[0-9a-f]{64}; Path=\/; HttpOnly; SameSite=Strict$/);
    expectNoSecret(setCookie + given.body);
    const cookie = cookieOf(given);
    const page = await t.app.inject({ url: '/', headers: { cookie: `other=1; ${cookie}` } });
    expect(page.statusCode).toBe(200);
    expect(listed(page.body).map(([tag]) => tag)).toEqual(t.config.tagSequence);
    const status = await t.app.inject({ url: '/status', headers: { cookie } });
    expect(status.statusCode).toBe(200);
    expect(status.json().repository).toBe('maddouri/void-docker');
    expectNoSecret(page.body + status.body + t.logs.text());
  });

  it('no longer takes the token in the address: the form, a word on logs, and no cookie', async () => {
    const t = build();
    for (const url of [`/?token=${secret}`, '/?token=wrong-guess', `/?token=${secret}&token=x`]) {
      const answer = await t.app.inject(url);
      expect([url, answer.statusCode]).toEqual([url, 403]);
      expect(answer.headers['set-cookie']).toBeUndefined();
      expect(answer.body).toContain('<form method="post" action="/">');
      expect(answer.body).toContain('A token in the address is not taken');
      expect(answer.body).toContain('ends up in the logs');
      expect(answer.body).not.toContain('data-tag');
      expectNoSecret(answer.body);
    }
    expect(t.logs.text()).not.toContain('wrong-guess');
    expectNoSecret(t.logs.text());
  });

  it('answers a form it cannot read with a clear error, and changes nothing', async () => {
    const t = build();
    const cases: [string, Record<string, string>, number, string][] = [
      ['token=%zz', {}, 400, 'the form is not valid application/x-www-form-urlencoded'],
      [`token=${'x'.repeat(3000)}`, {}, 413, 'the body is larger than 2048 bytes'],
      [
        JSON.stringify({ token: secret }),
        { 'content-type': 'application/json' },
        415,
        'the form must be sent as application/x-www-form-urlencoded',
      ],
    ];
    for (const [payload, headers, code, description] of cases) {
      const answer = await form(t, payload, headers);
      expect([description, answer.statusCode]).toEqual([description, code]);
      expect(answer.json()).toEqual({ state: 'error', description });
      expect(answer.headers['set-cookie']).toBeUndefined();
    }
    const empty = await form(t, '');
    expect(empty.statusCode).toBe(403);
    expect(empty.body).not.toContain('That token is wrong.');
    expectNoSecret(t.logs.text());
  });

  it('still answers a delivery sent as a form on the webhook with 415', async () => {
    const t = build();
    const answer = await t.app.inject({
      method: 'POST',
      url: `/propagate?token=${secret}`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'a=b',
    });
    expect(answer.statusCode).toBe(415);
  });

  it('marks the cookie Secure behind HTTPS', async () => {
    const t = build();
    const given = await form(t, `token=${secret}`, { 'x-forwarded-proto': 'https' });
    expect(String(given.headers['set-cookie'])).toMatch(/; Secure$/);
  });

  it('refuses a forged cookie, and a cookie of another secret', async () => {
    const t = build();
    const other = buildTestApp({ WEBHOOK_SECRET: 'another-secret-0123456789' });
    const theirs = cookieOf(await form(other, 'token=another-secret-0123456789'));
    for (const cookie of [theirs, `status_token=${secret}`, 'status_token=']) {
      const answer = await t.app.inject({ url: '/', headers: { cookie } });
      expect([cookie, answer.statusCode]).toEqual([cookie, 403]);
    }
  });

  it('answers /status to the token in the query, as a client without cookies sends it', async () => {
    const t = build();
    const status = await t.app.inject(`/status?token=${secret}`);
    expect(status.statusCode).toBe(200);
    expect(status.headers['set-cookie']).toBeUndefined();
    expectNoSecret(status.body);
  });

  it('answers /status to a Bearer token or Basic credentials, which stay out of the address', async () => {
    const t = build();
    for (const authorization of [
      `Bearer ${secret}`,
      basic(`hook:${secret}`),
      basic(`:${secret}`),
    ]) {
      const status = await t.app.inject({ url: '/status', headers: { authorization } });
      expect([authorization, status.statusCode]).toEqual([authorization, 200]);
      expect(status.headers['set-cookie']).toBeUndefined();
      expectNoSecret(status.body);
    }
    for (const authorization of ['Bearer wrong-guess', basic('hook:wrong-guess')]) {
      const status = await t.app.inject({ url: '/status', headers: { authorization } });
      expect([authorization, status.statusCode]).toEqual([authorization, 403]);
      expect(status.json()).toEqual({ state: 'error', description: statusRefused });
    }
    const malformed = await t.app.inject({
      url: '/status',
      headers: { authorization: 'Basic %%%' },
    });
    expect(malformed.statusCode).toBe(403);
    expect(malformed.json().description).toMatch(
      /^the Authorization header's Basic credentials are not base64: send the secret as/,
    );
    // the page itself takes the form and the cookie only
    const page = await t.app.inject({ url: '/', headers: { authorization: `Bearer ${secret}` } });
    expect(page.statusCode).toBe(403);
    expect(t.logs.text()).not.toContain('wrong-guess');
    expectNoSecret(t.logs.text());
  });

  it('takes either of two secrets everywhere, and the cookie of either', async () => {
    const older = 'older-page-secret-0123456789';
    const t = build(`${secret},${older}`);
    const cookies: string[] = [];
    for (const given of [secret, older]) {
      const answer = await form(t, `token=${given}`);
      expect(answer.statusCode).toBe(303);
      cookies.push(cookieOf(answer));
      expect((await t.app.inject(`/status?token=${given}`)).statusCode).toBe(200);
      const bearer = { authorization: `Bearer ${given}` };
      expect((await t.app.inject({ url: '/status', headers: bearer })).statusCode).toBe(200);
    }
    expect(cookies[0]).not.toEqual(cookies[1]);
    for (const cookie of cookies) {
      expect((await t.app.inject({ url: '/', headers: { cookie } })).statusCode).toBe(200);
    }
    // a cookie of the old secret opens nothing once the old secret is dropped
    const after = build(secret);
    expect((await after.app.inject({ url: '/', headers: { cookie: cookies[1] } })).statusCode).toBe(
      403,
    );
    expect((await after.app.inject({ url: '/', headers: { cookie: cookies[0] } })).statusCode).toBe(
      200,
    );
    expect((await form(t, `token=${secret},${older}`)).statusCode).toBe(403);
    expect(t.logs.text()).not.toContain(older);
    expectNoSecret(t.logs.text());
  });

  it('leaves /healthz open', async () => {
    const t = build();
    const answer = await t.app.inject('/healthz');
    expect(answer.statusCode).toBe(200);
    expect(answer.json()).toEqual({ ok: true });
  });
});
