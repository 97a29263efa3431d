import type { Logger } from 'pino';
import type { Clock } from '../types';
import { forEachAtMost } from '../timing/for-each-at-most';
import type { ImageRef } from '../chain/parse-image-ref';

/** How many images one look reads at a time: a long list must not open a connection each. */
export const upstreamReadsAtOnce = 4;

export interface UpstreamStatus {
  /** namespace/repository:tag on Docker Hub, host/path:tag elsewhere */
  image: string;
  /** the digest that counts: the first one read, then each one that outlasted the quiet period */
  digest: string | null;
  /** ISO time of the last successful read */
  readAt: string | null;
  /** why the last read failed, null once it succeeds again */
  error: string | null;
  /** a new digest waiting out the quiet period, and since when (ISO) it has been read */
  pending: { digest: string; since: string } | null;
  /** ISO time this image's change counted, while no chain has started since */
  owedSince: string | null;
}

export interface UpstreamWatcher {
  /** reads every image once, a few at a time; reports the changes that counted; never throws */
  look(): Promise<{ changed: string[] }>;
  /** the images whose change counted and that no chain started since, in configured order */
  owed(): string[];
  /** A chain started: every change that counted until now is served by it. */
  served(): void;
  status(): UpstreamStatus[];
}

export interface UpstreamWatcherDeps {
  images: readonly ImageRef[];
  /**
   * The image's digest now, undefined when its registry names none. Fails with an Error whose
   * `kind` is 'aborted' at shutdown and 'not-found' for no such image or tag.
   */
  readDigest(image: ImageRef): Promise<string | undefined>;
  log: Logger;
  clock: Pick<Clock, 'now'>;
  /** ms a new digest must be read again and again before it counts; 0: at once */
  quiet: number;
  /** per image, the digest that counted before a restart: a new one since is a change */
  known?: Readonly<Record<string, string>>;
  /** hears the digests that count, whenever one does, to keep them across restarts */
  onKnown?: (known: Record<string, string>) => void;
}

interface ImageState {
  image: ImageRef;
  digest: string | null;
  readAt: string | null;
  error: string | null;
  pending: { digest: string; since: number } | null;
  owedSince: number | null;
}

/**
 * Watches the digests of upstream images: a look reports the images whose digest changed since
 * the previous successful read and then stayed the same for `quiet` ms. The first read only
 * learns the digest, unless the one that counted before a restart is known (the store keeps
 * it): a restart is then no change, and a change while the app was down is one. A change is owed a chain until one
 * starts (`served`).
 */
export function createUpstreamWatcher(deps: UpstreamWatcherDeps): UpstreamWatcher {
  const states: ImageState[] = deps.images.map((image) => ({
    image,
    digest: deps.known?.[image.display] ?? null,
    readAt: null,
    error: null,
    pending: null,
    owedSince: null,
  }));
  let running: Promise<{ changed: string[] }> | undefined;

  /** Whether this read makes a change count. */
  const judge = (state: ImageState, digest: string): boolean => {
    const { display } = state.image;
    if (state.digest === null || state.digest === digest) {
      // Back to the digest that counts before the quiet period ended: nothing changed.
      if (state.pending !== null) {
        deps.log.debug(
          { image: display, digest, dropped: state.pending.digest },
          `upstream image ${display} is back to its digest`,
        );
      }
      const learnt = state.digest === null;
      state.digest = digest;
      state.pending = null;
      if (learnt) told();
      return false;
    }
    const now = deps.clock.now();
    if (state.pending?.digest !== digest) {
      // A new digest, or another one during the quiet period: the quiet period starts again.
      state.pending = { digest, since: now };
      if (deps.quiet > 0) {
        deps.log.debug(
          { image: display, from: state.digest, to: digest },
          `upstream image ${display} has a new digest: it counts if it lasts ${deps.quiet / 1000} s`,
        );
      }
    }
    if (now - state.pending.since < deps.quiet) return false;
    deps.log.info(
      { image: display, from: state.digest, to: digest },
      `upstream image ${display} changed`,
    );
    state.digest = digest;
    state.pending = null;
    state.owedSince ??= now;
    told();
    return true;
  };
  const told = () => {
    const known: Record<string, string> = {};
    for (const state of states)
      if (state.digest !== null) known[state.image.display] = state.digest;
    deps.onKnown?.(known);
  };

  const read = async (state: ImageState): Promise<boolean> => {
    const { display } = state.image;
    try {
      const digest = await deps.readDigest(state.image);
      if (state.error !== null) {
        deps.log.info({ image: display }, `upstream image ${display} can be read again`);
      }
      state.error = null;
      state.readAt = new Date(deps.clock.now()).toISOString();
      // An answer without a digest says nothing about a change: keep the one known.
      return digest === undefined ? false : judge(state, digest);
    } catch (err) {
      // Shutdown is no outage.
      if (kindOf(err) === 'aborted') return false;
      const reason = explain(err);
      if (state.error === null) {
        deps.log.warn(
          { image: display, kind: kindOf(err) },
          `cannot read upstream image ${display}: ${reason}`,
        );
      }
      state.error = reason;
      return false;
    }
  };

  async function lookOnce(): Promise<{ changed: string[] }> {
    const changed = new Set<ImageState>();
    await forEachAtMost(states, upstreamReadsAtOnce, async (state) => {
      if (await read(state)) changed.add(state);
    });
    // Keep the configured order, whatever order the answers came in.
    return { changed: states.filter((state) => changed.has(state)).map(displayOf) };
  }

  return {
    look() {
      // Two overlapping looks would both compare with the same old digest and report it twice.
      running ??= lookOnce().finally(() => {
        running = undefined;
      });
      return running;
    },
    owed() {
      return states.filter((state) => state.owedSince !== null).map(displayOf);
    },
    served() {
      for (const state of states) state.owedSince = null;
    },
    status() {
      return states.map((state) => ({
        image: state.image.display,
        digest: state.digest,
        readAt: state.readAt,
        error: state.error,
        pending:
          state.pending === null
            ? null
            : { digest: state.pending.digest, since: iso(state.pending.since) },
        owedSince: state.owedSince === null ? null : iso(state.owedSince),
      }));
    },
  };
}

const displayOf = (state: ImageState) => state.image.display;
const iso = (ms: number) => new Date(ms).toISOString();

/** What kind of failure a registry's reader threw, when it says. */
function kindOf(err: unknown): string | undefined {
  const kind = (err as { kind?: unknown } | null)?.kind;
  return typeof kind === 'string' ? kind : undefined;
}

function explain(err: unknown): string {
  if (kindOf(err) === 'not-found') return 'no such image or tag';
  return err instanceof Error ? err.message : String(err);
}
