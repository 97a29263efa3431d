import { createNodeTargets, describeWhere } from '../builds/prepare-triggers';
import { createSchedule } from '../clock/create-schedule';
import type { Config } from '../config';
import type { GitHubEvent } from '../github/read-github-event';
import type { Logger } from '../logging/create-logger';
import type { SharedStore } from '../store/create-pg-store';
import { within } from '../timing/within';
import { emptyState, type InboxDelivery, type StoreStatus } from '../store/state-store';
import { realClock } from '../timing/real-clock';
import { startPolling } from '../timing/start-polling';
import type { GitHubAnswer } from './add-github-route';
import type { Decision } from '../chain/create-propagator';
import type { StatusView } from './build-status-view';
import { createPlanner, type Planner, type PlannerParts } from './create-planner';

/** ms between two reads of the inbox by the dyno that plans: its floor, and the lag at most */
export const inboxEvery = 500;
/** ms between two writes of the planner's view for the other dynos' pages */
const shareEvery = 2000;

/** What the server acts through: one planner, or whichever dyno holds the lease. */
export interface PlanningRole {
  /** a push's delivery: the planner's decision, or kept for the dyno that plans */
  acceptPush(
    tag: string,
    pushedAt: string | undefined,
  ): Decision | { kind: 'kept'; description: string };
  deliverGitHub(event: Exclude<GitHubEvent, { kind: 'ignored' }>): Promise<GitHubAnswer>;
  status(): StatusView;
  /** the planner, while this process plans */
  planner(): Planner | undefined;
  /** where triggers go, secrets masked */
  where: string;
  /** the clock's next kick-off, from this process's copy of its schedule */
  nextKickoff(): Date | null;
  start(): void;
  /** The clock process triggered the roots: their pushes are awaited, by the planner. */
  clockKickedOff(): void;
  close(): Promise<void>;
}

/**
 * A dyno's part among several that share one database: every one takes deliveries; the one
 * that holds the lease plans and sends, and acts on what the others kept for it. It claims each
 * trigger and notification before sending, so that one a dyno that died had sent is not sent
 * again. Tries for the lease at start and every third of LEASE_TIME.
 */
export function sharePlanning(
  config: Config,
  log: Logger,
  store: SharedStore,
  parts: PlannerParts = {},
): PlanningRole {
  const clock = parts.clock ?? realClock;
  const dynoLog = log.child({ unit: 'dyno' });
  const where = describeWhere([...createNodeTargets(config).values()]);
  const kickoffs = createSchedule(config.schedule, config.timezone);
  const nextKickoff = () => kickoffs.nextRun(new Date(clock.now()));
  let planner: Planner | undefined;
  let plannerName: string | null = null;
  let shared: StatusView | undefined;
  /** when the planner wrote the view shown (ms) */
  let sharedAt: number | undefined;
  let migrated = false;
  /** when this dyno last gained the lease, on its own clock */
  let gainedAt = Number.NEGATIVE_INFINITY;
  /** when this dyno last renewed its lease, on its own clock */
  let renewedAt = Number.NEGATIVE_INFINITY;
  let closed = false;
  let changing: Promise<void> = Promise.resolve();
  const loops: { stop(): void }[] = [];

  const downSince = () => {
    const since = store.downSince();
    return since === undefined ? null : new Date(since).toISOString();
  };
  const storeStatus = (role: StoreStatus['role']): StoreStatus => ({
    kind: 'postgres',
    role,
    planner: role === 'planner' ? store.holder : plannerName,
    dyno: store.holder,
    unreachableSince: downSince(),
    ...(role === 'standby' && sharedAt !== undefined
      ? { viewAt: new Date(sharedAt).toISOString() }
      : {}),
  });

  // What a standby dyno shows before the planner's view has reached it: the graph, at rest.
  const idle = createPlanner(config, log.child({ unit: 'standby' }), {
    ...parts,
    store,
    saved: emptyState(),
    trigger: async () => ({ ok: false, dryRun: true, attempts: 0 }),
    storeStatus: () => storeStatus('standby'),
  });
  const status = (): StatusView =>
    planner?.status() ??
    (shared === undefined ? idle.status() : { ...shared, store: storeStatus('standby') });

  const keptFor = () =>
    `kept for the dyno that plans (${plannerName ?? 'none yet'})` +
    (store.downSince() === undefined ? '' : ', in memory until the database answers');

  const acceptPush = (tag: string, pushedAt: string | undefined) => {
    const delivery: InboxDelivery = {
      kind: 'push',
      tag,
      ...(pushedAt === undefined ? {} : { pushedAt }),
    };
    if (planner !== undefined) {
      const decision = planner.propagator.accept(tag, pushedAt);
      store.noteActedOn(delivery);
      return decision;
    }
    store.record(delivery);
    return { kind: 'kept' as const, description: `${tag} pushed: ${keptFor()}` };
  };

  const deliverGitHub = async (
    event: Exclude<GitHubEvent, { kind: 'ignored' }>,
  ): Promise<GitHubAnswer> => {
    const delivery: InboxDelivery =
      event.kind === 'run-completed'
        ? { kind: 'run', service: 'github', id: event.runId, state: event.state, url: event.url }
        : { kind: 'published', image: event.image, digest: event.digest };
    if (planner !== undefined) {
      const answer = await planner.deliverGitHub(event);
      store.noteActedOn(delivery);
      return answer;
    }
    store.record(delivery);
    return { status: 202, description: keptFor() };
  };

  // Waits for the database to answer, and for another dyno's claim to pass to this one when
  // that dyno died: nothing goes out unclaimed.
  const claim = async (key: string, signal: AbortSignal) => {
    for (let attempt = 0; ; attempt++) {
      if (signal.aborted) return 'aborted' as const;
      try {
        // A new planner leaves another's claims alone for one lease: a dyno that was only cut
        // off from the database writes, once back, what it sent meanwhile.
        const answer = await store.claim(key, true, clock.now() - gainedAt >= config.leaseTime);
        if (answer === 'granted') touch(key);
        if (answer !== 'busy') return answer;
      } catch {
        // The store has said once that the database does not answer.
      }
      try {
        await clock.sleep(Math.min(5000, 500 * 2 ** Math.min(attempt, 4)), signal);
      } catch {
        return 'aborted' as const;
      }
    }
  };

  // A claim being sent is touched every third of the lease, so that a send that takes long
  // (retries, a slow service) does not pass to another dyno while it goes on.
  const holding = new Map<string, { stop(): void }>();
  const settle = (key: string, sent: boolean) => {
    holding.get(key)?.stop();
    holding.delete(key);
    if (sent) store.markSent(key);
  };
  const touch = (key: string) => {
    if (holding.has(key)) return;
    let first = true;
    holding.set(
      key,
      startPolling(
        async () => {
          if (first) {
            first = false;
            return;
          }
          await store.touchClaim(key).catch(() => undefined);
        },
        Math.max(1000, config.leaseTime / 3),
        clock,
      ),
    );
  };

  const readInbox = async () => {
    const current = planner;
    if (current === undefined) return;
    try {
      // A full batch is followed by the next at once: the inbox is drained, not sampled.
      for (;;) {
        const entries = await store.takeInbox();
        for (const entry of entries) {
          if (planner !== current) return;
          try {
            await current.act(entry.delivery);
          } catch (err) {
            // One delivery it cannot act on is dropped, not read again and again.
            dynoLog.error(
              { err, delivery: entry.delivery.kind },
              'a kept delivery could not be acted on',
            );
          }
        }
        if (entries.length > 0) store.consumed(entries.map((entry) => entry.id));
        if (entries.length < store.inboxBatch) return;
      }
    } catch {
      // Read again at the next turn; the store has said why.
    }
  };

  const gain = async () => {
    let saved;
    try {
      await store.flush();
      saved = await store.load();
    } catch {
      return;
    }
    if (closed) return;
    const made = createPlanner(config, log, {
      ...parts,
      store,
      saved,
      claim,
      settle,
      storeStatus: () => storeStatus('planner'),
    });
    planner = made;
    gainedAt = clock.now();
    plannerName = store.holder;
    dynoLog.info({ dyno: store.holder }, 'this dyno holds the lease: it plans and sends');
    made.start();
    const inbox = startPolling(readInbox, inboxEvery, clock);
    let last = '';
    let lastAt = Number.NEGATIVE_INFINITY;
    const share = startPolling(
      async () => {
        const view = made.status();
        const text = JSON.stringify(view);
        // Written when it changes, and at least every half minute: its age says the planner lives.
        if (text === last && clock.now() - lastAt < 30_000) return;
        last = text;
        lastAt = clock.now();
        store.shareStatus(view);
      },
      shareEvery,
      clock,
    );
    planning = { inbox, share };
  };
  let planning: { inbox: { stop(): void }; share: { stop(): void } } | undefined;

  /** `handOver`: what it acted on and could not write goes to the inbox, for the next planner. */
  const lose = async (why: string, handOver: boolean) => {
    const was = planner;
    if (was === undefined) return;
    planner = undefined;
    planning?.inbox.stop();
    planning?.share.stop();
    planning = undefined;
    await was.close();
    if (handOver) store.handOver();
    // It plans no more: its page shows its own last view until the planner's reaches it.
    plannerName = null;
    shared = was.status();
    sharedAt = clock.now();
    dynoLog.warn({ dyno: store.holder }, `this dyno stopped planning: ${why}`);
  };

  const look = async () => {
    if (closed) return;
    try {
      if (!migrated) {
        await store.migrate();
        migrated = true;
      }
      // The lease runs from when the database took the renewal, which is after it was asked.
      const asked = clock.now();
      const holds = await store.holdLease();
      if (holds) renewedAt = asked;
      if (holds && planner === undefined) await gain();
      else if (!holds) {
        if (planner !== undefined) await lose('another dyno holds the lease', true);
        plannerName = (await store.leaseHolder())?.holder ?? null;
        const read = await store.readStatus();
        shared = read?.view as StatusView | undefined;
        sharedAt = read?.at;
      }
    } catch {
      // The store has said once that the database does not answer; the next look tries again.
      // A planner that could not renew its lease before it runs out stops: another dyno may
      // take over then, and two would send the same triggers. What it acted on goes to the
      // inbox, for whichever plans next.
      if (planner !== undefined && clock.now() - renewedAt >= config.leaseTime * 0.8) {
        await lose('it could not renew its lease before it ran out', true);
      }
    }
  };
  const lookInTurn = () => {
    changing = changing.then(look);
    return changing;
  };

  // Said once per outage, by the dyno that plans: the others' logs say it too.
  store.onReachable((reachable, since) => {
    if (!reachable) planner?.tellUnclaimed({ kind: 'database-down', since });
  });

  return {
    acceptPush,
    deliverGitHub,
    status,
    where,
    nextKickoff,
    planner: () => planner,
    // The clock of whichever dyno claimed the tick kicked off; the planner follows the schedule.
    clockKickedOff: () => planner?.clockKickedOff(),
    start() {
      loops.push(startPolling(lookInTurn, Math.max(1000, config.leaseTime / 3), clock));
    },
    async close() {
      closed = true;
      kickoffs.stop();
      for (const loop of loops) loop.stop();
      // A look in flight ends at its query's deadline at the latest; a stop does not wait that
      // long. Each wait on the database below is bounded too: a stop has 8 s in all.
      await within(1000, changing);
      const held = planner !== undefined;
      await Promise.all([lose('it stops', false), idle.close()]);
      for (const key of [...holding.keys()]) settle(key, false);
      await within(1500, store.flush());
      if (held) await within(500, store.releaseLease());
      await store.close();
    },
  };
}
