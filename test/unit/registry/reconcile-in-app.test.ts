import { buildTestApp, delivery } from '../../helpers/app';
import { eventually } from '../../helpers/eventually';
import { startFakeRegistry, type FakeRegistry } from '../../helpers/fake-registry';

const token = 'dckr_pat_reconcile-secret';

describe('reconciliation in the web app', () => {
  let registry: FakeRegistry;
  let close: (() => Promise<void>) | undefined;
  beforeEach(async () => {
    registry = await startFakeRegistry();
    // the repository exists, with a push too old to count
    registry.recordPush('maddouri', 'void-docker', 'latest', new Date(Date.UTC(2026, 10, 20)));
  });
  afterEach(async () => {
    await close?.();
    await registry.close();
  });

  const start = (env: Record<string, string> = {}) => {
    const t = buildTestApp({
      DOCKERHUB_API_URL: registry.url,
      RECONCILE_INTERVAL: '60',
      TRIGGER_RETRY_GIVE_UP: '0',
      ...env,
    });
    t.registry.enableNetConnect(/^127\.0\.0\.1:\d+$/);
    t.web.start();
    close = () => t.web.close();
    const reconciliation = async () =>
      (await t.app.inject('/status')).json().reconciliation as {
        lastLook: string | null;
        outcome: string | null;
      };
    const looks = async (count: number) => {
      await eventually(
        () => registry.requests.filter((r) => r.path.includes('/tags')).length >= count,
        `${count} look(s) at the registry`,
      );
      // The registry records a request as it arrives; the app acts on the answer, and sets its
      // next look, only once it has read it. Only then is lastLook the manual clock's time.
      const now = new Date(t.timers.now()).toISOString();
      await eventually(
        async () => (await reconciliation()).lastLook === now,
        `look ${count} to end`,
      );
    };
    const outcome = async () => (await reconciliation()).outcome;
    return { ...t, looks, outcome };
  };

  it('propagates a push whose webhook never came, and takes its late webhook as a repeat', async () => {
    const t = start();
    await t.looks(1);
    const pushedAt = new Date(t.timers.now());
    registry.recordPush('maddouri', 'void-docker', 'init', pushedAt);
    t.timers.advance(60_000);
    await t.looks(2);
    // due PROPAGATION_DELAY (100 s) after the push: not yet
    expect(t.triggered).toEqual([]);
    t.timers.advance(45_000);
    expect(t.triggered).toEqual(['step-1']);
    const late = delivery('init', {
      push_data: { tag: 'init', pushed_at: Math.floor(pushedAt.getTime() / 1000) },
    });
    expect((await t.post(late)).json()).toMatchObject({ duplicate: true });
    t.timers.advance(60_000);
    await t.looks(3);
    t.timers.advance(200_000);
    expect(t.triggered).toEqual(['step-1']);
    const lines = t.logs.entries().filter((line) => line.unit === 'reconcile' && line.level === 30);
    expect(lines).toEqual([expect.objectContaining({ tag: 'init', decision: 'propagate' })]);
  });

  it.each([
    ["90 s before the registry's time", -90, true],
    ['the same second, truncated', 0, true],
    ['without pushed_at', undefined, true],
    ["a second after the registry's time, a new push", 1, false],
  ])(
    'after propagating a push from the registry, takes a late webhook %s as %s',
    async (_what, offset, repeat) => {
      const t = start();
      await t.looks(1);
      const pushedAt = new Date(t.timers.now() - 600);
      registry.recordPush('maddouri', 'void-docker', 'init', pushedAt);
      t.timers.advance(60_000);
      await t.looks(2);
      t.timers.advance(45_000);
      expect(t.triggered).toEqual(['step-1']);
      const seconds = Math.floor(pushedAt.getTime() / 1000) + (offset ?? 0);
      const late = delivery('init', {
        push_data: offset === undefined ? { tag: 'init' } : { tag: 'init', pushed_at: seconds },
      });
      const answer = (await t.post(late)).json();
      expect(answer.duplicate === true).toBe(repeat);
      t.timers.advance(200_000);
      expect(t.triggered).toEqual(repeat ? ['step-1'] : ['step-1', 'step-1']);
    },
  );

  it('recovers a lost webhook when a later tag says it was pushed in 2099, and shows no such time', async () => {
    registry.recordPush('maddouri', 'void-docker', 'step-2', new Date('2099-01-01T00:00:00Z'));
    const t = start();
    await t.looks(1);
    registry.recordPush('maddouri', 'void-docker', 'init', new Date(t.timers.now()));
    t.timers.advance(60_000);
    await t.looks(2);
    t.timers.advance(45_000);
    expect(t.triggered).toEqual(['step-1']);
    const status = (await t.app.inject('/status')).json();
    expect(status.tags[2]).toMatchObject({ tag: 'step-2', registryPush: null });
    const page = (await t.app.inject('/')).body;
    expect(page).not.toContain('2099');
  });

  it('says once that Docker Hub cannot be read, keeps the webhook working, and says when it can', async () => {
    registry.setFailure({ status: 503 });
    const t = start();
    await t.looks(1);
    t.timers.advance(60_000);
    await t.looks(2);
    await eventually(async () => /503/.test((await t.outcome()) ?? ''), 'the failed look');
    expect((await t.post(delivery('init'))).statusCode).toBe(200);
    const warnings = () =>
      t.logs.entries().filter((line) => line.unit === 'reconcile' && line.level === 40);
    expect(warnings()).toEqual([
      expect.objectContaining({
        msg: expect.stringMatching(/cannot read the tags of maddouri\/void-docker/),
      }),
    ]);
    registry.setFailure(undefined);
    t.timers.advance(60_000);
    await eventually(async () => (await t.outcome()) === 'ok', 'a look after the outage');
    expect(warnings()).toHaveLength(1);
    expect(t.logs.text()).toMatch(/can be read again/);
  });

  it('logs in to read a private repository, and never shows the token', async () => {
    registry.requireLogin('acme', token);
    registry.recordPush(
      'maddouri',
      'void-docker',
      'step-2',
      new Date(Date.UTC(2026, 10, 26, 11, 59)),
    );
    const t = start({ DOCKERHUB_API_USER: 'acme', DOCKERHUB_API_TOKEN: token });
    await t.looks(1);
    const status = (await t.app.inject('/status')).body;
    expect(JSON.parse(status).tags[2]).toMatchObject({
      tag: 'step-2',
      registryPush: '2026-11-26T11:59:00.000Z',
    });
    // pushed a minute before this process started: its trigger was still owed
    t.timers.advance(40_000);
    expect(t.triggered).toEqual(['step-3']);
    expect(registry.requests.some((r) => r.path === '/v2/auth/token')).toBe(true);
    expect(`${t.logs.text()}${status}`).not.toContain(token);
  });

  it('refuses a login without its token, or a token without its login', () => {
    expect(() => buildTestApp({ DOCKERHUB_API_TOKEN: token })).toThrow(
      /DOCKERHUB_API_USER and DOCKERHUB_API_TOKEN: set both, or neither/,
    );
    expect(() => buildTestApp({ DOCKERHUB_API_TOKEN: token })).not.toThrow(new RegExp(token));
  });
});
