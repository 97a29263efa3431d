import type { Logger } from '../logging/create-logger';
import type { ChainEvent, ChainNode, Clock, TriggerBuild, TriggerOutcome } from '../types';
import { forEachAtMost } from '../timing/for-each-at-most';

/** The event that says a trigger was given up: its tag, when, and why (secrets scrubbed). */
export function givenUpEvent(
  tag: string,
  outcome: TriggerOutcome,
  at: number,
): Extract<ChainEvent, { kind: 'given-up' }> {
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

export interface KickOffRootsDeps extends Omit<KickOffDeps, 'firstTag'> {
  /** the nodes without parent nodes, in the graph's order */
  roots: readonly Pick<ChainNode, 'id' | 'hubRepository'>[];
  /** ms between two triggers to one Docker Hub repository */
  delay: number;
  /** triggers sent at once */
  concurrency: number;
  clock: Pick<Clock, 'now' | 'sleep'>;
}

/**
 * Starts a wave at the roots: every root triggered, those of one Docker Hub repository `delay`
 * apart (Docker Hub ignores a trigger that comes too soon after another), the others together,
 * `concurrency` at a time. Never throws.
 */
export async function kickOffRoots(deps: KickOffRootsDeps): Promise<TriggerOutcome[]> {
  const groups = new Map<string, string[]>();
  for (const root of deps.roots) {
    const key = root.hubRepository ?? `node ${root.id}`;
    groups.set(key, [...(groups.get(key) ?? []), root.id]);
  }
  const outcomes: TriggerOutcome[] = [];
  await forEachAtMost([...groups.values()], deps.concurrency, async (group) => {
    for (const [index, id] of group.entries()) {
      // Shutdown: no group starts, and none goes on.
      if (deps.signal?.aborted === true) return;
      if (index > 0) {
        try {
          await deps.clock.sleep(deps.delay, deps.signal);
        } catch {
          return;
        }
      }
      outcomes.push(await kickOff({ ...deps, firstTag: id }));
    }
  });
  return outcomes;
}
