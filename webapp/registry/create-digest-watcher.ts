import type { Logger } from 'pino';
import type { ImageRef } from '../chain/parse-image-ref';
import { forEachAtMost } from '../timing/for-each-at-most';
import type { Clock } from '../types';

/** How many images one look reads at a time. */
const readsAtOnce = 4;
/** How many of a node's last digests are remembered, to know a late delivery of one. */
const rememberedDigests = 8;

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
  /**
   * `node`'s build was triggered before this process started (a restart): the digest before it
   * is not known, so its end is confirmed by whatever digest the registry then shows.
   */
  awaitedSinceBefore(node: string): void;
  /**
   * A verified delivery (GitHub's registry_package) says `node`'s image is now `digest`: the
   * registry is read to check it, since a delivery may come late or twice. A digest the node
   * had lately is no push; one the registry cannot be read for is taken as said.
   */
  seen(node: string, digest: string): Promise<void>;
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
  /** per node, the digests it had before a restart, oldest first: a new one since is a push */
  known?: Readonly<Record<string, readonly string[]>>;
  /** hears the digests each node had, whenever they change, to keep them across restarts */
  onKnown?: (known: Record<string, string[]>) => void;
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
  /** the read in flight, which the next one waits for */
  reading: Promise<void>;
  /** a build's end was told, and the read that confirms it has not had its turn yet */
  ending: boolean;
  /** the last digests read, oldest first */
  recent: string[];
}

/**
 * Watches the digests of the nodes whose registry gives no push times: a digest that changes is
 * a push. The first read only learns it, unless the digests it had before a restart are known
 * (the store keeps them): a restart is no push, a push while the app was down is. A build whose end already
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
        digest: deps.known?.[id]?.at(-1) ?? null,
        readAt: null,
        error: null,
        warning: null,
        confirming: null,
        left: null,
        reading: Promise.resolve(),
        ending: false,
        recent: [...(deps.known?.[id] ?? [])].slice(-rememberedDigests),
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
    // A build's end already told and not yet read for explains this digest: it is that build's.
    if (!state.ending && deps.onPushed(id)) {
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

  /** Reads the image once; the digest read, or undefined when the read failed or named none. */
  const readNow = async (state: NodeState): Promise<string | undefined> => {
    try {
      const digest = await deps.readDigest(state.image);
      if (state.error !== null) deps.log.info({ tag: state.id }, `${state.id} can be read again`);
      state.error = null;
      state.readAt = deps.clock.now();
      return digest;
    } catch (err) {
      if ((err as { kind?: unknown }).kind === 'aborted') return undefined;
      const reason = err instanceof Error ? err.message : String(err);
      if (state.error === null) {
        deps.log.warn({ tag: state.id }, `cannot read the digest of ${state.id}: ${reason}`);
      }
      state.error = reason;
      return undefined;
    }
  };

  /**
   * One read of a node after another, each judged in turn: an answer that was slow can never
   * land after a newer one (a look's read from before a push, after the read of a build's end).
   * `delivered`: a delivery's digest, which counts when the registry shows it too, or when the
   * registry cannot be read.
   */
  const read = (state: NodeState, delivered?: string, first?: () => void): Promise<void> => {
    state.reading = state.reading.then(async () => {
      first?.();
      const digest = await readNow(state);
      const shown = digest ?? delivered;
      if (shown === undefined) return;
      judge(state, shown, shown === delivered);
      remember(state, shown);
    });
    return state.reading;
  };

  /** The last digests a node had, so that a late or repeated delivery of one is no push. */
  const remember = (state: NodeState, digest: string) => {
    if (state.recent.includes(digest)) return;
    state.recent.push(digest);
    if (state.recent.length > rememberedDigests) state.recent.shift();
    deps.onKnown?.(
      Object.fromEntries([...states.values()].map((each) => [each.id, [...each.recent]])),
    );
  };

  let running: Promise<void> | undefined;
  return {
    look() {
      // Two overlapping looks would both compare with the same old digest.
      running ??= forEachAtMost([...states.values()], readsAtOnce, (state) => read(state)).finally(
        () => {
          running = undefined;
        },
      );
      return running;
    },
    async built(id) {
      const state = states.get(id);
      if (state === undefined) return;
      // Set when its turn comes: a read still in flight from before the build is no answer to it.
      // Until then, a new digest that read brings is this build's, not another push.
      state.ending = true;
      await read(state, undefined, () => {
        state.ending = false;
        state.confirming = { before: state.left === null ? state.digest : state.left.from };
        state.left = null;
      });
    },
    awaitedSinceBefore(id) {
      const state = states.get(id);
      if (state !== undefined) state.left ??= { from: null };
    },
    seen(id, digest) {
      const state = states.get(id);
      if (state === undefined) return Promise.resolve();
      if (state.recent.includes(digest)) {
        deps.log.debug({ tag: id, digest }, `${id}: a delivery of a digest it had, not a push`);
        return Promise.resolve();
      }
      // What a delivery says is checked against the registry: it may be late, or repeated.
      return read(state, digest);
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
