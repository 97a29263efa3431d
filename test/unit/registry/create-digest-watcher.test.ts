import { parseImageRef, type ImageRef } from '../../../webapp/chain/parse-image-ref';
import { createDigestWatcher } from '../../../webapp/registry/create-digest-watcher';
import { RegistryError } from '../../../webapp/registry/create-oci-registry';
import { captureLogs } from '../../helpers/logs';

const SVC = 'ghcr.io/acme/svc:latest';
const APP = 'quay.io/acme/app:1.0';
const D = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;

type Answer = string | Error | undefined;

/** The watcher of two images; each read answers what `answer` last set, a turn later. */
function setup() {
  const answers = new Map<string, Answer>();
  /** nodes whose CI run is still going: their new digests are left to the run's end */
  const running = new Set<string>();
  const reads: string[] = [];
  const pushed: string[] = [];
  const logs = captureLogs();
  let now = Date.parse('2026-11-26T12:00:00Z');
  /** reads held until `release` is called, for overlapping looks */
  let hold: Promise<void> | undefined;
  const watcher = createDigestWatcher({
    nodes: [SVC, APP].map((id) => ({ id, image: parseImageRef(id) })),
    async readDigest(image: ImageRef) {
      reads.push(image.display);
      await new Promise((resolve) => setImmediate(resolve));
      if (hold !== undefined) await hold;
      const answer = answers.get(image.display);
      if (answer instanceof Error) throw answer;
      return answer;
    },
    onPushed: (node) => {
      if (running.has(node)) return false;
      pushed.push(node);
      return true;
    },
    log: logs.log,
    clock: { now: () => now },
  });
  const warnings = () => logs.entries().filter((line) => line.level === 40);
  return {
    watcher,
    reads,
    pushed,
    logs,
    warnings,
    running,
    answer: (id: string, value: Answer) => answers.set(id, value),
    tick: (ms: number) => (now += ms),
    holdReads: () => {
      let release = () => {};
      hold = new Promise<void>((resolve) => (release = resolve));
      return () => {
        hold = undefined;
        release();
      };
    },
  };
}

describe('createDigestWatcher: looks', () => {
  it('learns the digests at its first look and counts no push', async () => {
    const t = setup();
    t.answer(SVC, D(1));
    t.answer(APP, D(2));
    await t.watcher.look();
    expect(t.pushed).toEqual([]);
    expect(t.watcher.status()).toEqual({
      [SVC]: { digest: D(1), readAt: '2026-11-26T12:00:00.000Z', error: null, warning: null },
      [APP]: { digest: D(2), readAt: '2026-11-26T12:00:00.000Z', error: null, warning: null },
    });
  });

  it('counts a digest that changed as one push of that node, once', async () => {
    const t = setup();
    t.answer(SVC, D(1));
    t.answer(APP, D(2));
    await t.watcher.look();
    t.answer(SVC, D(3));
    t.tick(60_000);
    await t.watcher.look();
    await t.watcher.look();
    expect(t.pushed).toEqual([SVC]);
    expect(t.watcher.status()[SVC]).toMatchObject({
      digest: D(3),
      readAt: '2026-11-26T12:01:00.000Z',
    });
    const said = t.logs.entries().filter((line) => line.msg === `${SVC} has a new digest: pushed`);
    expect(said).toEqual([expect.objectContaining({ level: 30, from: D(1), to: D(3) })]);
  });

  it('counts nothing for an image the registry does not have (yet)', async () => {
    const t = setup();
    await t.watcher.look();
    t.answer(SVC, D(1));
    await t.watcher.look();
    expect(t.pushed).toEqual([]);
    expect(t.watcher.status()[SVC]?.digest).toBe(D(1));
  });

  it('shares one look between callers while it runs: each image is read once', async () => {
    const t = setup();
    t.answer(SVC, D(1));
    t.answer(APP, D(2));
    await t.watcher.look();
    t.answer(SVC, D(3));
    const release = t.holdReads();
    const first = t.watcher.look();
    const second = t.watcher.look();
    release();
    await Promise.all([first, second]);
    expect(t.reads).toEqual([SVC, APP, SVC, APP]);
    // Two looks comparing with the same old digest would count this push twice.
    expect(t.pushed).toEqual([SVC]);
    // Once it ended, the next look reads again.
    await t.watcher.look();
    expect(t.reads).toHaveLength(6);
  });
});

describe('createDigestWatcher: reads that fail', () => {
  it('says a failing read once, shows why in its status, and says when it can be read again', async () => {
    const t = setup();
    t.answer(SVC, D(1));
    t.answer(APP, D(2));
    await t.watcher.look();
    t.answer(SVC, new RegistryError('unreachable', `reading ${SVC}: connection refused`));
    for (let i = 0; i < 3; i++) await t.watcher.look();
    expect(t.warnings()).toEqual([
      expect.objectContaining({
        tag: SVC,
        msg: `cannot read the digest of ${SVC}: reading ${SVC}: connection refused`,
      }),
    ]);
    expect(t.watcher.status()[SVC]).toMatchObject({
      digest: D(1),
      error: `reading ${SVC}: connection refused`,
    });
    // The other image is read as ever.
    expect(t.watcher.status()[APP]?.error).toBeNull();
    t.answer(SVC, D(1));
    await t.watcher.look();
    expect(t.watcher.status()[SVC]?.error).toBeNull();
    expect(t.logs.entries().filter((line) => line.msg === `${SVC} can be read again`)).toHaveLength(
      1,
    );
    expect(t.pushed).toEqual([]);
  });

  it('says nothing of a read cut short by shutdown', async () => {
    const t = setup();
    t.answer(SVC, new RegistryError('aborted', 'aborted'));
    t.answer(APP, new RegistryError('aborted', 'aborted'));
    await t.watcher.look();
    expect(t.warnings()).toEqual([]);
    expect(t.watcher.status()[SVC]).toMatchObject({ error: null, readAt: null });
  });

  it('never throws, whatever the read throws', async () => {
    const t = setup();
    t.answer(SVC, new Error('socket hang up'));
    await expect(t.watcher.look()).resolves.toBeUndefined();
    await expect(t.watcher.built(SVC)).resolves.toBeUndefined();
    expect(t.watcher.status()[SVC]?.error).toBe('socket hang up');
  });
});

describe('createDigestWatcher: a build that counted (its CI run succeeded)', () => {
  it('takes the new digest read at once as that build, not as a second push', async () => {
    const t = setup();
    t.answer(SVC, D(1));
    await t.watcher.look();
    t.answer(SVC, D(3));
    await t.watcher.built(SVC);
    expect(t.reads.at(-1)).toBe(SVC);
    expect(t.pushed).toEqual([]);
    expect(t.watcher.status()[SVC]).toMatchObject({ digest: D(3), warning: null });
    expect(t.warnings()).toEqual([]);
    expect(
      t.logs
        .entries()
        .filter((line) => line.msg === `the registry confirms the new image of ${SVC}`),
    ).toHaveLength(1);
    // Nothing more to count at the next look.
    await t.watcher.look();
    expect(t.pushed).toEqual([]);
  });

  it("leaves a new digest read while the node's run goes on to the run's end, which it then confirms", async () => {
    const t = setup();
    t.answer(SVC, D(1));
    await t.watcher.look();
    t.running.add(SVC);
    t.answer(SVC, D(2));
    await t.watcher.look();
    expect(t.pushed).toEqual([]);
    t.running.delete(SVC);
    await t.watcher.built(SVC);
    expect(t.pushed).toEqual([]);
    expect(t.watcher.status()[SVC]).toMatchObject({ digest: D(2), warning: null });
    expect(t.warnings()).toEqual([]);
  });

  it('warns once, on the page and in the log, when the digest did not change, and blocks nothing', async () => {
    const t = setup();
    t.answer(SVC, D(1));
    t.answer(APP, D(2));
    await t.watcher.look();
    await expect(t.watcher.built(SVC)).resolves.toBeUndefined();
    expect(t.pushed).toEqual([]);
    const warning = t.watcher.status()[SVC]?.warning;
    expect(warning).toContain(
      `the build of ${SVC} succeeded, but its image's digest did not change`,
    );
    expect(warning).toContain(D(1).slice(0, 19));
    expect(t.warnings()).toEqual([expect.objectContaining({ tag: SVC, digest: D(1) })]);
    expect(String(t.warnings()[0]?.msg)).toMatch(/was it pushed\?$/);
    // The other node is untouched, and further looks say nothing more.
    expect(t.watcher.status()[APP]?.warning).toBeNull();
    await t.watcher.look();
    expect(t.warnings()).toHaveLength(1);
    expect(t.pushed).toEqual([]);
    // A later push is a push, and the warning goes.
    t.answer(SVC, D(4));
    await t.watcher.look();
    expect(t.pushed).toEqual([SVC]);
    expect(t.watcher.status()[SVC]?.warning).toBeNull();
  });

  it('waits for the next good read when the read at its end fails, and takes that as the build', async () => {
    const t = setup();
    t.answer(SVC, D(1));
    await t.watcher.look();
    t.answer(SVC, new Error('503'));
    await t.watcher.built(SVC);
    t.answer(SVC, D(3));
    await t.watcher.look();
    expect(t.pushed).toEqual([]);
    expect(t.watcher.status()[SVC]).toMatchObject({ digest: D(3), warning: null, error: null });
  });

  it('takes a delivery of the new digest as that build too', async () => {
    const t = setup();
    t.answer(SVC, D(1));
    await t.watcher.look();
    const release = t.holdReads();
    const reading = t.watcher.built(SVC);
    const delivered = t.watcher.seen(SVC, D(3));
    t.answer(SVC, D(3));
    release();
    await reading;
    await delivered;
    expect(t.pushed).toEqual([]);
    expect(t.warnings()).toEqual([]);
    expect(t.watcher.status()[SVC]).toMatchObject({ digest: D(3), warning: null });
  });

  it('ignores a node it does not watch', async () => {
    const t = setup();
    await t.watcher.built('acme/base:latest');
    await t.watcher.seen('acme/base:latest', D(1));
    expect(t.reads).toEqual([]);
    expect(t.pushed).toEqual([]);
    expect(Object.keys(t.watcher.status())).toEqual([SVC, APP]);
  });
});

describe('createDigestWatcher: deliveries (a package published)', () => {
  it('counts a delivery the registry shows as a push, even before any digest was read', async () => {
    const t = setup();
    t.answer(SVC, D(1));
    await t.watcher.seen(SVC, D(1));
    expect(t.pushed).toEqual([SVC]);
    expect(t.watcher.status()[SVC]?.digest).toBe(D(1));
    expect(t.reads).toEqual([SVC]);
  });

  it('takes a delivery as said when the registry cannot be read', async () => {
    const t = setup();
    t.answer(SVC, new RegistryError('unauthorized', 'ghcr.io/acme/svc:latest: HTTP 401'));
    await t.watcher.seen(SVC, D(1));
    expect(t.pushed).toEqual([SVC]);
  });

  it('counts the same digest once, whether delivered again or then read', async () => {
    const t = setup();
    t.answer(SVC, D(1));
    await t.watcher.seen(SVC, D(1));
    await t.watcher.seen(SVC, D(1));
    await t.watcher.look();
    expect(t.pushed).toEqual([SVC]);
  });

  it('counts no push for a late delivery of an older digest, nor for its repeat', async () => {
    const t = setup();
    t.answer(SVC, D(1));
    await t.watcher.look();
    t.answer(SVC, D(2));
    await t.watcher.look();
    expect(t.pushed).toEqual([SVC]);
    // GitHub redelivers the package event of D(1): the registry still holds D(2).
    await t.watcher.seen(SVC, D(1));
    await t.watcher.look();
    expect(t.pushed).toEqual([SVC]);
  });

  it('believes the registry over a delivery it does not show yet, and counts the push once it does', async () => {
    const t = setup();
    t.answer(SVC, D(1));
    await t.watcher.look();
    await t.watcher.seen(SVC, D(5));
    expect(t.pushed).toEqual([]);
    t.answer(SVC, D(5));
    await t.watcher.look();
    expect(t.pushed).toEqual([SVC]);
  });
});
