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
