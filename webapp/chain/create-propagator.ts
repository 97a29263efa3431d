import type { Logger } from '../logging/create-logger';
import type { ChainEvent, Clock, TriggerOutcome } from '../types';
import type { Journal, PendingTrigger } from './create-journal';
import { givenUpEvent } from './kick-off';

export type Decision =
  | { kind: 'queued'; next: string; dueAt: number }
  | { kind: 'duplicate'; next: string; dueAt?: number }
  | { kind: 'last'; duplicate: boolean };

/** ms: a push time later than now by more than this is not a push (a wrong clock or record). */
export const futureSlack = 60_000;

export interface PropagatorDeps {
  tags: readonly string[];
  /** ms between a push and the next tag's trigger */
  delay: number;
  /** the longest delay any configuration can set: a journal entry due later is damage */
  longestDelay: number;
  log: Logger;
  trigger: (tag: string, signal: AbortSignal) => Promise<TriggerOutcome>;
  clock: Clock;
  journal: Journal;
  /** ms after a trigger without that tag's push before it counts as stalled; 0 turns it off */
  stallTimeout: number;
  /** trigger a stalled tag once more */
  stallRetrigger: boolean;
  /** hears what is worth telling people: a trigger given up, a stall, the last tag's push */
  onEvent?: (event: ChainEvent) => void;
  /** hears every push of a tag, whatever announced it (webhook or registry), repeats included */
  onPush?: (tag: string) => void;
}

export interface ChainStatus {
  lastPush: Record<string, string>;
  pending: { tag: string; after: string; dueAt: string }[];
  awaiting: { tag: string; since: string }[];
  stalled: { tag: string; since: string }[];
  /** tags whose build failed or was cancelled, since their trigger */
  failed: { tag: string; since: string }[];
}

interface Pending extends PendingTrigger {
  timer?: unknown;
  sending?: Promise<void>;
}

interface Awaited {
  since: number;
  retriggered: boolean;
  timer: unknown;
}

/** What the chain knows, for comparing with what the registry shows. */
export interface ChainKnowledge {
  /** per tag, the time (ms) of the latest push the app knows of */
  knownPush: ReadonlyMap<string, number>;
  /** per tag, when the app last sent its trigger */
  triggeredAt: ReadonlyMap<string, number>;
  pending: ReadonlySet<string>;
  awaiting: ReadonlySet<string>;
}

export interface Propagator {
  /** A push of `tag` came in: queue the next tag's trigger unless this push already did. */
  accept(tag: string, pushedAt: string | undefined): Decision;
  /** `tag` was triggered elsewhere (the clock's kick-off): its push is now expected. */
  expect(tag: string): void;
  /** The registry shows a push of `tag` at `pushedAt` (ms) that no webhook announced. */
  learnPush(tag: string, pushedAt: number): void;
  /** Queues the trigger of the tag after `tag` for its push at `pushedAt`, due at `dueAt`. */
  propagateAt(tag: string, pushedAt: number, dueAt: number): void;
  /** `tag`'s push is awaited as if it had been triggered at `since` (ms). */
  awaitSince(tag: string, since: number): void;
  /** `tag`'s build failed or was cancelled: its push is no longer awaited. */
  buildFailed(tag: string): void;
  knowledge(): ChainKnowledge;
  /** Schedules what the journal says is owed; what is overdue is sent at once. */
  resume(): number;
  status(): ChainStatus;
  /** Stops every timer and wait; what is still owed stays in the journal. */
  close(): Promise<void>;
}

/** What to trigger when, and what was already triggered: the chain's memory. */
export function createPropagator(deps: PropagatorDeps): Propagator {
  const { tags, log, clock, journal } = deps;
  const positions = new Map(tags.map((tag, index) => [tag, index]));
  const pending = new Map<string, Pending>();
  const lastPush = new Map<string, number>();
  const knownPush = new Map<string, number>();
  const triggeredAt = new Map<string, number>();
  const awaiting = new Map<string, Awaited>();
  const stalled = new Map<string, number>();
  const failed = new Map<string, number>();
  const shutdown = new AbortController();

  const persist = () =>
    journal.save(
      [...pending.values()].map(({ tag, dueAt, after, pushedAt }) => ({
        tag,
        dueAt,
        after,
        ...(pushedAt === undefined ? {} : { pushedAt }),
      })),
    );

  const schedule = (entry: Pending) => {
    pending.set(entry.tag, entry);
    // Closed: what is owed stays in the journal, and no timer outlives the app.
    if (shutdown.signal.aborted) return;
    entry.timer = clock.setTimeout(() => {
      entry.timer = undefined;
      entry.sending = send(entry);
    }, entry.dueAt - clock.now());
  };

  // A trigger that throws (it should not) counts as failed rather than crashing the process.
  const attempt = (tag: string): Promise<TriggerOutcome> =>
    deps.trigger(tag, shutdown.signal).catch((err: unknown) => {
      log.error({ err, tag }, `trigger of ${tag} failed`);
      return { ok: false, dryRun: false, attempts: 1, reason: 'trigger failed' };
    });

  const givenUp = (tag: string, outcome: TriggerOutcome) =>
    deps.onEvent?.(givenUpEvent(tag, outcome, clock.now()));

  const send = async (entry: Pending) => {
    const outcome = await attempt(entry.tag);
    if (outcome.aborted) return;
    pending.delete(entry.tag);
    persist();
    if (!outcome.ok) {
      // triggerTag has said why; the chain cannot go on until the next push or kick-off.
      stalled.set(entry.tag, clock.now());
      givenUp(entry.tag, outcome);
      return;
    }
    if (outcome.dryRun) return;
    triggeredAt.set(entry.tag, clock.now());
    failed.delete(entry.tag);
    watch(entry.tag, false);
  };

  const watch = (tag: string, retriggered: boolean, since = clock.now()) => {
    if (shutdown.signal.aborted) return;
    if (deps.stallTimeout <= 0) return;
    unwatch(tag);
    const timer = clock.setTimeout(() => onStall(tag), since + deps.stallTimeout - clock.now());
    awaiting.set(tag, { since, retriggered, timer });
  };

  /** Whatever announced it, a push of `tag` ends the wait for it. */
  const pushed = (tag: string, at: number) => {
    lastPush.set(tag, clock.now());
    knownPush.set(tag, Math.max(at, knownPush.get(tag) ?? at));
    unwatch(tag);
    stalled.delete(tag);
    failed.delete(tag);
    deps.onPush?.(tag);
  };

  /**
   * A delivery's or the journal's pushed_at (seconds, whole or not) in ms, when it can be a push:
   * not more than a minute ahead of the clock.
   */
  const believablePush = (text: string | undefined): number | undefined => {
    if (text === undefined || !/^\d+(\.\d+)?$/.test(text)) return undefined;
    const at = Math.floor(Number(text)) * 1000;
    return Number.isFinite(at) && at <= clock.now() + futureSlack ? at : undefined;
  };

  /**
   * Whether a delivery of `tag` announces a push the app already knows (from an earlier delivery
   * or from the registry). Docker Hub's pushed_at is in whole seconds and the registry's
   * tag_last_pushed is the same event to the millisecond, so a push is new only when its second
   * comes after the second of the latest push known. A delivery without pushed_at cannot be told
   * from a late repeat: it is new unless the chain is still moving from the push known (the next
   * tag's trigger is pending or its push awaited).
   */
  const isRepeat = (tag: string, next: string | undefined, pushedMs: number | undefined) => {
    const known = knownPush.get(tag);
    if (known === undefined) return false;
    if (pushedMs !== undefined) return Math.floor(pushedMs / 1000) <= Math.floor(known / 1000);
    return next !== undefined && (pending.has(next) || awaiting.has(next));
  };

  const queue = (entry: Pending) => {
    schedule(entry);
    persist();
  };

  const unwatch = (tag: string) => {
    const watched = awaiting.get(tag);
    if (watched !== undefined) clock.clearTimeout(watched.timer);
    awaiting.delete(tag);
  };

  // The tag was built anyway (a manual build, another system): its own trigger would build it,
  // and every tag after it, twice. One that is being sent already cannot be taken back.
  const satisfy = (tag: string) => {
    const owed = pending.get(tag);
    if (owed === undefined || owed.timer === undefined) return;
    clock.clearTimeout(owed.timer);
    pending.delete(tag);
    persist();
    log.info(
      { tag, after: owed.after },
      `${tag} was pushed before its pending trigger: dropped that trigger`,
    );
  };

  const onStall = (tag: string) => {
    const watched = awaiting.get(tag);
    if (watched === undefined) return;
    awaiting.delete(tag);
    stalled.set(tag, watched.since);
    const since = new Date(watched.since).toISOString();
    const retrigger = deps.stallRetrigger && !watched.retriggered;
    log.error(
      { tag, since, retrigger },
      `chain stalled: no push of ${tag} since its trigger at ${since} (failed or ignored build?)`,
    );
    deps.onEvent?.({ kind: 'stalled', tag, since: watched.since });
    if (!retrigger) return;
    void attempt(tag).then((outcome) => {
      if (outcome.aborted || outcome.dryRun) return;
      if (outcome.ok) watch(tag, true);
      else givenUp(tag, outcome);
    });
  };

  return {
    accept(tag, pushedAt) {
      const position = positions.get(tag);
      if (position === undefined) throw new Error(`tag not in the sequence`);
      const pushedMs = believablePush(pushedAt);
      const next = tags[position + 1];
      const repeated = isRepeat(tag, next, pushedMs);
      // A repeat announces a push already known: the waits it ended stay ended, the ones since
      // (a newer trigger of this tag) go on.
      if (!repeated) {
        pushed(tag, pushedMs ?? clock.now());
        satisfy(tag);
      }
      if (next === undefined) {
        if (!repeated) deps.onEvent?.({ kind: 'chain-complete', tag, at: pushedMs ?? clock.now() });
        return { kind: 'last', duplicate: repeated };
      }
      const queued = pending.get(next);
      if (queued !== undefined) return { kind: 'duplicate', next, dueAt: queued.dueAt };
      if (repeated) return { kind: 'duplicate', next };
      const entry: Pending = {
        tag: next,
        dueAt: clock.now() + deps.delay,
        after: tag,
        ...(pushedMs === undefined ? {} : { pushedAt: String(Math.floor(pushedMs / 1000)) }),
      };
      queue(entry);
      return { kind: 'queued', next, dueAt: entry.dueAt };
    },
    expect(tag) {
      watch(tag, false);
    },
    learnPush(tag, at) {
      // Only a last tag this process triggered or awaits ends a chain it drove: after a
      // restart, the registry's earlier pushes are history.
      const ours = awaiting.has(tag) || triggeredAt.has(tag) || failed.has(tag);
      pushed(tag, at);
      if (ours && positions.get(tag) === tags.length - 1) {
        deps.onEvent?.({ kind: 'chain-complete', tag, at });
      }
    },
    propagateAt(tag, at, dueAt) {
      const next = tags[(positions.get(tag) ?? Number.NaN) + 1];
      if (next === undefined || pending.has(next)) return;
      queue({ tag: next, dueAt, after: tag, pushedAt: String(Math.floor(at / 1000)) });
    },
    awaitSince(tag, since) {
      watch(tag, false, since);
    },
    buildFailed(tag) {
      if (!awaiting.has(tag)) return;
      unwatch(tag);
      failed.set(tag, clock.now());
    },
    knowledge() {
      return {
        knownPush,
        triggeredAt,
        pending: new Set(pending.keys()),
        awaiting: new Set(awaiting.keys()),
      };
    },
    resume() {
      const latest = clock.now() + deps.longestDelay;
      const owed = journal.load().filter((entry) => {
        const dueAt = new Date(entry.dueAt).toISOString();
        if (!positions.has(entry.tag)) {
          log.warn(
            { tag: entry.tag, dueAt },
            `dropped the pending trigger of ${entry.tag}: the tag is no longer in TAG_SEQUENCE`,
          );
          return false;
        }
        if (entry.dueAt > latest) {
          log.error(
            { tag: entry.tag, dueAt },
            `dropped the pending trigger of ${entry.tag}: due at ${dueAt}, later than any delay allows (a damaged journal?)`,
          );
          return false;
        }
        return true;
      });
      for (const entry of owed) {
        if (pending.has(entry.tag)) continue;
        const at = believablePush(entry.pushedAt);
        if (at !== undefined) {
          knownPush.set(entry.after, Math.max(at, knownPush.get(entry.after) ?? at));
        }
        log.info(
          { tag: entry.tag, dueAt: new Date(entry.dueAt).toISOString() },
          `resuming the pending trigger of ${entry.tag}`,
        );
        schedule({ ...entry, dueAt: Math.max(entry.dueAt, clock.now()) });
      }
      persist();
      return owed.length;
    },
    status() {
      const iso = (ms: number) => new Date(ms).toISOString();
      return {
        lastPush: Object.fromEntries([...lastPush].map(([tag, at]) => [tag, iso(at)])),
        pending: [...pending.values()].map((entry) => ({
          tag: entry.tag,
          after: entry.after,
          dueAt: iso(entry.dueAt),
        })),
        awaiting: [...awaiting].map(([tag, watched]) => ({ tag, since: iso(watched.since) })),
        stalled: [...stalled].map(([tag, since]) => ({ tag, since: iso(since) })),
        failed: [...failed].map(([tag, since]) => ({ tag, since: iso(since) })),
      };
    },
    async close() {
      shutdown.abort();
      for (const entry of pending.values()) {
        if (entry.timer !== undefined) clock.clearTimeout(entry.timer);
      }
      for (const watched of awaiting.values()) clock.clearTimeout(watched.timer);
      await Promise.all([...pending.values()].map((entry) => entry.sending));
    },
  };
}
