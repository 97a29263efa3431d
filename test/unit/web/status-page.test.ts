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
      ['step-3', 'awaited'],
      ['latest', 'none'],
    ]);
    expect(answer.body).toContain('maddouri/void-docker');
    expect(answer.body).toContain('<meta http-equiv="refresh"');
    expectNoSecret(answer.body);
    expectNoSecret(t.logs.text());
  });

  it('keeps / for itself: the webhook cannot be moved there', () => {
    expect(() => loadConfig({ PROPAGATION_ROUTE: '/' })).toThrow(ConfigError);
    expect(() => loadConfig({ PROPAGATION_ROUTE: '/' })).toThrow(
      /PROPAGATION_ROUTE: must not be \/, \/healthz or \/status/,
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
  const build = () =>
    buildTestApp({ WEBHOOK_SECRET: secret, DOCKERHUB_TRIGGER_TOKEN: triggerToken });

  it('refuses both without the token: a page that asks for it, and JSON', async () => {
    const t = build();
    const page = await t.app.inject('/');
    expect(page.statusCode).toBe(403);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('<input id="token" name="token" type="password"');
    expect(page.body).not.toContain('data-tag');
    const status = await t.app.inject('/status');
    expect(status.statusCode).toBe(403);
    expect(status.json()).toEqual({
      state: 'error',
      description: 'the token query parameter is missing or wrong',
    });
    expectNoSecret(page.body + status.body);
  });

  it('refuses a wrong token, and logs the refusal without any token', async () => {
    const t = build();
    for (const url of ['/?token=wrong-guess', '/status?token=wrong-guess', '/?token=a&token=b']) {
      expect([url, (await t.app.inject(url)).statusCode]).toEqual([url, 403]);
    }
    expect((await t.app.inject('/?token=wrong-guess')).body).toContain('That token is wrong.');
    const refusals = t.logs
      .entries()
      .filter((line) => line.msg === 'status refused: the token is wrong');
    expect(refusals).toHaveLength(4);
    expect(refusals[0]).toMatchObject({ level: 40, route: '/', status: 403 });
    expect(t.logs.text()).not.toContain('wrong-guess');
    expectNoSecret(t.logs.text());
  });

  it('takes the token once, remembers it in a cookie, and drops it from the address', async () => {
    const t = build();
    const given = await t.app.inject(`/?token=${secret}`);
    expect(given.statusCode).toBe(303);
    expect(given.headers.location).toBe('/');
    const setCookie = String(given.headers['set-cookie']);
    expect(setCookie).toMatch(/^status_token=[0-9a-f]{64}; Path=\/; HttpOnly; SameSite=Strict$/);
    expectNoSecret(setCookie + given.body);
    const cookie = setCookie.split(';')[0] as string;
    const page = await t.app.inject({ url: '/', headers: { cookie: `other=1; ${cookie}` } });
    expect(page.statusCode).toBe(200);
    expect(listed(page.body).map(([tag]) => tag)).toEqual(t.config.tagSequence);
    const status = await t.app.inject({ url: '/status', headers: { cookie } });
    expect(status.statusCode).toBe(200);
    expect(status.json().repository).toBe('maddouri/void-docker');
    expectNoSecret(page.body + status.body);
  });

  it('marks the cookie Secure behind HTTPS', async () => {
    const t = build();
    const given = await t.app.inject({
      url: `/?token=${secret}`,
      headers: { 'x-forwarded-proto': 'https' },
    });
    expect(String(given.headers['set-cookie'])).toMatch(/; Secure$/);
  });

  it('refuses a forged cookie, and a cookie of another secret', async () => {
    const t = build();
    const other = buildTestApp({ WEBHOOK_SECRET: 'another-secret-0123456789' });
    const theirs = String(
      (await other.app.inject('/?token=another-secret-0123456789')).headers['set-cookie'],
    ).split(';')[0] as string;
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

  it('leaves /healthz open', async () => {
    const t = build();
    const answer = await t.app.inject('/healthz');
    expect(answer.statusCode).toBe(200);
    expect(answer.json()).toEqual({ ok: true });
  });
});
