// Types shared across the app's parts. This module imports nothing, so any module may use it
// without tying itself to another.

/** How a failed request is tried again. All in milliseconds. */
export interface RetryPolicy {
  /** first wait between attempts; it doubles after each failure */
  initialDelay: number;
  /** longest wait between attempts */
  maxDelay: number;
  /** no new attempt starts after this long since the first */
  giveUpAfter: number;
  /** connect, answer and body timeouts of one attempt */
  timeout: number;
}

/** What came of one trigger of a tag's build, retries included. */
export interface TriggerOutcome {
  ok: boolean;
  dryRun: boolean;
  attempts: number;
  status?: number;
  /** why it failed, with secrets scrubbed */
  reason?: string;
  /** the wait before a retry was cut short by shutdown: the trigger may still be owed */
  aborted?: boolean;
  /** the run or pipeline the target said it started, when it says */
  run?: BuildRun;
}

/** What a build's run or pipeline is doing, in the words GitHub Actions uses for its runs. */
export type BuildState =
  'requested' | 'queued' | 'in_progress' | 'success' | 'failure' | 'cancelled' | 'unknown';

/** One build that a target started: its id there, its page and what it is doing. */
export interface BuildRun {
  id: string;
  /** the run's page, for people; null when the target's answer named none */
  url: string | null;
  state: BuildState;
}

/** Starts the build of `tag`; never throws. `signal` aborts it (shutdown). */
export type TriggerBuild = (tag: string, signal?: AbortSignal) => Promise<TriggerOutcome>;

/** What the clock runs: a croner pattern with its options, a fixed interval, or one date. */
export type ScheduleSpec =
  | { kind: 'cron'; pattern: string; domAndDow: boolean; startAt?: string; stopAt?: string }
  | { kind: 'interval'; seconds: number; startAt?: string; stopAt?: string }
  | { kind: 'date'; runDate: string };

export type LogFormat = 'auto' | 'json' | 'pretty';

/**
 * The clock everything that waits runs on: the time, timers, a wait that shutdown cuts short, and
 * the randomness of retry jitter. Tests pass one they can move by hand.
 */
export interface Clock {
  now(): number;
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** waits `ms`; rejects at once when `signal` aborts */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** a number from 0 to 1, for jitter */
  random(): number;
}

/** What happened that someone may want to hear of; times in ms. */
export type ChainEvent =
  | { kind: 'given-up'; tag: string; at: number; reason: string; blocks?: string[] }
  | { kind: 'build-failed'; tag: string; run: BuildRun; blocks?: string[] }
  | { kind: 'stalled'; tag: string; since: number; blocks?: string[] }
  | { kind: 'wave-started'; by: string; at: number; total: number }
  | { kind: 'chain-complete'; tag: string; at: number; wave?: WaveSummary }
  /** the database stopped answering at `since`: nothing is sent until it answers again */
  | { kind: 'database-down'; since: number };

/** How a wave went: what started it and when (ms), and what became of its nodes. */
export interface WaveSummary {
  by: string;
  startedAt: number;
  built: number;
  total: number;
  failed: number;
  blocked: number;
}

/** One node of the build graph, as the chain sees it: what it is built from, and by what. */
export interface ChainNode {
  /** its name: its tag in a line of tags, its image (namespace/repository:tag) in a graph file */
  id: string;
  /** its parents among the nodes, in the file's order */
  parents: readonly string[];
  /** the upstream images (namespace/repository:tag) it is built from: watched, never built */
  upstream: readonly string[];
  /** the build service its trigger goes to: triggers to one share BUILD_CONCURRENCY */
  service: string;
  /**
   * The Docker Hub repository (namespace/repository) whose Automated Build it triggers, when it
   * does: Docker Hub ignores a trigger that comes too soon after another to the same repository.
   */
  hubRepository?: string;
}
