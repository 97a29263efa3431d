import { parseImageRef, type ImageRef } from '../../../webapp/chain/parse-image-ref';
import { createDigestWatcher } from '../../../webapp/registry/create-digest-watcher';
import { captureLogs } from '../../helpers/logs';

const SVC = 'ghcr.io/acme/svc:latest';
const D = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;

describe('the read at a build end beside a look in flight', () => {
  it('counts no push for the digest the build replaced', async () => {
    const pushed: string[] = [];
    let answer = D(1);
    let hold: { release: () => void; value: string } | undefined;
    const watcher = createDigestWatcher({
      nodes: [{ id: SVC, image: parseImageRef(SVC) }],
      async readDigest(_image: ImageRef) {
        const value = answer;
        if (hold !== undefined) {
          const held = hold;
          hold = undefined;
          await new Promise<void>((resolve) => (held.release = resolve));
          return held.value;
        }
        return value;
      },
      onPushed: (node) => {
        pushed.push(node);
        return true;
      },
      log: captureLogs().log,
      clock: { now: () => 0 },
    });
    await watcher.look(); // learns D1
    // A look starts; its answer (D1, from before the push) is slow to land.
    const held = { release: () => {}, value: D(1) };
    hold = held;
    const slow = watcher.look();
    await new Promise((resolve) => setImmediate(resolve));
    // The build pushed D2 and its run ended: built() reads D2 at once, confirming the build.
    answer = D(2);
    const ending = watcher.built(SVC);
    held.release();
    // (the held answer lands now)
    await ending;
    await slow;
    await watcher.look(); // the next look: D2, as the registry holds
    expect({ pushed, digest: watcher.status()[SVC]?.digest }).toEqual({ pushed: [], digest: D(2) });
  });
});

describe('a look in flight across a build’s end, whose answer shows the new image', () => {
  it('takes that digest as the build’s, not as a second push, and warns of nothing', async () => {
    const pushed: string[] = [];
    const logs = captureLogs();
    let answer = D(1);
    let release: () => void = () => {};
    let holdNext = false;
    const watcher = createDigestWatcher({
      nodes: [{ id: SVC, image: parseImageRef(SVC) }],
      async readDigest() {
        if (holdNext) {
          holdNext = false;
          await new Promise<void>((resolve) => (release = resolve));
        }
        return answer;
      },
      onPushed: (node) => {
        pushed.push(node);
        return true;
      },
      log: logs.log,
      clock: { now: () => 0 },
    });
    await watcher.look(); // learns D1
    holdNext = true;
    const slow = watcher.look(); // in flight while the run pushes D2 and ends
    await new Promise((resolve) => setImmediate(resolve));
    answer = D(2);
    const ending = watcher.built(SVC);
    release(); // the look's answer lands: D2, after the run's end was told
    await slow;
    await ending;
    expect(pushed).toEqual([]);
    expect(watcher.status()[SVC]).toMatchObject({ digest: D(2), warning: null });
  });
});
