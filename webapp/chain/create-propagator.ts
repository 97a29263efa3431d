import { randomUUID } from 'node:crypto';
import type { Logger } from '../logging/create-logger';
import type { ChainEvent, ChainNode, Clock, TriggerOutcome } from '../types';
import type { Journal, PendingTrigger } from './create-journal';
import { givenUpEvent } from './kick-off';
import { orderGraph } from './order-graph';
import type { ReconcileDecision } from './plan-reconciliation';

/** What a push's delivery did: the children it queued, or why it queued none. */
export interface Decision {
  /**
   * queued: it queued the trigger of some children; duplicate: their triggers were already
   * queued or sent for this push; waiting: its children wait for other parents of theirs; last:
   * it has no children
   */
  kind: 'queued' | 'duplicate' | 'waiting' | 'last';
  /** the delivery repeats a push the app knew */
  duplicate: boolean;
  /** the children this push queued, or had already queued */
  next: string[];
  /** ms: when the first of them is due */
  dueAt?: number;
  /** children that wait for other parents of theirs, or are blocked by a node that failed */
  waiting: { node: string; waitsFor: string[]; blockedBy?: string }[];
}

/** ms: a push time later than now by more than this is not a push (a wrong clock or record). */
export const futureSlack = 60_000;

export interface PropagatorDeps {
  nodes: readonly ChainNode[];
  /** ms between the last parent's push and a node's trigger */
  delay: number;
  /** the longest delay any configuration can set: a journal entry due later is damage */
  longestDelay: number;
  log: Logger;
  /**
   * starts the build of a node; `node` is its id, `key` this trigger's own name, the same for
   * every attempt and after a restart, however late it is sent
   */
  trigger: (node: string, signal: AbortSignal, key: string) => Promise<TriggerOutcome>;
  /** per node, the latest push known: kept where the store keeps it, so a repeat stays one */
  pushes?: { load(): Record<string, number>; save(pushes: Record<string, number>): void };
  clock: Clock;
  journal: Journal;
  /** ms after a trigger without that node's push before it counts as stalled; 0 turns it off */
  stallTimeout: number;
  /** trigger a stalled node once more */
  stallRetrigger: boolean;
  /** triggers sent at once to one build service */
  concurrency: number;
  /** what the journal's dropped entries are said to be missing from: TAG_SEQUENCE, the file */
  graphName: string;
  /** hears what is worth telling people: waves, triggers given up, stalls, failures */
  onEvent?: (event: ChainEvent) => void;
  /** hears every push of a node, whatever announced it (webhook or registry), repeats included */
  onPush?: (node: string) => void;
}

export interface ChainStatus {
  lastPush: Record<string, string>;
  pending: { tag: string; after: string; dueAt: string }[];
  awaiting: { tag: string; since: string }[];
  stalled: { tag: string; since: string }[];
  /** nodes whose build failed or was cancelled, since their trigger */
  failed: { tag: string; since: string }[];
  /** nodes kept from being built by a node that failed: node, the one that blocks it */
  blocked: Record<string, string>;
  /** the wave in flight, and the last one that ended */
  wave: WaveStatus | null;
  lastWave: WaveStatus | null;
}

export interface WaveStatus {
  by: string;
  startedAt: string;
  endedAt?: string;
  /** every node the wave rebuilds, and per node what became of it so far */
  members: string[];
  built: string[];
  failed: string[];
  blocked: Record<string, string>;
}

interface Pending extends PendingTrigger {
  timer?: unknown;
  sending?: Promise<void>;
  /** its time came while a node it is built from was still moving: sent once that settles */
  held?: boolean;
}

interface Awaited {
  since: number;
  retriggered: boolean;
  timer: unknown;
}

/** What the chain knows, for comparing with what the registry shows. */
export interface ChainKnowledge {
  /** per node, the time (ms) of the latest push the app knows of */
  knownPush: ReadonlyMap<string, number>;
  /** per node, when the app last sent its trigger */
  triggeredAt: ReadonlyMap<string, number>;
  pending: ReadonlySet<string>;
  awaiting: ReadonlySet<string>;
}

export interface Propagator {
  /** A push of `node` came in: queue the children it makes due, unless this push already did. */
  accept(node: string, pushedAt: string | undefined): Decision;
  /** `node` was triggered elsewhere (the clock's kick-off): its push is now expected. */
  expect(node: string, why?: string): void;
  /** The registry shows a push of `node` at `pushedAt` (ms) that no webhook announced. */
  learnPush(node: string, pushedAt: number): void;
  /** Acts on one look at the registry: learns its pushes, then owes what they make owed. */
  reconcile(decisions: readonly ReconcileDecision[]): void;
  /** Upstream images changed (counted at `at`, ms): the nodes built from them are owed. */
  upstreamChanged(images: readonly string[], at: number): void;
  /** `node` is to be built now, with everything built from it after it. */
  rebuild(node: string, why: string): void;
  /** `node`'s build failed or was cancelled: its push is no longer awaited. What it blocks. */
  buildFailed(node: string): string[];
  /** `node`'s image has a new digest that no build of the app explains: it was pushed now. */
  imageChanged(node: string): Decision;
  /**
   * `node`'s build ended well (its CI run succeeded): it counts as its push now. What tells of
   * that push later (Docker Hub's webhook, the tags API) within a minute is the same push.
   */
  buildEnded(node: string): Decision;
  knowledge(): ChainKnowledge;
  /** Schedules what the journal says is owed; what is overdue is sent at once. */
  resume(): number;
  status(): ChainStatus;
  /** Stops every timer and wait; what is still owed stays in the journal. */
  close(): Promise<void>;
}

interface Wave {
  by: string;
  startedAt: number;
  members: Set<string>;
  built: Set<string>;
  failed: Set<string>;
}

/** Waves that ended are kept for /status: the last one. */
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * What to trigger when, and what was already triggered: the graph's memory. A node is owed when
 * something it is built from changed after its last build started (make's rule); it is
 * triggered `delay` after the last of those pushes once no node it is built from is still
 * moving, so every node is built once per wave, after all of its parents.
 */
export function createPropagator(deps: PropagatorDeps): Propagator {
  const { log, clock, journal } = deps;
  const byId = new Map(deps.nodes.map((node) => [node.id, node]));
  const ordered = orderGraph(deps.nodes);
  if (!ordered.ok) throw new Error(`the graph has a cycle: ${ordered.cycle.join(' -> ')}`);
  const order = ordered.levels.flat();
  const children = new Map<string, string[]>(deps.nodes.map((node) => [node.id, []]));
  const builtFrom = new Map<string, string[]>();
  for (const node of deps.nodes) {
    for (const parent of node.parents) children.get(parent)?.push(node.id);
    for (const image of node.upstream) {
      builtFrom.set(image, [...(builtFrom.get(image) ?? []), node.id]);
    }
  }
  const descendants = (roots: Iterable<string>): Set<string> => {
    const seen = new Set<string>();
    const visit = (id: string) => {
      for (const child of children.get(id) ?? []) {
        if (seen.has(child)) continue;
        seen.add(child);
        visit(child);
      }
    };
    for (const root of roots) visit(root);
    return seen;
  };

  const pending = new Map<string, Pending>();
  const lastPush = new Map<string, number>();
  const knownPush = new Map<string, number>();
  /** per node, its latest push's time in whole seconds, as the journal keeps it */
  const pushStamp = new Map<string, string>();
  /** when each node's latest change happened, on the clock that its children's triggers use */
  const changedAt = new Map<string, number>();
  /** what a node's latest build is built from: changes up to this time (ms) */
  const covered = new Map<string, number>();
  /** nodes asked to be built (a rebuild), and since when */
  const forced = new Map<string, number>();
  const upstreamAt = new Map<string, number>();
  const triggeredAt = new Map<string, number>();
  const awaiting = new Map<string, Awaited>();
  const stalled = new Map<string, number>();
  const failed = new Map<string, number>();
  /** per Docker Hub repository, when a trigger last went to it */
  const hubSentAt = new Map<string, number>();
  /** the Docker Hub repositories a trigger is being sent to */
  const hubOut = new Set<string>();
  /** node: the node whose failure keeps it from being built, until that one is pushed */
  const blockedBy = new Map<string, string>();
  /** per build service, triggers being sent, and those waiting for a free place */
  const sending = new Map<string, number>();
  const queued = new Map<string, (() => void)[]>();
  // Event times that never tie: a push that arrives in the same millisecond as a trigger was
  // sent still comes after it.
  let lastEvent = Number.NEGATIVE_INFINITY;
  const tick = (): number => {
    const now = clock.now();
    lastEvent = now > lastEvent ? now : lastEvent + 0.001;
    return lastEvent;
  };
  let wave: Wave | undefined;
  let lastWave: (Wave & { endedAt: number; blockedAtEnd: Map<string, string> }) | undefined;
  const shutdown = new AbortController();

  // What is owed, and the builds awaited: what is built from them waits, after a restart too.
  const persist = () => {
    journal.save([
      ...[...pending.values()].map(({ id, tag, dueAt, after, pushedAt }) => ({
        ...(id === undefined ? {} : { id }),
        tag,
        dueAt,
        after,
        ...(pushedAt === undefined ? {} : { pushedAt }),
      })),
      ...[...awaiting].map(([tag, { since }]) => ({
        tag,
        dueAt: since,
        after: tag,
        awaited: true as const,
      })),
    ]);
    // Saved when they changed: most saves of the journal leave the pushes known as they were.
    const pushes = Object.fromEntries(knownPush);
    const text = JSON.stringify(pushes);
    if (text === savedPushes) return;
    savedPushes = text;
    deps.pushes?.save(pushes);
  };
  let savedPushes: string | undefined;

  /** The latest change of what `id` is built from that its latest build does not hold. */
  const owedSince = (id: string): number | undefined => {
    const node = byId.get(id) as ChainNode;
    const since = covered.get(id) ?? Number.NEGATIVE_INFINITY;
    let latest: number | undefined;
    const consider = (at: number | undefined) => {
      if (at !== undefined && at > since) latest = Math.max(latest ?? at, at);
    };
    for (const parent of node.parents) consider(changedAt.get(parent));
    for (const image of node.upstream) consider(upstreamAt.get(image));
    consider(forced.get(id));
    return latest;
  };

  /**
   * When `id`'s trigger is due: `delay` after the last parent's push, at once for the rest; and
   * a node whose build is still awaited not sooner than `delay` after that build's trigger, so
   * that changes that come while it builds are built once, together.
   */
  const dueOf = (id: string): number => {
    const node = byId.get(id) as ChainNode;
    const since = covered.get(id) ?? Number.NEGATIVE_INFINITY;
    const building = awaiting.get(id);
    let due =
      building === undefined ? clock.now() : Math.max(clock.now(), building.since + deps.delay);
    for (const parent of node.parents) {
      const at = changedAt.get(parent);
      if (at !== undefined && at > since) due = Math.max(due, Math.round(at + deps.delay));
    }
    return due;
  };

  const inFlight = (id: string) => pending.has(id) || awaiting.has(id);

  /**
   * `due`, or later: `delay` after the last trigger sent or queued to the same Docker Hub
   * repository, so that the due time shown is the time it goes.
   */
  const spaced = (id: string, due: number): number => {
    const repository = byId.get(id)?.hubRepository;
    if (repository === undefined) return due;
    // Only those due before it: a later one is spaced after it in its turn, when it is sent.
    // One built from it waits for it anyway.
    let last = hubSentAt.get(repository) ?? Number.NEGATIVE_INFINITY;
    const below = descendants([id]);
    for (const entry of pending.values()) {
      if (entry.tag === id || entry.held === true || entry.dueAt > due) continue;
      if (below.has(entry.tag)) continue;
      if (byId.get(entry.tag)?.hubRepository === repository) last = Math.max(last, entry.dueAt);
    }
    return Math.max(due, last + deps.delay);
  };

  /**
   * Whether `id` is still to move: owed, pending or awaited, or built from a node that is
   * (`moving`, filled in build order). A blocked node does not move until it is freed.
   */
  const moves = (id: string, moving: ReadonlySet<string>): boolean =>
    !blockedBy.has(id) &&
    (owedSince(id) !== undefined ||
      inFlight(id) ||
      (byId.get(id) as ChainNode).parents.some((parent) => moving.has(parent)));

  /** Every node that is still to move. O(nodes+edges). */
  const movingNodes = (): Set<string> => {
    const moving = new Set<string>();
    for (const id of order) if (moves(id, moving)) moving.add(id);
    return moving;
  };

  /**
   * Walks the graph in build order: queues each owed node that nothing it is built from holds
   * back, releases held triggers, and keeps the wave's account. Pure bookkeeping, O(nodes+edges).
   */
  const plan = (): string[] => {
    const moving = new Set<string>();
    const newlyQueued: string[] = [];
    for (const id of order) {
      const node = byId.get(id) as ChainNode;
      const heldBack = node.parents.some((parent) => moving.has(parent));
      const owed = owedSince(id) !== undefined;
      // What is built from a blocked node is blocked by the same failure: nothing waits for ever.
      const inherited = node.parents.map((parent) => blockedBy.get(parent)).find(Boolean);
      if (inherited !== undefined && !blockedBy.has(id) && (owed || pending.has(id))) {
        blockedBy.set(id, inherited);
      }
      const blocker = blockedBy.get(id);
      if (blocker !== undefined) dropBlocked(id);
      const entry = pending.get(id);
      if (entry?.held === true && !heldBack) {
        // `delay` after the last push of what it waited for, never earlier than it was due.
        entry.held = false;
        entry.dueAt = Math.max(entry.dueAt, dueOf(id));
        schedule(entry);
        newlyQueued.push(id);
      }
      // An owed node whose build is still awaited is queued again: that build started before
      // the change that makes it owed.
      if (owed && !pending.has(id) && !heldBack && blocker === undefined) {
        const after = latestParent(id);
        const stamp = pushStamp.get(after);
        schedule({
          id: randomUUID(),
          tag: id,
          dueAt: spaced(id, dueOf(id)),
          after,
          ...(stamp === undefined ? {} : { pushedAt: stamp }),
        });
        newlyQueued.push(id);
      } else if (entry?.timer !== undefined && owed) {
        // A parent pushed again since it was queued: `delay` after the last push, as ever.
        const due = spaced(id, dueOf(id));
        if (due > entry.dueAt) {
          clock.clearTimeout(entry.timer);
          entry.dueAt = due;
          schedule(entry);
          newlyQueued.push(id);
        }
      }
      if (moves(id, moving)) moving.add(id);
      if (wave?.members.has(id) === true) {
        if (moving.has(id) || failed.has(id)) wave.built.delete(id);
        else if (blocker === undefined && !wave.failed.has(id)) wave.built.add(id);
      }
    }
    if (newlyQueued.length > 0) persist();
    endWaveIfDone();
    return newlyQueued;
  };

  /** The parent whose push makes `id` due, for the journal and the page. */
  const latestParent = (id: string): string => {
    const node = byId.get(id) as ChainNode;
    let best: string | undefined;
    let bestAt = Number.NEGATIVE_INFINITY;
    for (const parent of node.parents) {
      const at = changedAt.get(parent) ?? Number.NEGATIVE_INFINITY;
      if (at > bestAt) [best, bestAt] = [parent, at];
    }
    for (const image of node.upstream) {
      const at = upstreamAt.get(image) ?? Number.NEGATIVE_INFINITY;
      if (at > bestAt) [best, bestAt] = [image, at];
    }
    return best ?? id;
  };

  const startWave = (by: string, touched: Iterable<string>) => {
    const members = new Set(touched);
    if (wave === undefined) {
      wave = {
        by,
        startedAt: clock.now(),
        members,
        built: new Set(),
        failed: new Set(),
      };
      deps.onEvent?.({ kind: 'wave-started', by, at: wave.startedAt, total: members.size });
      log.info({ by, nodes: members.size }, `wave started by ${by}: ${members.size} node(s)`);
      return;
    }
    for (const id of members) wave.members.add(id);
  };

  const endWaveIfDone = () => {
    if (wave === undefined) return;
    for (const id of wave.members) {
      if (!wave.built.has(id) && !wave.failed.has(id) && !blockedBy.has(id)) return;
    }
    const ended = {
      ...wave,
      endedAt: clock.now(),
      // as it ended: a later push may free them, which is a later wave's business
      blockedAtEnd: new Map(
        [...wave.members].flatMap((id) => {
          const blocker = blockedBy.get(id);
          return blocker === undefined ? [] : [[id, blocker] as [string, string]];
        }),
      ),
    };
    const blocked = ended.blockedAtEnd.size;
    wave = undefined;
    lastWave = ended;
    const last = [...ended.built].at(-1) ?? [...ended.members].at(-1) ?? '';
    deps.onEvent?.({
      kind: 'chain-complete',
      tag: last,
      at: lastPush.has(last) ? (knownPush.get(last) ?? ended.endedAt) : ended.endedAt,
      wave: {
        by: ended.by,
        startedAt: ended.startedAt,
        built: ended.built.size,
        total: ended.members.size,
        failed: ended.failed.size,
        blocked,
      },
    });
    log.info(
      {
        by: ended.by,
        built: ended.built.size,
        total: ended.members.size,
        failed: ended.failed.size,
        blocked,
      },
      `wave ended: ${ended.built.size} of ${ended.members.size} built` +
        (ended.failed.size + blocked > 0
          ? `, ${ended.failed.size} failed, ${blocked} blocked`
          : ''),
    );
  };

  /** A node of the wave failed: what is built from it is blocked, and people hear of both. */
  const fail = (id: string): string[] => {
    if (wave?.members.has(id) === true) {
      wave.failed.add(id);
      wave.built.delete(id);
    }
    const blocks: string[] = [];
    for (const below of descendants([id])) {
      if (blockedBy.has(below) || awaiting.has(below)) continue;
      const entry = pending.get(below);
      if (entry !== undefined && entry.timer === undefined && entry.held !== true) continue;
      if (wave !== undefined && wave.members.has(below) && wave.built.has(below)) continue;
      blockedBy.set(below, id);
      blocks.push(below);
    }
    if (blocks.length > 0) {
      log.warn({ node: id, blocks }, `${id} failed: ${blocks.join(', ')} blocked, not triggered`);
    }
    return blocks;
  };

  /**
   * `id` was pushed: what its failure blocked is free, and so is what is built from it and was
   * blocked by a node it is itself built from, since it now holds a build of its own.
   */
  /** A blocked node's trigger not yet on its way is dropped: its push would build on the failure. */
  const dropBlocked = (id: string) => {
    const entry = pending.get(id);
    if (entry === undefined || (entry.timer === undefined && entry.held !== true)) return;
    if (entry.timer !== undefined) clock.clearTimeout(entry.timer);
    pending.delete(id);
    persist();
  };

  const unblock = (id: string) => {
    wave?.failed.delete(id);
    const above = new Set<string>([id]);
    const climb = (node: string) => {
      for (const parent of byId.get(node)?.parents ?? []) {
        if (above.has(parent)) continue;
        above.add(parent);
        climb(parent);
      }
    };
    climb(id);
    const below = descendants([id]).add(id);
    for (const [blocked, blocker] of blockedBy) {
      if (blocker === id || (below.has(blocked) && above.has(blocker))) blockedBy.delete(blocked);
    }
  };

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
  const attempt = (id: string, key: string): Promise<TriggerOutcome> =>
    deps.trigger(id, shutdown.signal, key).catch((err: unknown) => {
      log.error({ err, tag: id }, `trigger of ${id} failed`);
      return { ok: false, dryRun: false, attempts: 1, reason: 'trigger failed' };
    });

  /** Waits for a free place among the triggers being sent to `id`'s build service. */
  // Synchronous when a place is free: the trigger then starts in the timer's own turn.
  const take = (service: string): Promise<void> | undefined => {
    const busy = sending.get(service) ?? 0;
    sending.set(service, busy + 1);
    if (busy < deps.concurrency) return undefined;
    return new Promise<void>((resolve) => {
      const waiting = queued.get(service) ?? [];
      waiting.push(resolve);
      queued.set(service, waiting);
    });
  };
  const release = (service: string) => {
    sending.set(service, (sending.get(service) ?? 1) - 1);
    queued.get(service)?.shift()?.();
  };

  const send = async (entry: Pending) => {
    const node = byId.get(entry.tag) as ChainNode;
    const moving = movingNodes();
    if (node.parents.some((parent) => moving.has(parent))) {
      entry.held = true;
      log.info(
        { tag: entry.tag },
        `${entry.tag}'s trigger waits: something it is built from is being built again`,
      );
      return;
    }
    // Docker Hub ignores a trigger that comes too soon after another to the same repository.
    const repository = node.hubRepository;
    if (repository !== undefined) {
      // While another trigger to it is out (retrying, say), the delay counts from its answer.
      const free = hubOut.has(repository)
        ? clock.now() + deps.delay
        : (hubSentAt.get(repository) ?? Number.NEGATIVE_INFINITY) + deps.delay;
      if (free > clock.now()) {
        entry.dueAt = free;
        schedule(entry);
        persist();
        return;
      }
      hubSentAt.set(repository, clock.now());
      hubOut.add(repository);
    }
    const place = take(node.service);
    if (place !== undefined) await place;
    // What changed before the request went out is in the build it starts.
    const sentAt = tick();
    let outcome: TriggerOutcome;
    try {
      outcome = await attempt(entry.tag, entry.id ?? `${entry.tag}@${entry.dueAt}`);
    } finally {
      release(node.service);
      if (repository !== undefined) {
        hubOut.delete(repository);
        hubSentAt.set(repository, clock.now());
      }
    }
    if (outcome.aborted) return;
    pending.delete(entry.tag);
    persist();
    // Sent or given up, this trigger answered every change before it: a later one is owed anew.
    covered.set(entry.tag, Math.max(sentAt, covered.get(entry.tag) ?? sentAt));
    forced.delete(entry.tag);
    if (!outcome.ok) {
      // triggerTag has said why; what is built from it waits for the next push or wave.
      stalled.set(entry.tag, clock.now());
      const blocks = fail(entry.tag);
      deps.onEvent?.({ ...givenUpEvent(entry.tag, outcome, clock.now()), blocks });
      plan();
      return;
    }
    if (outcome.dryRun) {
      // Nothing was sent, so no push will come: what is built from it cannot be built.
      const blocks = fail(entry.tag);
      if (blocks.length > 0) log.info({ tag: entry.tag, blocks }, `${entry.tag} runs dry`);
      plan();
      return;
    }
    triggeredAt.set(entry.tag, clock.now());
    failed.delete(entry.tag);
    // A push that came while the request was out answers it: nothing more to wait for.
    if ((changedAt.get(entry.tag) ?? Number.NEGATIVE_INFINITY) <= sentAt) watch(entry.tag, false);
    plan();
  };

  // Awaited whatever STALL_TIMEOUT says: what is built from it waits for its push.
  const watch = (id: string, retriggered: boolean, since = clock.now()) => {
    if (shutdown.signal.aborted) return;
    unwatch(id);
    const timer =
      deps.stallTimeout > 0
        ? clock.setTimeout(() => onStall(id), since + deps.stallTimeout - clock.now())
        : undefined;
    awaiting.set(id, { since, retriggered, timer });
    persist();
  };

  /** Whatever announced it, a push of `id` ends the wait for it. */
  const pushed = (id: string, at: number, arrived: number) => {
    const ours = awaiting.has(id);
    lastPush.set(id, clock.now());
    knownPush.set(id, Math.max(at, knownPush.get(id) ?? at));
    changedAt.set(id, Math.max(arrived, changedAt.get(id) ?? arrived));
    // A push the app did not ask for holds what the node was built from until then.
    if (!ours) covered.set(id, Math.max(arrived, covered.get(id) ?? arrived));
    forced.delete(id);
    unwatch(id);
    stalled.delete(id);
    failed.delete(id);
    unblock(id);
    deps.onPush?.(id);
    return ours;
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
   * Whether a delivery of `id` announces a push the app already knows (from an earlier delivery
   * or from the registry). Docker Hub's pushed_at is in whole seconds and the registry's
   * tag_last_pushed is the same event to the millisecond, so a push is new only when its second
   * comes after the second of the latest push known. A delivery without pushed_at cannot be told
   * from a late repeat: it is new unless the graph is still moving from the push known (a
   * child's trigger is pending or its push awaited).
   */
  const isRepeat = (id: string, pushedMs: number | undefined) => {
    const known = knownPush.get(id);
    if (known === undefined) return false;
    if (pushedMs !== undefined) return Math.floor(pushedMs / 1000) <= Math.floor(known / 1000);
    return (children.get(id) ?? []).some((child) => inFlight(child));
  };

  const unwatch = (id: string) => {
    const watched = awaiting.get(id);
    if (watched === undefined) return;
    if (watched.timer !== undefined) clock.clearTimeout(watched.timer);
    awaiting.delete(id);
    persist();
  };

  // The node was built anyway (a manual build, another system): its own trigger would build it,
  // and everything built from it, twice. One that is being sent already cannot be taken back.
  const satisfy = (id: string) => {
    const owed = pending.get(id);
    if (owed === undefined || (owed.timer === undefined && owed.held !== true)) return;
    if (owed.timer !== undefined) clock.clearTimeout(owed.timer);
    pending.delete(id);
    persist();
    log.info(
      { tag: id, after: owed.after },
      `${id} was pushed before its pending trigger: dropped that trigger`,
    );
  };

  const onStall = (id: string) => {
    const watched = awaiting.get(id);
    if (watched === undefined) return;
    awaiting.delete(id);
    persist();
    stalled.set(id, watched.since);
    const since = iso(watched.since);
    const retrigger = deps.stallRetrigger && !watched.retriggered;
    log.error(
      { tag: id, since, retrigger },
      `chain stalled: no push of ${id} since its trigger at ${since} (failed or ignored build?)`,
    );
    const blocks = retrigger ? [] : fail(id);
    deps.onEvent?.({ kind: 'stalled', tag: id, since: watched.since, blocks });
    if (!retrigger) {
      plan();
      return;
    }
    void attempt(id, randomUUID()).then((outcome) => {
      if (outcome.aborted || outcome.dryRun) return;
      if (outcome.ok) {
        watch(id, true);
        return;
      }
      const given = fail(id);
      deps.onEvent?.({ ...givenUpEvent(id, outcome, clock.now()), blocks: given });
      plan();
    });
  };

  const childrenDecision = (id: string, duplicate: boolean, newly: string[]): Decision => {
    const below = children.get(id) ?? [];
    if (below.length === 0) return { kind: 'last', duplicate, next: [], waiting: [] };
    const next = below.filter((child) => pending.has(child));
    const dueAt = next.length === 0 ? undefined : Math.min(...next.map(dueAtOf));
    const moving = movingNodes();
    const waiting = below
      .filter((child) => !pending.has(child) && !awaiting.has(child))
      .map((child) => {
        const blocker = blockedBy.get(child);
        return blocker === undefined
          ? {
              node: child,
              waitsFor: (byId.get(child) as ChainNode).parents.filter((parent) =>
                moving.has(parent),
              ),
            }
          : { node: child, waitsFor: [], blockedBy: blocker };
      })
      .filter((entry) => entry.waitsFor.length > 0 || entry.blockedBy !== undefined);
    const fresh = next.filter((child) => newly.includes(child));
    const kind =
      fresh.length > 0 && !duplicate
        ? 'queued'
        : next.length === 0 && waiting.length > 0 && !duplicate
          ? 'waiting'
          : 'duplicate';
    // A repeat names every child, as the push it repeats did.
    const named = kind === 'duplicate' && next.length === 0 ? below : next;
    return { kind, duplicate, next: named, ...(dueAt === undefined ? {} : { dueAt }), waiting };
  };
  const dueAtOf = (id: string) => (pending.get(id) as Pending).dueAt;

  /**
   * A push of `id`; `fresh` when it is surely a new one (a build's end, a new digest), which no
   * push known before can be a repeat of.
   */
  const takePush = (id: string, pushedAt: string | undefined, fresh: boolean): Decision => {
    if (!byId.has(id)) throw new Error(`not a node of the graph`);
    const pushedMs = believablePush(pushedAt);
    const repeated = !fresh && isRepeat(id, pushedMs);
    // A repeat announces a push already known: the waits it ended stay ended, the ones since
    // (a newer trigger of this node) go on.
    if (repeated) return childrenDecision(id, true, []);
    const wasPending = pending.has(id);
    // The push of a build the app started answers that trigger only: one queued since, for a
    // change that came while it built, still goes.
    if (!awaiting.has(id)) satisfy(id);
    const ours = pushed(id, pushedMs ?? clock.now(), tick());
    if (pushedMs === undefined) pushStamp.delete(id);
    else pushStamp.set(id, String(Math.floor(pushedMs / 1000)));
    // A push the wave was waiting for moves it on; any other starts one, or joins it.
    const awaitedByWave = ours || (wasPending && wave?.members.has(id) === true);
    if (wave === undefined || !awaitedByWave) {
      startWave(`${id} pushed`, [id, ...descendants([id])]);
    }
    const newly = plan();
    return childrenDecision(id, false, newly);
  };

  const api: Propagator = {
    accept: (id, pushedAt) => takePush(id, pushedAt, false),
    imageChanged: (id) => takePush(id, String(Math.floor(clock.now() / 1000)), true),
    expect(id, why = 'kick-off') {
      startWave(why, [id, ...descendants([id])]);
      covered.set(id, tick());
      // Triggered elsewhere after every change that made it owed: its own trigger would be a
      // second build of the same.
      const owed = pending.get(id);
      if (owed !== undefined && (owed.timer !== undefined || owed.held === true)) {
        if (owed.timer !== undefined) clock.clearTimeout(owed.timer);
        pending.delete(id);
        persist();
        log.info({ tag: id }, `${id} was triggered by the ${why}: dropped its pending trigger`);
      }
      triggeredAt.set(id, clock.now());
      forced.delete(id);
      watch(id, false);
      plan();
    },
    learnPush(id, at) {
      pushed(id, at, at);
      plan();
    },
    reconcile(decisions) {
      for (const decision of decisions) {
        if (decision.kind === 'known' || decision.kind === 'old' || decision.kind === 'recent') {
          continue;
        }
        // Only a node this process triggered or awaits counts as built by its wave; a push of
        // any other is history, unless it makes something owed below.
        if (
          !knownPush.has(decision.tag) ||
          (knownPush.get(decision.tag) ?? 0) < decision.pushedAt
        ) {
          // A push from before the app's trigger, stall or failure of it answers none of them.
          const since = Math.max(
            awaiting.get(decision.tag)?.since ?? Number.NEGATIVE_INFINITY,
            stalled.get(decision.tag) ?? Number.NEGATIVE_INFINITY,
            failed.get(decision.tag) ?? Number.NEGATIVE_INFINITY,
          );
          if (decision.pushedAt < since - futureSlack) {
            knownPush.set(decision.tag, decision.pushedAt);
            continue;
          }
          // As its webhook would: built after what its pending trigger was for, it is not owed.
          const owed = pending.get(decision.tag);
          const after = owed === undefined ? undefined : changedAt.get(owed.after);
          if (after !== undefined && decision.pushedAt > after && !awaiting.has(decision.tag)) {
            satisfy(decision.tag);
          }
          pushed(decision.tag, decision.pushedAt, decision.pushedAt);
          pushStamp.set(decision.tag, String(Math.floor(decision.pushedAt / 1000)));
        }
      }
      for (const decision of decisions) {
        if (decision.kind === 'await') {
          startWave(`${decision.tag} pushed (found by the registry)`, [
            decision.next,
            ...descendants([decision.next]),
          ]);
          covered.set(decision.next, decision.since);
          triggeredAt.set(decision.next, decision.since);
          watch(decision.next, false, decision.since);
        } else if (decision.kind === 'propagate') {
          startWave(`${decision.tag} pushed (found by the registry)`, [
            decision.tag,
            ...descendants([decision.tag]),
          ]);
        }
      }
      plan();
    },
    upstreamChanged(images, at) {
      const touched = images.flatMap((image) => builtFrom.get(image) ?? []);
      if (touched.length === 0) return;
      const counted = Math.max(at, tick());
      for (const image of images) upstreamAt.set(image, counted);
      startWave(`${images.join(', ')} changed`, [...touched, ...descendants(touched)]);
      plan();
    },
    rebuild(id, why) {
      forced.set(id, tick());
      startWave(why, [id, ...descendants([id])]);
      plan();
    },
    buildEnded(id) {
      // The end of a build the app awaits (or that failed, and was run again) is new; any other
      // end is the same build told twice.
      const fresh = awaiting.has(id) || failed.has(id);
      const decision = takePush(id, String(clock.now() / 1000), fresh);
      const until = clock.now() + futureSlack;
      knownPush.set(id, Math.max(until, knownPush.get(id) ?? until));
      return decision;
    },
    buildFailed(id) {
      if (!awaiting.has(id)) return [];
      unwatch(id);
      failed.set(id, clock.now());
      const blocks = fail(id);
      plan();
      return blocks;
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
      const saved = journal.load();
      for (const [id, at] of Object.entries(deps.pushes?.load() ?? {})) {
        if (byId.has(id)) knownPush.set(id, Math.max(at, knownPush.get(id) ?? at));
      }
      for (const entry of saved) {
        if (entry.awaited !== true || !byId.has(entry.tag) || awaiting.has(entry.tag)) continue;
        // Awaited before the restart: still awaited, as if triggered then.
        const since = Math.min(entry.dueAt, clock.now());
        startWave('the journal', [entry.tag, ...descendants([entry.tag])]);
        covered.set(entry.tag, Math.max(since, covered.get(entry.tag) ?? since));
        triggeredAt.set(entry.tag, since);
        watch(entry.tag, false, since);
        log.info(
          { tag: entry.tag, since: iso(since) },
          `still awaiting the push of ${entry.tag}, triggered at ${iso(since)}`,
        );
      }
      const owed = saved
        .filter((entry) => entry.awaited !== true)
        .filter((entry) => {
          const dueAt = iso(entry.dueAt);
          if (!byId.has(entry.tag)) {
            log.warn(
              { tag: entry.tag, dueAt },
              `dropped the pending trigger of ${entry.tag}: the tag is no longer in ${deps.graphName}`,
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
          { tag: entry.tag, dueAt: iso(entry.dueAt) },
          `resuming the pending trigger of ${entry.tag}`,
        );
        startWave('the journal', [entry.tag, ...descendants([entry.tag])]);
        schedule({
          ...entry,
          id: entry.id ?? randomUUID(),
          dueAt: Math.max(entry.dueAt, clock.now()),
        });
      }
      persist();
      plan();
      return owed.length;
    },
    status() {
      const waveStatus = (
        shown: Wave & { endedAt?: number; blockedAtEnd?: Map<string, string> },
      ): WaveStatus => ({
        by: shown.by,
        startedAt: iso(shown.startedAt),
        ...(shown.endedAt === undefined ? {} : { endedAt: iso(shown.endedAt) }),
        members: [...shown.members],
        built: [...shown.built],
        failed: [...shown.failed],
        blocked: Object.fromEntries(
          shown.blockedAtEnd ??
            [...shown.members].flatMap((id) => {
              const blocker = blockedBy.get(id);
              return blocker === undefined ? [] : [[id, blocker]];
            }),
        ),
      });
      return {
        lastPush: Object.fromEntries([...lastPush].map(([id, at]) => [id, iso(at)])),
        pending: [...pending.values()].map((entry) => ({
          tag: entry.tag,
          after: entry.after,
          dueAt: iso(entry.dueAt),
        })),
        awaiting: [...awaiting].map(([id, watched]) => ({ tag: id, since: iso(watched.since) })),
        stalled: [...stalled].map(([id, since]) => ({ tag: id, since: iso(since) })),
        failed: [...failed].map(([id, since]) => ({ tag: id, since: iso(since) })),
        blocked: Object.fromEntries(blockedBy),
        wave: wave === undefined ? null : waveStatus(wave),
        lastWave: lastWave === undefined ? null : waveStatus(lastWave),
      };
    },
    async close() {
      shutdown.abort();
      for (const entry of pending.values()) {
        if (entry.timer !== undefined) clock.clearTimeout(entry.timer);
      }
      for (const watched of awaiting.values()) {
        if (watched.timer !== undefined) clock.clearTimeout(watched.timer);
      }
      for (const waiting of queued.values()) for (const resolve of waiting.splice(0)) resolve();
      await Promise.all([...pending.values()].map((entry) => entry.sending));
    },
  };
  return api;
}
