import { HubApiError } from '../../../webapp/registry/create-hub-api';
import {
  createUpstreamWatcher,
  upstreamReadsAtOnce,
} from '../../../webapp/registry/create-upstream-watcher';
import { parseImageList } from '../../../webapp/chain/parse-image-ref';
import { captureLogs } from '../../helpers/logs';

type Answer = string | Error | undefined;

function setup(list = 'alpine:3.20, acme/base', quiet = 0) {
  const answers = new Map<string, Answer>();
  const calls: string[] = [];
  const logs = captureLogs();
  let clock = Date.parse('2026-11-26T12:00:00Z');
  const reads = { inFlight: 0, most: 0 };
  const watcher = createUpstreamWatcher({
    images: parseImageList(list),
    log: logs.log,
    clock: { now: () => clock },
    quiet,
    async readDigest({ display: image }) {
      calls.push(image);
      reads.most = Math.max(reads.most, ++reads.inFlight);
      // Answers come a turn of the event loop later, as a socket's would.
      await new Promise((resolve) => setImmediate(resolve));
      reads.inFlight--;
      const answer = answers.get(image);
      if (answer instanceof Error) throw answer;
      return answer;
    },
  });
  return {
    watcher,
    logs,
    calls,
    reads,
    answer: (image: string, value: Answer) => answers.set(image, value),
    tick: (ms: number) => (clock += ms),
  };
}

const quiet = 600_000;
const poll = 60_000;

const ALPINE = 'library/alpine:3.20';
const BASE = 'acme/base:latest';

describe('createUpstreamWatcher', () => {
  it('only learns the digests on the first look', async () => {
    const { watcher, answer, calls } = setup();
    answer(ALPINE, 'sha256:a1');
    answer(BASE, 'sha256:b1');
    expect(await watcher.look()).toEqual({ changed: [] });
    expect(calls).toEqual([ALPINE, BASE]);
    const read = { readAt: '2026-11-26T12:00:00.000Z', error: null, pending: null };
    expect(watcher.status()).toEqual([
      { image: ALPINE, digest: 'sha256:a1', ...read, owedSince: null },
      { image: BASE, digest: 'sha256:b1', ...read, owedSince: null },
    ]);
  });

  it('reports the images whose digest changed since the last look, once', async () => {
    const { watcher, answer, logs } = setup();
    answer(ALPINE, 'sha256:a1');
    answer(BASE, 'sha256:b1');
    await watcher.look();
    answer(ALPINE, 'sha256:a2');
    answer(BASE, 'sha256:b2');
    expect(await watcher.look()).toEqual({ changed: [ALPINE, BASE] });
    expect(await watcher.look()).toEqual({ changed: [] });
    expect(
      logs.entries().filter((line) => line.msg === `upstream image ${ALPINE} changed`),
    ).toEqual([expect.objectContaining({ from: 'sha256:a1', to: 'sha256:a2' })]);
  });

  it('logs a failing read once per outage, keeps the digest, and logs the recovery', async () => {
    const { watcher, answer, logs, tick } = setup();
    answer(ALPINE, 'sha256:a1');
    answer(BASE, 'sha256:b1');
    await watcher.look();
    answer(ALPINE, new HubApiError('unreachable', 'reading library/alpine:3.20 failed: ETIMEDOUT'));
    tick(60_000);
    for (let i = 0; i < 3; i++) expect(await watcher.look()).toEqual({ changed: [] });
    expect(watcher.status()[0]).toEqual({
      image: ALPINE,
      digest: 'sha256:a1',
      readAt: '2026-11-26T12:00:00.000Z',
      error: 'reading library/alpine:3.20 failed: ETIMEDOUT',
      pending: null,
      owedSince: null,
    });
    expect(watcher.status()[1]).toMatchObject({ readAt: '2026-11-26T12:01:00.000Z', error: null });
    answer(ALPINE, 'sha256:a2');
    expect(await watcher.look()).toEqual({ changed: [ALPINE] });
    expect(watcher.status()[0]).toMatchObject({ digest: 'sha256:a2', error: null });
    expect(logs.entries().map((line) => [line.level, line.msg])).toEqual([
      [40, `cannot read upstream image ${ALPINE}: reading library/alpine:3.20 failed: ETIMEDOUT`],
      [30, `upstream image ${ALPINE} can be read again`],
      [30, `upstream image ${ALPINE} changed`],
    ]);
  });

  it('says "no such image or tag" for a 404, and never throws', async () => {
    const { watcher, answer, logs } = setup('acme/nope:1');
    answer('acme/nope:1', new HubApiError('not-found', 'reading acme/nope:1: HTTP 404', 404));
    await expect(watcher.look()).resolves.toEqual({ changed: [] });
    expect(watcher.status()).toEqual([
      {
        image: 'acme/nope:1',
        digest: null,
        readAt: null,
        error: 'no such image or tag',
        pending: null,
        owedSince: null,
      },
    ]);
    expect(logs.entries()).toEqual([
      expect.objectContaining({
        level: 40,
        kind: 'not-found',
        msg: 'cannot read upstream image acme/nope:1: no such image or tag',
      }),
    ]);
  });

  it('treats an image first read after an outage as learnt, not changed', async () => {
    const { watcher, answer } = setup('alpine:3.20');
    answer(ALPINE, new Error('down'));
    await watcher.look();
    answer(ALPINE, 'sha256:a1');
    expect(await watcher.look()).toEqual({ changed: [] });
    answer(ALPINE, 'sha256:a2');
    expect(await watcher.look()).toEqual({ changed: [ALPINE] });
  });

  it('keeps the digest when an answer has none', async () => {
    const { watcher, answer } = setup('alpine:3.20');
    answer(ALPINE, 'sha256:a1');
    await watcher.look();
    answer(ALPINE, undefined);
    expect(await watcher.look()).toEqual({ changed: [] });
    answer(ALPINE, 'sha256:a1');
    expect(await watcher.look()).toEqual({ changed: [] });
    expect(watcher.status()[0]?.digest).toBe('sha256:a1');
  });

  it('shares one look between overlapping callers, so a change is reported once', async () => {
    const { watcher, answer, calls } = setup('alpine:3.20');
    answer(ALPINE, 'sha256:a1');
    await watcher.look();
    answer(ALPINE, 'sha256:a2');
    const [first, second] = await Promise.all([watcher.look(), watcher.look()]);
    expect(first).toEqual({ changed: [ALPINE] });
    expect(second).toBe(first);
    expect(calls).toHaveLength(2);
  });

  it('counts no change for a digest that flaps at every look within the quiet period', async () => {
    const { watcher, answer, tick, logs } = setup('alpine:3.20', quiet);
    for (let look = 0; look < 12; look++) {
      answer(ALPINE, look % 2 === 0 ? 'sha256:a1' : 'sha256:a2');
      expect(await watcher.look()).toEqual({ changed: [] });
      tick(poll);
    }
    expect(watcher.owed()).toEqual([]);
    expect(watcher.status()[0]).toMatchObject({ digest: 'sha256:a1', owedSince: null });
    expect(logs.entries().filter((line) => Number(line.level) >= 30)).toEqual([]);
  });

  it('counts a new digest once it has lasted the quiet period, and shows it waiting', async () => {
    const { watcher, answer, tick } = setup('alpine:3.20', quiet);
    answer(ALPINE, 'sha256:a1');
    await watcher.look();
    tick(poll);
    answer(ALPINE, 'sha256:a2');
    const seen = '2026-11-26T12:01:00.000Z';
    expect(await watcher.look()).toEqual({ changed: [] });
    expect(watcher.status()[0]).toMatchObject({
      digest: 'sha256:a1',
      pending: { digest: 'sha256:a2', since: seen },
    });
    tick(quiet - 1);
    expect(await watcher.look()).toEqual({ changed: [] });
    tick(1);
    expect(await watcher.look()).toEqual({ changed: [ALPINE] });
    expect(watcher.status()[0]).toMatchObject({
      digest: 'sha256:a2',
      pending: null,
      owedSince: '2026-11-26T12:11:00.000Z',
    });
  });

  it('starts the quiet period again for a third digest read during it', async () => {
    const { watcher, answer, tick } = setup('alpine:3.20', quiet);
    answer(ALPINE, 'sha256:a1');
    await watcher.look();
    answer(ALPINE, 'sha256:b');
    await watcher.look();
    tick(quiet / 2);
    answer(ALPINE, 'sha256:c');
    await watcher.look();
    tick(quiet / 2);
    expect(await watcher.look()).toEqual({ changed: [] });
    expect(watcher.status()[0]?.pending).toEqual({
      digest: 'sha256:c',
      since: '2026-11-26T12:05:00.000Z',
    });
    tick(quiet / 2);
    expect(await watcher.look()).toEqual({ changed: [ALPINE] });
    expect(watcher.status()[0]?.digest).toBe('sha256:c');
  });

  it('keeps a change owed across looks until a chain serves it', async () => {
    const { watcher, answer } = setup();
    answer(ALPINE, 'sha256:a1');
    answer(BASE, 'sha256:b1');
    await watcher.look();
    answer(BASE, 'sha256:b2');
    await watcher.look();
    answer(ALPINE, 'sha256:a2');
    expect(await watcher.look()).toEqual({ changed: [ALPINE] });
    expect(watcher.owed()).toEqual([ALPINE, BASE]);
    watcher.served();
    expect(watcher.owed()).toEqual([]);
    expect(await watcher.look()).toEqual({ changed: [] });
    expect(watcher.owed()).toEqual([]);
  });

  it(`reads many images ${upstreamReadsAtOnce} at a time`, async () => {
    const list = Array.from({ length: 300 }, (_, i) => `acme/image-${i}`).join(',');
    const { watcher, answer, reads, calls } = setup(list);
    for (let i = 0; i < 300; i++) answer(`acme/image-${i}:latest`, 'sha256:1');
    await watcher.look();
    expect(calls).toHaveLength(300);
    expect(reads.most).toBe(upstreamReadsAtOnce);
    expect(watcher.status().every((image) => image.digest === 'sha256:1')).toBe(true);
  });
});

describe('createUpstreamWatcher at shutdown', () => {
  it('says nothing of a read stopped by shutdown, and keeps what it knew', async () => {
    const t = setup('alpine:3.20');
    t.answer(ALPINE, 'sha256:one');
    await t.watcher.look();
    t.answer(
      ALPINE,
      new HubApiError('aborted', 'reading library/alpine:3.20: stopped by shutdown'),
    );
    await t.watcher.look();
    expect(t.logs.entries().filter((line) => Number(line.level) >= 40)).toEqual([]);
    expect(t.watcher.status()[0]).toMatchObject({ digest: 'sha256:one', error: null });
  });
});
