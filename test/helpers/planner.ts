import { createPropagator } from '../../webapp/chain/create-propagator';
import type { PendingTrigger } from '../../webapp/chain/create-journal';
import { planReconciliation } from '../../webapp/chain/plan-reconciliation';
import type { ChainEvent, ChainNode, TriggerOutcome } from '../../webapp/types';
import { flush, memoryJournal } from './app';
import { captureLogs } from './logs';
import { ManualTimers } from './timers';

export const ok: TriggerOutcome = { ok: true, dryRun: false, attempts: 1, status: 200 };
export const refused: TriggerOutcome = {
  ok: false,
  dryRun: false,
  attempts: 1,
  reason: 'refused (401)',
};

export interface PlannerOptions {
  /** ms from the last parent's push to a trigger */
  delay: number;
  /** ms before an awaited build counts as stalled */
  stallTimeout: number;
  journal?: PendingTrigger[];
  /** shared with an earlier planner: a restart on the same clock */
  timers?: ManualTimers;
  /** what each trigger is answered (ok when left out) */
  answer?: (id: string) => TriggerOutcome;
  /** ms: when this process started, for the registry's looks */
  startedAt?: number;
}

/** The wave planner on manual timers, every trigger answered at once as `answer` says. */
export function startPlanner(nodes: ChainNode[], options: PlannerOptions) {
  const timers = options.timers ?? new ManualTimers();
  const start = timers.now();
  const sent: { id: string; at: number }[] = [];
  const events: ChainEvent[] = [];
  const journal = memoryJournal(options.journal ?? []);
  const logs = captureLogs();
  const propagator = createPropagator({
    nodes,
    delay: options.delay,
    longestDelay: 86400_000,
    log: logs.log,
    trigger: async (id) => {
      sent.push({ id, at: timers.now() - start });
      return (options.answer ?? (() => ok))(id);
    },
    clock: timers,
    journal,
    stallTimeout: options.stallTimeout,
    stallRetrigger: false,
    concurrency: 4,
    graphName: 'chains.yml',
    onEvent: (event) => events.push(event),
  });
  /** moves the clock on by `ms`, letting each trigger's answer come in */
  const advance = async (ms: number) => {
    timers.advance(ms);
    await flush();
    await flush();
  };
  // Docker Hub's pushed_at, in whole seconds: each push of these tests is a new one
  const push = (id: string) => propagator.accept(id, String(Math.floor(timers.now() / 1000)));
  const ids = () => sent.map((entry) => entry.id);
  const startedAt = options.startedAt ?? start;
  /** one look at the registry, which shows these pushes (ms), as the reconciler makes it */
  const look = (registry: Record<string, number>) => {
    const decisions = planReconciliation(
      {
        nodes,
        now: timers.now(),
        startedAt,
        delay: options.delay,
        window: 24 * 3600_000,
        tolerance: 60_000,
        ...propagator.knowledge(),
      },
      new Map(Object.entries(registry).map(([id, pushedAt]) => [id, { pushedAt }])),
    );
    propagator.reconcile(decisions);
    return decisions;
  };
  return { timers, propagator, sent, ids, events, advance, push, journal, look, logs, start };
}
