import type { Logger } from 'pino';
import type { ImageRef } from '../chain/parse-image-ref';
import { forEachAtMost } from '../timing/for-each-at-most';
import type { Clock } from '../types';

/** How many images one look reads at a time. */
const readsAtOnce = 4;

export interface DigestStatus {
  /** the digest the registry showed last */
  digest: string | null;
  /** ISO time of the last successful read */
  readAt: string | null;
  /** why the last read failed, null once it succeeds again */
  error: string | null;
  /** what the last build's end showed that was not as it should be, until the next change */
  warning: string | null;
}

export interface DigestWatcher {
  /** reads every image once, a few at a time; never throws */
  look(): Promise<void>;
  /**
   * A build of `node` ended well and counted as its push: the next new digest is that build's,
   * not another push. Reads the image at once to see whether it changed.
   */
  built(node: string): Promise<void>;
  /** A verified delivery (GitHub's registry_package) shows `digest` for `node`'s image now. */
  seen(node: string, digest: string): void;
  status(): Record<string, DigestStatus>;
}

export interface DigestWatcherDeps {
  /** the nodes whose image is on a registry without push times (any but Docker Hub) */
  nodes: readonly { id: string; image: ImageRef }[];
  /** the image's digest now; fails with an Error whose `kind` is 'aborted' at shutdown */
  readDigest(image: ImageRef): Promise<string | undefined>;
  /**
   * A new digest that no counted build explains: the node was pushed. False when the push is
   * left to the build that made it, whose end is still to come (a CI run that goes on).
   */
  onPushed(node: string): boolean;
  log: Logger;
  clock: Pick<Clock, 'now'>;
}

interface NodeState {
  id: string;
  image: ImageRef;
  digest: string | null;
  readAt: number | null;
  error: string | null;
  warning: string | null;
  /** a build that counted has ended and its digest is not yet seen: the digest it replaces */
  confirming: { before: string | null } | null;
  /** a new digest was left to its build's end: the digest before it (null: none known) */
  left: { from: string | null } | null;
}

/**
 * Watches the digests of the nodes whose registry gives no push times: a digest that changes is
 * a push. The first read only learns it, so a restart is no push. A build whose end already
 * counted (its CI run succeeded) is confirmed by the next new digest, which is then no second
 * push; a build that ended well without changing the digest is said, once.
 */
export function createDigestWatcher(deps: DigestWatcherDeps): DigestWatcher {
  const states = new Map<string, NodeState>(
    deps.nodes.map(({ id, image }) => [
      id,
      {
        id,
        image,
        digest: null,
        readAt: null,
        error: null,
        warning: null,
        confirming: null,
        left: null,
      },
    ]),
  );

  /** `announced`: a delivery told of this push, so it is one even with no digest known before. */
  const judge = (state: NodeState, digest: string, announced = false) => {
    const { id } = state;
    const before = state.digest;
    state.digest = digest;
    if (state.confirming !== null) {
      // null: no digest was known before the build; whatever is read now is its image.
      const was = state.confirming.before;
      state.confirming = null;
      if (was !== null && was === digest) {
        state.warning = `the build of ${id} succeeded, but its image's digest did not change (${short(digest)})`;
        deps.log.warn({ tag: id, digest }, `${state.warning}: was it pushed?`);
      } else {
        state.warning = null;
        deps.log.info(
          { tag: id, from: was, to: digest },
          `the registry confirms the new image of ${id}`,
        );
      }
      return;
    }
    if (before === digest || (before === null && !announced)) return;
    state.warning = null;
    if (deps.onPushed(id)) {
      state.left = null;
      deps.log.info({ tag: id, from: before, to: digest }, `${id} has a new digest: pushed`);
      return;
    }
    state.left ??= { from: before };
    deps.log.debug(
      { tag: id, from: before, to: digest },
      `${id} has a new digest while its build goes on: its end counts`,
    );
  };

  const read = async (state: NodeState) => {
    try {
      const digest = await deps.readDigest(state.image);
      if (state.error !== null) deps.log.info({ tag: state.id }, `${state.id} can be read again`);
      state.error = null;
      state.readAt = deps.clock.now();
      if (digest !== undefined) judge(state, digest);
    } catch (err) {
      if ((err as { kind?: unknown }).kind === 'aborted') return;
      const reason = err instanceof Error ? err.message : String(err);
      if (state.error === null) {
        deps.log.warn({ tag: state.id }, `cannot read the digest of ${state.id}: ${reason}`);
      }
      state.error = reason;
    }
  };

  let running: Promise<void> | undefined;
  return {
    look() {
      // Two overlapping looks would both compare with the same old digest.
      running ??= forEachAtMost([...states.values()], readsAtOnce, read).finally(() => {
        running = undefined;
      });
      return running;
    },
    async built(id) {
      const state = states.get(id);
      if (state === undefined) return;
      state.confirming = { before: state.left === null ? state.digest : state.left.from };
      state.left = null;
      await read(state);
    },
    seen(id, digest) {
      const state = states.get(id);
      if (state !== undefined) judge(state, digest, true);
    },
    status() {
      return Object.fromEntries(
        [...states.values()].map((state) => [
          state.id,
          {
            digest: state.digest,
            readAt: state.readAt === null ? null : new Date(state.readAt).toISOString(),
            error: state.error,
            warning: state.warning,
          },
        ]),
      );
    },
  };
}

/** sha256:0123456789ab, for a line people read. */
function short(digest: string): string {
  return digest.length > 19 ? digest.slice(0, 19) : digest;
}
