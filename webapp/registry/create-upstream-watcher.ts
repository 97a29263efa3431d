import type { Logger } from 'pino';
import { HubApiError, type HubApi } from './create-hub-api';
import type { ImageRef } from './parse-image-ref';

export interface UpstreamStatus {
  /** namespace/repository:tag */
  image: string;
  /** the last digest read, kept through failures */
  digest: string | null;
  /** ISO time of the last successful read */
  readAt: string | null;
  /** why the last read failed, null once it succeeds again */
  error: string | null;
}

export interface UpstreamWatcher {
  /** reads every image once; never throws */
  look(): Promise<{ changed: string[] }>;
  status(): UpstreamStatus[];
}

export interface UpstreamWatcherDeps {
  images: readonly ImageRef[];
  api: Pick<HubApi, 'getTag'>;
  log: Logger;
  now: () => number;
}

/**
 * Watches the digests of upstream images: a look reports the images whose digest changed since
 * the previous successful read. The first read only learns the digest, so a restart never counts
 * as a change.
 */
export function createUpstreamWatcher(deps: UpstreamWatcherDeps): UpstreamWatcher {
  const states = deps.images.map((image) => ({
    image,
    digest: null as string | null,
    readAt: null as string | null,
    error: null as string | null,
  }));
  let running: Promise<{ changed: string[] }> | undefined;

  async function lookOnce(): Promise<{ changed: string[] }> {
    const changed: string[] = [];
    await Promise.all(
      states.map(async (state) => {
        const { namespace, repository, tag, display } = state.image;
        try {
          const { digest } = await deps.api.getTag(namespace, repository, tag);
          if (state.error !== null) {
            deps.log.info({ image: display }, `upstream image ${display} can be read again`);
          }
          state.error = null;
          state.readAt = new Date(deps.now()).toISOString();
          // An answer without a digest says nothing about a change: keep the one known.
          if (digest === undefined) return;
          if (state.digest !== null && state.digest !== digest) {
            deps.log.info(
              { image: display, from: state.digest, to: digest },
              `upstream image ${display} changed`,
            );
            changed.push(display);
          }
          state.digest = digest;
        } catch (err) {
          const reason = explain(err);
          if (state.error === null) {
            deps.log.warn(
              { image: display, kind: err instanceof HubApiError ? err.kind : undefined },
              `cannot read upstream image ${display}: ${reason}`,
            );
          }
          state.error = reason;
        }
      }),
    );
    // Keep the configured order, whatever order the answers came in.
    const order = deps.images.map((image) => image.display);
    return { changed: order.filter((display) => changed.includes(display)) };
  }

  return {
    look() {
      // Two overlapping looks would both compare with the same old digest and report it twice.
      running ??= lookOnce().finally(() => {
        running = undefined;
      });
      return running;
    },
    status() {
      return states.map((state) => ({
        image: state.image.display,
        digest: state.digest,
        readAt: state.readAt,
        error: state.error,
      }));
    },
  };
}

function explain(err: unknown): string {
  if (err instanceof HubApiError && err.kind === 'not-found') return 'no such image or tag';
  return err instanceof Error ? err.message : String(err);
}
