import type { Dispatcher } from 'undici';
import { formatBytes, sendRequest } from '../http/send-request';
import type { Logger } from '../logging/create-logger';
import { backoffDelay } from '../timing/next-retry-wait';
import type { BuildRun, BuildState, Clock } from '../types';
import { redact } from '../secrets/redact';
import type { IncomingHttpHeaders } from 'node:http';
import { hasEnded, type BuildTarget, type RunReader } from './targets/build-target';

/** ms: a run created this long before the trigger's answer may still be the one it started */
const findSlack = 60_000;

/** Reads in a row that fail before the app says that a run cannot be read. */
export const failedReadsBeforeWarning = 3;

/** ms: the longest wait between two reads of a run whose reads fail, unless the interval is longer */
export const longestReadWait = 10 * 60_000;

/** A run or pipeline is a few KiB of JSON; GitHub's largest are tens of KiB. */
const runAnswerLimit = 512 * 1024;

export interface BuildWatcherDeps {
  /** the target that builds each node (its tag in a line, its image in a graph) */
  targetOf: (tag: string) => FollowedTarget;
  /** the tag a node's trigger names (its image's tag in a graph); the node itself when left out */
  tagOf?: (node: string) => string;
  /** every target, for what is said once at start */
  targets: readonly FollowedTarget[];
  log: Logger;
  clock: Clock;
  dispatcher: Dispatcher;
  /** ms between two reads of a run that has not ended */
  interval: number;
  /** ms one read may take to be answered */
  timeout: number;
  /** ms after its start when a run that has not ended is no longer read (its stall time) */
  followFor: number;
  /** a run failed or was cancelled: called once per run */
  onFailed(tag: string, run: BuildRun): void;
  /** a run succeeded: its build counts as the node's push; called once per run */
  onSucceeded?(tag: string, run: BuildRun): void;
}

/** What the watcher needs of a build target: how to read its runs, and what to scrub. */
export type FollowedTarget = Pick<BuildTarget, 'name' | 'runs' | 'cannotFollow' | 'secrets'>;

/** What the app knows of one tag's latest build. */
export interface BuildStatus {
  /** the run's state at its last good read (or as its trigger's answer named it) */
  state: BuildState;
  url: string | null;
  /** why the run cannot be read, once several reads in a row failed; left out otherwise */
  unreadable?: string;
  /** why the run is no longer read although it has not ended; left out while it is read */
  stopped?: string;
}

/** What the app knows of each tag's latest build. */
export type BuildsStatus = Record<string, BuildStatus>;

export interface BuildWatcher {
  /**
   * `tag`'s build was started: `run` when the target named it, which is then followed; else it
   * is looked for among the runs created since `since` (ms; about now when left out).
   */
  started(tag: string, run: BuildRun | undefined, since?: number): void;
  /** `tag` was pushed (webhook or registry): its run no longer needs reading. */
  pushed(tag: string): void;
  /**
   * A verified delivery says how a run of `service` (a target's name) stands: it counts as a
   * read of the run when one of that service is followed with that id. Whether it was.
   */
  heard(service: string, id: string, state: BuildState, url: string | null): boolean;
  /** `tag` counts as stalled: its run is no longer read. */
  stalled(tag: string): void;
  /** Whether `tag`'s run is followed and has not ended: its end, when it comes, is the build. */
  running(tag: string): boolean;
  /** Says once why builds are not followed, when they cannot be. */
  start(): void;
  status(): BuildsStatus;
  /** Stops every read. */
  close(): void;
}

interface Followed {
  run: BuildRun;
  /** ms: the trigger's answer named no run; it is looked for among the runs created since */
  finding?: number | undefined;
  timer?: unknown;
  /** ms: no read starts after this */
  until: number;
  /** reads in a row that failed */
  failures: number;
  /** its end was acted on: a read and a delivery that both tell it count once */
  settled?: boolean;
  /** the reason said in the warning, while reads still fail */
  unreadable?: string | undefined;
  stopped?: string;
}

type ReadResult =
  | { kind: 'read'; state: BuildState; url: string | null }
  | { kind: 'failed'; reason: string }
  | { kind: 'none' };

/**
 * Why a refused read is worth another later, when it is: GitHub's rate limits answer 403 (or
 * 429) with Retry-After or no requests left
 * (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api), and a 401
 * for credentials the reader could make anew (a GitHub App's token refused before its end).
 */
function passingRefusal(
  status: number,
  headers: IncomingHttpHeaders,
  reader: RunReader,
): string | undefined {
  const limited =
    status === 429 ||
    (status === 403 &&
      (headers['retry-after'] !== undefined || headers['x-ratelimit-remaining'] === '0'));
  if (limited) return `the API is rate limiting reads (${status})`;
  if (status === 401 && reader.renew?.() === true) {
    return 'the API refused the credentials (401): new ones are made for the next read';
  }
  return undefined;
}

/**
 * ms before the next read after `failures` failed reads in a row: the interval, doubled with each
 * failure up to the longest wait (the one backoff rule, without its jitter).
 */
function readWait(interval: number, failures: number): number {
  const policy = { initialDelay: interval, maxDelay: Math.max(interval, longestReadWait) };
  return backoffDelay(failures + 1, policy, () => 1);
}

/**
 * Follows each started run until it ends, its tag is pushed or its stall time passes, reading
 * it every `interval` ms: a failed or cancelled one is reported at once. Reads that fail are
 * made less and less often, and said once when several fail in a row. Without read access it
 * says so once and follows nothing.
 */
export function createBuildWatcher(deps: BuildWatcherDeps): BuildWatcher {
  const { log, clock } = deps;
  const builds = new Map<string, Followed>();
  const shutdown = new AbortController();
  // Per target: one that refuses its reads is no longer read, for any node it builds.
  const denied = new Set<FollowedTarget>();
  const readerOf = (tag: string) => {
    const target = deps.targetOf(tag);
    return denied.has(target) ? undefined : target.runs;
  };
  let unnamed = false;

  const stopFollowing = (tag: string, why: string) => {
    const target = deps.targetOf(tag);
    if (denied.has(target)) return;
    denied.add(target);
    log.warn(`builds are no longer followed: ${why}`);
    for (const [other, followed] of builds) {
      if (deps.targetOf(other) !== target) continue;
      if (followed.timer !== undefined) clock.clearTimeout(followed.timer);
      followed.timer = undefined;
    }
  };

  const readOnce = async (tag: string, run: BuildRun): Promise<ReadResult> => {
    const reader = readerOf(tag);
    if (reader === undefined) return { kind: 'none' };
    try {
      const { url, headers } = await reader.request(run);
      const response = await sendRequest(
        url,
        { method: 'GET', headers, dispatcher: deps.dispatcher, keepBody: true },
        { deadline: deps.timeout, maxBytes: runAnswerLimit, signal: shutdown.signal },
      );
      if (shutdown.signal.aborted) return { kind: 'none' };
      const status = response.status;
      if (status !== 200) {
        const passing = passingRefusal(status, response.headers, reader);
        if (passing !== undefined) return { kind: 'failed', reason: passing };
        if (status === 401 || status === 403 || status === 404) {
          stopFollowing(tag, `reading run ${run.id} answered ${status}: ${reader.denied}`);
          return { kind: 'none' };
        }
        log.debug({ status, run: run.id }, `reading run ${run.id} answered ${status}`);
        return { kind: 'failed', reason: `the API answered ${status}` };
      }
      if (response.body === undefined) {
        const why =
          response.bodyProblem === 'too-large'
            ? `the answer is larger than ${formatBytes(runAnswerLimit)}`
            : `the answer's body did not come whole (${response.bodyProblem ?? 'cut off'})`;
        log.debug({ run: run.id }, `reading run ${run.id}: ${why}`);
        return { kind: 'failed', reason: why };
      }
      const read = reader.read(response.body);
      if (read === undefined) {
        log.debug({ run: run.id }, `reading run ${run.id}: the answer is not a run`);
        return { kind: 'failed', reason: 'the API answered 200 with something that is not a run' };
      }
      return { kind: 'read', ...read };
    } catch (err) {
      if (shutdown.signal.aborted) return { kind: 'none' };
      const message = redact(
        err instanceof Error ? err.message : 'request failed',
        deps.targetOf(tag).secrets,
      );
      log.debug({ run: run.id }, `reading run ${run.id} failed: ${message}`);
      return { kind: 'failed', reason: `the read failed: ${message}` };
    }
  };

  /** Looks once for the run `tag`'s trigger started since `since`; undefined while not found. */
  const findOnce = async (tag: string, since: number): Promise<ReadResult | BuildRun> => {
    const finder = readerOf(tag)?.find;
    if (finder === undefined) return { kind: 'none' };
    try {
      const { url, headers } = await finder.request(since);
      const response = await sendRequest(
        url,
        { method: 'GET', headers, dispatcher: deps.dispatcher, keepBody: true },
        { deadline: deps.timeout, maxBytes: runAnswerLimit, signal: shutdown.signal },
      );
      if (shutdown.signal.aborted) return { kind: 'none' };
      const reader = readerOf(tag);
      const passing =
        reader === undefined
          ? undefined
          : passingRefusal(response.status, response.headers, reader);
      if (passing !== undefined) return { kind: 'failed', reason: passing };
      if (response.status === 401 || response.status === 403 || response.status === 404) {
        stopFollowing(tag, `listing runs answered ${response.status}: ${reader?.denied}`);
        return { kind: 'none' };
      }
      if (response.status !== 200 || response.body === undefined) {
        return { kind: 'failed', reason: `listing runs answered ${response.status}` };
      }
      const taken = new Set(
        [...builds].filter(([other]) => other !== tag).map(([, { run }]) => run.id),
      );
      const named = deps.tagOf?.(tag) ?? tag;
      return finder.read(response.body, named, since, taken) ?? { kind: 'none' };
    } catch (err) {
      if (shutdown.signal.aborted) return { kind: 'none' };
      const message = redact(
        err instanceof Error ? err.message : 'request failed',
        deps.targetOf(tag).secrets,
      );
      return { kind: 'failed', reason: `listing runs failed: ${message}` };
    }
  };

  const link = (run: BuildRun) => run.url ?? `run ${run.id}`;

  const stop = (followed: Followed, why: string) => {
    if (followed.timer !== undefined) clock.clearTimeout(followed.timer);
    followed.timer = undefined;
    followed.stopped = why;
    followed.unreadable = undefined;
  };

  const next = (tag: string, followed: Followed) => {
    if (readerOf(tag) === undefined) return;
    const wait = readWait(deps.interval, followed.failures);
    const left = Math.max(0, followed.until - clock.now());
    followed.timer = clock.setTimeout(() => void look(tag, followed), Math.min(wait, left));
  };

  const failed = (tag: string, followed: Followed, reason: string) => {
    followed.failures += 1;
    if (followed.failures < failedReadsBeforeWarning || followed.unreadable !== undefined) return;
    followed.unreadable = reason;
    const longest = Math.max(deps.interval, longestReadWait) / 1000;
    log.warn(
      { tag, run: link(followed.run), reason, failures: followed.failures },
      `cannot read the run of ${tag} (${link(followed.run)}): ${reason}; ${followed.failures} reads in a row failed, it is read less often (at most ${longest} s apart) until one succeeds`,
    );
  };

  const look = async (tag: string, followed: Followed) => {
    followed.timer = undefined;
    if (clock.now() >= followed.until) {
      const why = `it has not ended ${deps.followFor / 1000} s after its start`;
      stop(followed, why);
      log.info(
        { tag, run: followed.run.url ?? followed.run.id },
        `no longer reading the run of ${tag} (${link(followed.run)}): ${why}`,
      );
      return;
    }
    if (followed.finding !== undefined) {
      const found = await findOnce(tag, followed.finding);
      if (builds.get(tag) !== followed || followed.stopped !== undefined) return;
      if (shutdown.signal.aborted) return;
      if ('kind' in found) {
        if (found.kind === 'failed') failed(tag, followed, found.reason);
        next(tag, followed);
        return;
      }
      followed.finding = undefined;
      followed.failures = 0;
      followed.run = found;
      log.info({ tag, run: link(found) }, `found the run of ${tag}: ${link(found)}`);
    }
    const read = await readOnce(tag, followed.run);
    // Superseded by a newer build of the tag, pushed, stalled or closed while it was read.
    if (builds.get(tag) !== followed || followed.stopped !== undefined) return;
    if (shutdown.signal.aborted) return;
    if (read.kind === 'failed') {
      failed(tag, followed, read.reason);
      next(tag, followed);
      return;
    }
    if (read.kind === 'read') {
      if (followed.unreadable !== undefined) {
        log.info(
          { tag, run: link(followed.run) },
          `the run of ${tag} can be read again (${link(followed.run)}): read every ${deps.interval / 1000} s`,
        );
      }
      followed.failures = 0;
      followed.unreadable = undefined;
      followed.run = { ...followed.run, state: read.state, url: read.url ?? followed.run.url };
    }
    if (!settle(tag, followed)) next(tag, followed);
  };

  /** Acts on a run that has ended, once; whether it has. */
  const settle = (tag: string, followed: Followed): boolean => {
    const { run } = followed;
    if (!hasEnded(run.state)) return false;
    if (followed.settled === true) return true;
    followed.settled = true;
    if (followed.timer !== undefined) clock.clearTimeout(followed.timer);
    followed.timer = undefined;
    if (run.state === 'success') {
      log.info({ tag, run: run.url ?? run.id }, `build of ${tag} succeeded`);
      deps.onSucceeded?.(tag, run);
      return true;
    }
    const what = run.state === 'failure' ? 'failed' : 'was cancelled';
    log.error(
      { tag, run: run.url ?? run.id, state: run.state },
      `build of ${tag} ${what}: ${link(run)}`,
    );
    deps.onFailed(tag, run);
    return true;
  };

  const finish = (tag: string, why: string) => {
    const followed = builds.get(tag);
    if (followed === undefined || followed.stopped !== undefined) return;
    if (hasEnded(followed.run.state)) return;
    stop(followed, why);
    log.debug({ tag, run: link(followed.run) }, `no longer reading the run of ${tag}: ${why}`);
  };

  return {
    started(tag, run, since) {
      // Closed: nothing more is read (a trigger answered during shutdown).
      if (shutdown.signal.aborted) return;
      const previous = builds.get(tag);
      if (previous?.timer !== undefined) clock.clearTimeout(previous.timer);
      builds.delete(tag);
      if (run === undefined && readerOf(tag)?.find !== undefined) {
        // Runs created a little before the trigger's answer count: the servers' clocks differ.
        const followed: Followed = {
          run: { id: '', url: null, state: 'requested' },
          finding: (since ?? clock.now()) - findSlack,
          until: clock.now() + deps.followFor,
          failures: 0,
        };
        builds.set(tag, followed);
        next(tag, followed);
        return;
      }
      if (run === undefined) {
        if (readerOf(tag) !== undefined && !unnamed) {
          unnamed = true;
          log.warn(
            { tag },
            `the build target named no run for ${tag} (a server without that feature?): builds are not followed, a failed one shows as a stall`,
          );
        }
        return;
      }
      const followed: Followed = { run, until: clock.now() + deps.followFor, failures: 0 };
      builds.set(tag, followed);
      next(tag, followed);
    },
    pushed(tag) {
      finish(tag, 'the tag was pushed');
    },
    stalled(tag) {
      finish(tag, 'the tag stalled');
    },
    running(tag) {
      const followed = builds.get(tag);
      return (
        followed !== undefined &&
        followed.stopped === undefined &&
        followed.settled !== true &&
        readerOf(tag) !== undefined
      );
    },
    heard(service, id, state, url) {
      for (const [tag, followed] of builds) {
        if (followed.run.id !== id || deps.targetOf(tag).name !== service) continue;
        if (followed.stopped !== undefined || followed.finding !== undefined) return false;
        // GitHub's "Re-run failed jobs" keeps the run's id: its success after its failure is
        // that build's end after all.
        const rerun = followed.settled === true && followed.run.state !== 'success';
        if (rerun && state === 'success') followed.settled = false;
        followed.run = { ...followed.run, state, url: url ?? followed.run.url };
        settle(tag, followed);
        return true;
      }
      return false;
    },
    start() {
      for (const why of new Set(deps.targets.map((target) => target.cannotFollow))) {
        if (why !== undefined) log.warn(why);
      }
    },
    status() {
      return Object.fromEntries(
        [...builds].map(([tag, { run, unreadable, stopped }]) => [
          tag,
          {
            state: run.state,
            url: run.url,
            ...(unreadable === undefined ? {} : { unreadable }),
            ...(stopped === undefined ? {} : { stopped }),
          },
        ]),
      );
    },
    close() {
      shutdown.abort();
      for (const followed of builds.values()) {
        if (followed.timer !== undefined) clock.clearTimeout(followed.timer);
      }
    },
  };
}
