import type { Logger } from '../logging/create-logger';
import type { ChainEvent, Clock, TriggerBuild, TriggerOutcome } from '../types';

/** The event that says a trigger was given up: its tag, when, and why (secrets scrubbed). */
export function givenUpEvent(tag: string, outcome: TriggerOutcome, at: number): ChainEvent {
  return { kind: 'given-up', tag, at, reason: outcome.reason ?? 'trigger failed' };
}

export interface KickOffDeps {
  firstTag: string;
  trigger: TriggerBuild;
  log: Logger;
  /** why the chain starts, for its one line: `kick-off:`, `upstream kick-off: x changed,` */
  why: string;
  signal?: AbortSignal;
  onEvent?: (event: ChainEvent) => void;
  clock: Pick<Clock, 'now'>;
}

/**
 * Starts the chain: triggers its first tag, says so in one line, and tells of a trigger given up.
 * Never throws; a trigger cut short by shutdown is no failure.
 */
export async function kickOff(deps: KickOffDeps): Promise<TriggerOutcome> {
  const { firstTag, log } = deps;
  log.info({ tag: firstTag }, `${deps.why} triggering ${firstTag}`);
  let outcome: TriggerOutcome;
  try {
    outcome = await deps.trigger(firstTag, deps.signal);
  } catch (err) {
    log.error({ err, tag: firstTag }, 'kick-off failed');
    outcome = { ok: false, dryRun: false, attempts: 1, reason: 'trigger failed' };
  }
  if (!outcome.ok && !outcome.aborted)
    deps.onEvent?.(givenUpEvent(firstTag, outcome, deps.clock.now()));
  return outcome;
}
