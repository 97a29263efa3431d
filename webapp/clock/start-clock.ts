import type { Cron } from 'croner';
import type { Logger } from '../logging/create-logger';
import { realClock } from '../timing/real-clock';
import type { ChainEvent, ChainNode, Clock, ScheduleSpec, TriggerBuild } from '../types';
import { kickOffRoots } from '../chain/kick-off';
import { createSchedule } from './create-schedule';

export interface ClockDeps {
  schedule: ScheduleSpec;
  timezone: string;
  /** the nodes without parent nodes: each tick triggers them */
  roots: readonly Pick<ChainNode, 'id' | 'hubRepository'>[];
  /** ms between two triggers to one Docker Hub repository */
  delay: number;
  /** triggers sent at once */
  concurrency: number;
  log: Logger;
  trigger: TriggerBuild;
  /** hears of a kick-off whose trigger was given up */
  onEvent?: (event: ChainEvent) => void;
  /** the real clock when left out */
  clock?: Pick<Clock, 'now' | 'sleep'>;
  /** aborts the kick-off under way (shutdown) */
  signal?: AbortSignal;
  /**
   * Claims the tick scheduled at `at` before its kick-off, when other dynos run the same
   * schedule: false when another one has it, or it cannot be claimed. Each tick is sent when
   * left out.
   */
  claimTick?: (at: Date) => Promise<boolean>;
}

/** Triggers the roots on every tick of the schedule; a failed tick never stops the clock. */
export function startClock(deps: ClockDeps): Cron {
  const { log } = deps;
  const job = createSchedule(deps.schedule, deps.timezone, async () => {
    // The tick as scheduled, which every dyno computes alike (croner tells only when it fired):
    // the latest one due by now, however late this one fired or whichever it skipped.
    const now = (deps.clock ?? realClock).now();
    const tick = job.previousRuns(1, new Date(now + 1))[0] ?? new Date(now);
    if (deps.claimTick !== undefined && !(await deps.claimTick(tick))) {
      logNext(job, log);
      return;
    }
    await kickOffRoots({
      roots: deps.roots,
      delay: deps.delay,
      concurrency: deps.concurrency,
      ...(deps.signal === undefined ? {} : { signal: deps.signal }),
      trigger: deps.trigger,
      log,
      why: 'kick-off:',
      ...(deps.onEvent === undefined ? {} : { onEvent: deps.onEvent }),
      clock: deps.clock ?? realClock,
    });
    logNext(job, log);
  });
  logNext(job, log);
  return job;
}

function logNext(job: Cron, log: Logger): void {
  const next = job.nextRun();
  if (next === null) log.warn('the schedule has no further kick-off');
  else log.info({ next: next.toISOString() }, `next kick-off at ${next.toISOString()}`);
}
