import { buildTestApp, delivery, flush } from '../../helpers/app';
import { eventually } from '../../helpers/eventually';
import { startFakeRegistry, type FakeRegistry } from '../../helpers/fake-registry';

const ALPINE = 'library/alpine:3.20';
const BASE = 'acme/base:latest';

/** A delivery of `tag` for a push `later` seconds after the one `delivery` announces. */
const pushedLater = (tag: string, later: number) =>
  delivery(tag, {
    push_data: {
      ...(delivery(tag).push_data as Record<string, unknown>),
      pushed_at: 1764158400 + later,
    },
  });

interface UpstreamView {
  image: string;
  digest: string | null;
  readAt: string | null;
  pending: { digest: string; since: string } | null;
  owedSince: string | null;
}

describe('upstream kick-offs in the web app', () => {
  let registry: FakeRegistry;
  let close: (() => Promise<void>) | undefined;
  beforeEach(async () => {
    registry = await startFakeRegistry();
  });
  afterEach(async () => {
    await close?.();
    close = undefined;
    await registry.close();
  });

  const start = (env: Record<string, string> = {}) => {
    const t = buildTestApp({
      DOCKERHUB_API_URL: registry.url,
      RECONCILE_INTERVAL: '0',
      UPSTREAM_IMAGES: 'alpine:3.20,acme/base',
      UPSTREAM_POLL_INTERVAL: '60',
      TRIGGER_RETRY_GIVE_UP: '0',
      ...env,
    });
    t.registry.enableNetConnect(/^127\.0\.0\.1:\d+$/);
    const images = t.config.upstreamImages.length;
    const upstream = async () => (await t.app.inject('/status')).json().upstream as UpstreamView[];
    let looked = 0;
    /** Waits for the next look to have read every image and acted on what it read. */
    const looks = async () => {
      looked++;
      await eventually(
        () => registry.requests.filter((r) => r.path.includes('/tags/')).length >= looked * images,
        `look ${looked} at the upstream images`,
      );
      const now = new Date(t.timers.now()).toISOString();
      await eventually(
        async () => (await upstream()).every((image) => image.readAt === now),
        `look ${looked} to end`,
      );
      await flush();
    };
    const push = (image: 'alpine' | 'base', digest: string) =>
      image === 'alpine'
        ? registry.recordPush('library', 'alpine', '3.20', new Date(), digest)
        : registry.recordPush('acme', 'base', 'latest', new Date(), digest);
    const kickoffLines = () =>
      t.logs.entries().filter((line) => String(line.msg).startsWith('upstream kick-off:'));
    push('alpine', 'sha256:a1');
    push('base', 'sha256:b1');
    t.web.start();
    close = () => t.web.close();
    return { ...t, looks, push, upstream, kickoffLines };
  };

  it('kicks nothing off for a digest that flaps at every look, and once for one that lasts', async () => {
    const t = start({ TAG_SEQUENCE: 'a,b' });
    await t.looks();
    for (let look = 1; look <= 12; look++) {
      t.push('alpine', look % 2 === 1 ? 'sha256:a2' : 'sha256:a1');
      t.timers.advance(60_000);
      await t.looks();
    }
    t.timers.advance(0);
    expect(t.triggered).toEqual([]);
    expect(t.kickoffLines()).toEqual([]);
    // one more new digest: /status says why nothing happened yet
    t.push('alpine', 'sha256:a3');
    t.timers.advance(60_000);
    await t.looks();
    const since = new Date(t.timers.now()).toISOString();
    expect((await t.upstream())[0]).toMatchObject({
      image: ALPINE,
      digest: 'sha256:a1',
      pending: { digest: 'sha256:a3', since },
      owedSince: null,
    });
    // UPSTREAM_QUIET is 600 s: nine looks later it has not lasted long enough
    for (let look = 0; look < 9; look++) {
      t.timers.advance(60_000);
      await t.looks();
    }
    t.timers.advance(0);
    expect(t.triggered).toEqual([]);
    expect(t.kickoffLines()).toEqual([]);
    // the tenth counts: the first tag is queued due at once, and goes at the next tick
    t.timers.advance(60_000);
    await t.looks();
    const counted = new Date(t.timers.now()).toISOString();
    expect(t.kickoffLines()).toEqual([
      expect.objectContaining({
        changed: [ALPINE],
        tag: 'a',
        msg: `upstream kick-off: ${ALPINE} changed, triggering a`,
      }),
    ]);
    expect((await t.upstream())[0]).toMatchObject({
      digest: 'sha256:a3',
      pending: null,
      owedSince: null,
    });
    expect(t.propagator.status().pending).toEqual([
      expect.objectContaining({ tag: 'a', dueAt: counted }),
    ]);
    t.timers.advance(0);
    await flush();
    expect(t.triggered).toEqual(['a']);
    for (let look = 0; look < 3; look++) {
      t.timers.advance(60_000);
      await t.looks();
    }
    expect(t.triggered).toEqual(['a']);
    expect(t.kickoffLines()).toHaveLength(1);
  });

  it('joins a change to the wave in flight: b is held while a builds, then triggered once', async () => {
    const t = start({ TAG_SEQUENCE: 'a,b', UPSTREAM_QUIET: '0' });
    await t.looks();
    const t0 = t.timers.now();
    const iso = (ms: number) => new Date(t0 + ms).toISOString();
    expect((await t.post(delivery('a'))).json()).toMatchObject({ next_tag: 'b' });
    expect(t.propagator.status().pending).toEqual([
      expect.objectContaining({ tag: 'b', dueAt: iso(100_000) }),
    ]);
    t.push('alpine', 'sha256:a2');
    t.timers.advance(60_000);
    await t.looks();
    // the change counts while b's trigger is pending: a, built from it, is queued at once
    expect(t.kickoffLines()).toEqual([
      expect.objectContaining({
        changed: [ALPINE],
        tag: 'a',
        msg: `upstream kick-off: ${ALPINE} changed, triggering a`,
      }),
    ]);
    expect((await t.upstream())[0]).toMatchObject({ digest: 'sha256:a2', owedSince: null });
    t.timers.advance(0);
    await flush();
    expect(t.triggered).toEqual(['a']);
    // b's time comes while a builds: its trigger is held, still pending, not sent
    t.timers.advance(40_000);
    expect(t.triggered).toEqual(['a']);
    expect(t.propagator.status().pending.map((entry) => entry.tag)).toEqual(['b']);
    expect(t.propagator.status().awaiting.map((entry) => entry.tag)).toEqual(['a']);
    t.timers.advance(20_000);
    await t.looks();
    expect(t.triggered).toEqual(['a']);
    // a's push releases b, due PROPAGATION_DELAY after that push
    const pushedAt = 120_000;
    await t.post(pushedLater('a', 120));
    expect(t.propagator.status().pending).toEqual([
      expect.objectContaining({ tag: 'b', dueAt: iso(pushedAt + 100_000) }),
    ]);
    t.timers.advance(60_000);
    await t.looks();
    t.timers.advance(39_999);
    expect(t.triggered).toEqual(['a']);
    t.timers.advance(1);
    expect(t.triggered).toEqual(['a', 'b']);
    await t.post(pushedLater('b', 220));
    t.timers.advance(20_000);
    await t.looks();
    for (let look = 0; look < 3; look++) {
      t.timers.advance(60_000);
      await t.looks();
    }
    expect(t.triggered).toEqual(['a', 'b']);
    expect(t.kickoffLines()).toHaveLength(1);
    expect(t.propagator.status()).toMatchObject({ pending: [], awaiting: [], wave: null });
  });

  it('triggers the first tag once for two images that changed 2.5 s apart while it was awaited', async () => {
    const t = start({
      TAG_SEQUENCE: 'a',
      UPSTREAM_QUIET: '0',
      UPSTREAM_POLL_INTERVAL: '1',
      PROPAGATION_DELAY: '5',
    });
    await t.looks();
    const t0 = t.timers.now();
    // the first tag's push is awaited, as after any kick-off
    t.propagator.expect('a');
    t.push('alpine', 'sha256:a2');
    t.timers.advance(1000);
    await t.looks();
    // a's build is awaited: its next trigger waits PROPAGATION_DELAY from the awaited one
    expect(t.propagator.status().pending).toEqual([
      expect.objectContaining({ tag: 'a', dueAt: new Date(t0 + 5000).toISOString() }),
    ]);
    t.timers.advance(1000);
    await t.looks();
    t.timers.advance(500);
    t.push('base', 'sha256:b2');
    t.timers.advance(500);
    await t.looks();
    t.timers.advance(1000);
    await t.looks();
    expect(t.triggered).toEqual([]);
    // the awaited build's push does not drop the trigger queued since for the later changes
    await t.post(delivery('a'));
    expect(t.propagator.status().pending.map((entry) => entry.tag)).toEqual(['a']);
    t.timers.advance(999);
    expect(t.triggered).toEqual([]);
    t.timers.advance(1);
    expect(t.triggered).toEqual(['a']);
    await t.looks();
    for (let look = 0; look < 3; look++) {
      t.timers.advance(1000);
      await t.looks();
    }
    expect(t.triggered).toEqual(['a']);
    // each image's change is told when it counts; one trigger builds both
    expect(t.kickoffLines()).toEqual([
      expect.objectContaining({
        changed: [ALPINE],
        msg: `upstream kick-off: ${ALPINE} changed, triggering a`,
      }),
      expect.objectContaining({
        changed: [BASE],
        msg: `upstream kick-off: ${BASE} changed, triggering a`,
      }),
    ]);
    expect((await t.upstream()).map((image) => image.owedSince)).toEqual([null, null]);
  });

  it('builds nothing more for a change already built when the clock kicks off', async () => {
    const t = start({ TAG_SEQUENCE: 'a,b', UPSTREAM_QUIET: '0', STALL_TIMEOUT: '0' });
    await t.looks();
    await t.post(delivery('a'));
    t.push('base', 'sha256:b2');
    t.timers.advance(60_000);
    await t.looks();
    t.timers.advance(0);
    await flush();
    expect(t.triggered).toEqual(['a']);
    // the change is built down the line: a's push, then b's
    t.timers.advance(60_000);
    await t.looks();
    await t.post(pushedLater('a', 120));
    t.timers.advance(60_000);
    await t.looks();
    t.timers.advance(40_000);
    expect(t.triggered).toEqual(['a', 'b']);
    await t.post(pushedLater('b', 220));
    t.timers.advance(20_000);
    await t.looks();
    expect(t.propagator.status()).toMatchObject({ pending: [], awaiting: [], wave: null });
    // the chain is idle; the clock kicks it off before the next look
    t.web.clockKickedOff();
    for (let look = 0; look < 3; look++) {
      t.timers.advance(60_000);
      await t.looks();
    }
    // the clock's trigger of a is awaited; the app sends nothing of its own for the change
    expect(t.triggered).toEqual(['a', 'b']);
    expect(t.propagator.status()).toMatchObject({ pending: [], awaiting: [{ tag: 'a' }] });
    expect(t.kickoffLines()).toEqual([expect.objectContaining({ changed: [BASE], tag: 'a' })]);
    expect((await t.upstream())[1]?.owedSince).toBeNull();
  });

  it('builds a change during a followed build once more, PROPAGATION_DELAY after its trigger', async () => {
    const t = start({
      TAG_SEQUENCE: 'a',
      UPSTREAM_QUIET: '0',
      STALL_TIMEOUT: '0',
      BUILD_TARGET: 'github',
      BUILD_GITHUB_REPOSITORY: 'acme/app',
      BUILD_GITHUB_WORKFLOW: 'build.yml',
      BUILD_GITHUB_TOKEN: 'ghp_upstream-test-token',
      BUILD_POLL_INTERVAL: '30',
    });
    t.failTriggers({
      ok: true,
      dryRun: false,
      attempts: 1,
      status: 200,
      run: { id: '7', url: null, state: 'queued' },
    });
    const github = t.registry.get('https://api.github.com');
    const run = { path: '/repos/acme/app/actions/runs/7', method: 'GET' };
    github.intercept(run).reply(200, { id: 7, status: 'in_progress' }).times(2);
    github.intercept(run).reply(200, { id: 7, status: 'completed', conclusion: 'success' });
    const build = async () =>
      (await t.app.inject('/status')).json().tags[0].build as { state: string } | null;
    await t.looks();
    t.push('alpine', 'sha256:a2');
    t.timers.advance(60_000);
    await t.looks();
    t.timers.advance(0);
    await flush();
    expect(t.triggered).toEqual(['a']);
    const firstTrigger = t.timers.now();
    t.push('base', 'sha256:b2');
    t.timers.advance(30_000);
    await eventually(async () => (await build())?.state === 'in_progress', 'the run to be read');
    t.timers.advance(30_000);
    await t.looks();
    // base counted while a's run is followed: a is owed again, queued for 100 s after its trigger
    expect(t.propagator.status().pending).toEqual([
      expect.objectContaining({ tag: 'a', dueAt: new Date(firstTrigger + 100_000).toISOString() }),
    ]);
    expect(t.triggered).toEqual(['a']);
    t.timers.advance(30_000);
    await eventually(async () => (await build())?.state === 'success', 'the run to end');
    t.timers.advance(9_999);
    expect(t.triggered).toEqual(['a']);
    t.timers.advance(1);
    expect(t.triggered).toEqual(['a', 'a']);
    t.timers.advance(20_000);
    await t.looks();
    expect(t.triggered).toEqual(['a', 'a']);
    expect(t.kickoffLines().map((line) => line.changed)).toEqual([[ALPINE], [BASE]]);
  });
});
