import { buildTestApp, delivery, flush } from '../../helpers/app';
import { eventually } from '../../helpers/eventually';
import { startFakeRegistry, type FakeRegistry } from '../../helpers/fake-registry';

const ALPINE = 'library/alpine:3.20';
const BASE = 'acme/base:latest';

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

  it('kicks nothing off for a digest that flaps at every look, and shows it waiting', async () => {
    const t = start({ TAG_SEQUENCE: 'a,b' });
    await t.looks();
    for (let look = 1; look <= 12; look++) {
      t.push('alpine', look % 2 === 1 ? 'sha256:a2' : 'sha256:a1');
      t.timers.advance(60_000);
      await t.looks();
    }
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
    for (let look = 0; look < 10; look++) {
      t.timers.advance(60_000);
      await t.looks();
    }
    expect(t.triggered).toEqual(['a']);
    expect(t.kickoffLines()).toHaveLength(1);
  });

  it('holds a change while the chain moves, then kicks off once when it is idle', async () => {
    const t = start({ TAG_SEQUENCE: 'a,b', UPSTREAM_QUIET: '0' });
    await t.looks();
    expect((await t.post(delivery('a'))).json()).toMatchObject({ next_tag: 'b' });
    t.push('alpine', 'sha256:a2');
    t.timers.advance(60_000);
    await t.looks();
    // b's trigger is pending: nothing kicked off, and it says so once
    expect(t.triggered).toEqual([]);
    expect((await t.upstream())[0]).toMatchObject({
      digest: 'sha256:a2',
      owedSince: new Date(t.timers.now()).toISOString(),
    });
    t.timers.advance(40_000);
    expect(t.triggered).toEqual(['b']);
    t.timers.advance(20_000);
    await t.looks();
    // b's push is awaited
    expect(t.triggered).toEqual(['b']);
    const waits = t.logs
      .entries()
      .filter((line) => /^upstream kick-off waits/.test(String(line.msg)));
    expect(waits).toEqual([
      expect.objectContaining({
        changed: [ALPINE],
        msg: `upstream kick-off waits: ${ALPINE} changed while the chain is moving (b's trigger is pending); it starts once the chain is idle`,
      }),
    ]);
    await t.post(delivery('b'));
    t.timers.advance(60_000);
    await t.looks();
    expect(t.triggered).toEqual(['b', 'a']);
    for (let look = 0; look < 3; look++) {
      t.timers.advance(60_000);
      await t.looks();
    }
    expect(t.triggered).toEqual(['b', 'a']);
    expect(t.kickoffLines()).toEqual([expect.objectContaining({ changed: [ALPINE], tag: 'a' })]);
    expect((await t.upstream())[0]?.owedSince).toBeNull();
  });

  it('kicks off once for two images that changed 2.5 s apart while the first tag was awaited', async () => {
    const t = start({ TAG_SEQUENCE: 'a', UPSTREAM_QUIET: '0', UPSTREAM_POLL_INTERVAL: '1' });
    await t.looks();
    // the first tag's push is awaited, as after any kick-off
    t.propagator.expect('a');
    t.push('alpine', 'sha256:a2');
    t.timers.advance(1000);
    await t.looks();
    t.timers.advance(1000);
    await t.looks();
    t.timers.advance(500);
    t.push('base', 'sha256:b2');
    t.timers.advance(500);
    await t.looks();
    t.timers.advance(1000);
    await t.looks();
    expect(t.triggered).toEqual([]);
    await t.post(delivery('a'));
    t.timers.advance(1000);
    await t.looks();
    t.timers.advance(1000);
    await t.looks();
    expect(t.triggered).toEqual(['a']);
    expect(t.kickoffLines()).toEqual([
      expect.objectContaining({
        changed: [ALPINE, BASE],
        msg: `upstream kick-off: ${ALPINE}, ${BASE} changed, triggering a`,
      }),
    ]);
  });

  it("takes a change that counted before the clock's kick-off as built by that chain", async () => {
    const t = start({ TAG_SEQUENCE: 'a,b', UPSTREAM_QUIET: '0', STALL_TIMEOUT: '0' });
    await t.looks();
    await t.post(delivery('a'));
    t.push('base', 'sha256:b2');
    t.timers.advance(60_000);
    await t.looks();
    t.timers.advance(40_000);
    expect(t.triggered).toEqual(['b']);
    // the chain is idle; the clock kicks it off before the next look
    t.web.clockKickedOff();
    for (let look = 0; look < 3; look++) {
      t.timers.advance(60_000);
      await t.looks();
    }
    expect(t.triggered).toEqual(['b']);
    expect(t.kickoffLines()).toEqual([]);
    expect(t.logs.entries()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          changed: [BASE],
          msg: `${BASE} changed before the clock's kick-off: that chain builds on it, no upstream kick-off of its own`,
        }),
      ]),
    );
    expect((await t.upstream())[1]?.owedSince).toBeNull();
  });

  it('holds a kick-off while a build it follows is still running, even with no push awaited', async () => {
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
    expect(t.triggered).toEqual(['a']);
    t.push('base', 'sha256:b2');
    t.timers.advance(30_000);
    await eventually(async () => (await build())?.state === 'in_progress', 'the run to be read');
    t.timers.advance(30_000);
    await t.looks();
    expect(t.triggered).toEqual(['a']);
    t.timers.advance(30_000);
    await eventually(async () => (await build())?.state === 'success', 'the run to end');
    t.timers.advance(30_000);
    await t.looks();
    expect(t.triggered).toEqual(['a', 'a']);
    expect(t.kickoffLines().map((line) => line.changed)).toEqual([[ALPINE], [BASE]]);
  });
});
