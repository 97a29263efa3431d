import { request, type Dispatcher } from 'undici';
import type { Logger } from '../process/create-logger';
import type { BuildRun, BuildState, Timers } from '../types';
import { redact } from './redact';
import { hasEnded, type BuildTarget } from './targets/build-target';

export interface BuildWatcherDeps {
  target: Pick<BuildTarget, 'runs' | 'cannotFollow' | 'secrets'>;
  log: Logger;
  timers: Timers;
  dispatcher: Dispatcher;
  /** ms between two reads of a run that has not ended */
  interval: number;
  /** ms one read may take to be answered */
  timeout: number;
  /** a run failed or was cancelled: called once per run */
  onFailed(tag: string, run: BuildRun): void;
}

/** What the app knows of each tag's latest build. */
export type BuildsStatus = Record<string, { state: BuildState; url: string | null }>;

export interface BuildWatcher {
  /** `tag`'s build was started: `run` when the target named it, which is then followed. */
  started(tag: string, run: BuildRun | undefined): void;
  /** Says once why builds are not followed, when they cannot be. */
  start(): void;
  status(): BuildsStatus;
  /** Stops every read. */
  close(): void;
}

interface Followed {
  run: BuildRun;
  timer?: unknown;
}

/**
 * Follows each started run until it ends, reading it every `interval` ms: a failed or
 * cancelled one is reported at once. Without read access it says so once and follows nothing.
 */
export function createBuildWatcher(deps: BuildWatcherDeps): BuildWatcher {
  const { log, timers, target } = deps;
  const builds = new Map<string, Followed>();
  const shutdown = new AbortController();
  let reader = target.runs;
  let unnamed = false;

  const stopFollowing = (why: string) => {
    if (reader === undefined) return;
    reader = undefined;
    log.warn(`builds are no longer followed: ${why}`);
    for (const followed of builds.values()) {
      if (followed.timer !== undefined) timers.clearTimeout(followed.timer);
      followed.timer = undefined;
    }
  };

  const readOnce = async (
    run: BuildRun,
  ): Promise<{ state: BuildState; url: string | null } | undefined> => {
    if (reader === undefined) return undefined;
    const { url, headers } = reader.request(run);
    try {
      const response = await request(url, {
        method: 'GET',
        headers,
        dispatcher: deps.dispatcher,
        headersTimeout: deps.timeout,
        bodyTimeout: deps.timeout,
        signal: shutdown.signal,
      });
      const status = response.statusCode;
      if (status !== 200) {
        await response.body.dump();
        if (status === 401 || status === 403 || status === 404) {
          stopFollowing(`reading run ${run.id} answered ${status}: ${reader.denied}`);
        } else {
          log.debug({ status, run: run.id }, `reading run ${run.id} answered ${status}`);
        }
        return undefined;
      }
      return reader.read(await response.body.text());
    } catch (err) {
      if (!shutdown.signal.aborted) {
        const message = err instanceof Error ? err.message : 'request failed';
        log.debug(
          { run: run.id },
          `reading run ${run.id} failed: ${redact(message, target.secrets)}`,
        );
      }
      return undefined;
    }
  };

  const look = async (tag: string, followed: Followed) => {
    followed.timer = undefined;
    const read = await readOnce(followed.run);
    // Superseded by a newer build of the tag, or closed, while it was read.
    if (builds.get(tag) !== followed || shutdown.signal.aborted) return;
    if (read !== undefined) {
      followed.run = { ...followed.run, state: read.state, url: read.url ?? followed.run.url };
    }
    const { run } = followed;
    if (hasEnded(run.state)) {
      if (run.state === 'success') {
        log.info({ tag, run: run.url ?? run.id }, `build of ${tag} succeeded`);
        return;
      }
      const what = run.state === 'failure' ? 'failed' : 'was cancelled';
      log.error(
        { tag, run: run.url ?? run.id, state: run.state },
        `build of ${tag} ${what}: ${run.url ?? `run ${run.id}`}`,
      );
      deps.onFailed(tag, run);
      return;
    }
    if (reader !== undefined)
      followed.timer = timers.setTimeout(() => void look(tag, followed), deps.interval);
  };

  return {
    started(tag, run) {
      const previous = builds.get(tag);
      if (previous?.timer !== undefined) timers.clearTimeout(previous.timer);
      builds.delete(tag);
      if (run === undefined) {
        if (reader !== undefined && !unnamed) {
          unnamed = true;
          log.warn(
            { tag },
            `the build target named no run for ${tag} (a server without that feature?): builds are not followed, a failed one shows as a stall`,
          );
        }
        return;
      }
      const followed: Followed = { run };
      builds.set(tag, followed);
      if (reader !== undefined) {
        followed.timer = timers.setTimeout(() => void look(tag, followed), deps.interval);
      }
    },
    start() {
      if (target.cannotFollow !== undefined) log.warn(target.cannotFollow);
    },
    status() {
      return Object.fromEntries(
        [...builds].map(([tag, { run }]) => [tag, { state: run.state, url: run.url }]),
      );
    },
    close() {
      shutdown.abort();
      for (const followed of builds.values()) {
        if (followed.timer !== undefined) timers.clearTimeout(followed.timer);
      }
    },
  };
}
