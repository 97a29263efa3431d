import type { Config } from '../config';
import type { Logger } from '../logging/create-logger';
import type { BuildTarget, TargetContext } from './targets/build-target';
import { shareAppTokens } from './github-app/share-app-tokens';
import { realClock } from '../timing/real-clock';
import type { Clock, TriggerBuild } from '../types';
import { createTarget } from './targets/create-target';
import { createPool } from '../http/create-pool';
import { triggerTag } from './trigger-tag';

export interface PreparedTriggers {
  /** starts the build of one node of the graph (a line: its tag) */
  trigger: TriggerBuild;
  /** the target that builds a node */
  targetOf(node: string): BuildTarget;
  /** every node's target, in the graph's order */
  targets: BuildTarget[];
  /** every string that must never leave the process, of every target */
  secrets: string[];
  /** where triggers go, secrets replaced by *** */
  where: string;
  close(): Promise<void>;
}

/** triggerTag wired to each node's target, with one connection pool for the process. */
export function prepareTriggers(
  config: Config,
  log: Logger,
  clock: Pick<Clock, 'now'> = realClock,
): PreparedTriggers {
  const { nodes } = config.graph;
  const dispatcher = createPool(config.retry.timeout);
  const targets = createNodeTargets(
    config,
    shareAppTokens({
      dispatcher,
      clock,
      timeout: config.retry.timeout,
      log: log.child({ unit: 'github-app' }),
    }),
  );
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const triggerLog = log.child({ unit: 'trigger' });
  const targetOf = (id: string): BuildTarget => {
    const target = targets.get(id);
    if (target === undefined) throw new Error(`not a node of the graph`);
    return target;
  };
  const all = [...targets.values()];
  return {
    trigger: (id, signal) => {
      const node = byId.get(id);
      if (node === undefined) throw new Error(`not a node of the graph`);
      return triggerTag(node.image.tag, {
        target: targetOf(id),
        log: triggerLog,
        dryRun: node.build.dryRun,
        retry: config.retry,
        dispatcher,
        ...(config.graph.file === null ? {} : { name: id }),
        ...(signal === undefined ? {} : { signal }),
      });
    },
    targetOf,
    targets: all,
    secrets: [...new Set(all.flatMap((target) => target.secrets))],
    where: describeWhere(all),
    close: () => dispatcher.close(),
  };
}

/**
 * Each node's build target, by its id, in the graph's order. Nodes built alike (a line's tags)
 * share one: what a target learns of its server, it learns once.
 */
export function createNodeTargets(
  config: Config,
  appTokens?: TargetContext['appTokens'],
): Map<string, BuildTarget> {
  const shared = new Map<unknown, Map<string, BuildTarget>>();
  return new Map(
    config.graph.nodes.map((node) => {
      const alike = shared.get(node.build.target) ?? new Map<string, BuildTarget>();
      shared.set(node.build.target, alike);
      const repository = `${node.image.namespace}/${node.image.repository}`;
      const target =
        alike.get(repository) ??
        createTarget(node.build.target, {
          userName: node.image.namespace,
          repoName: node.image.repository,
          hubUrl: config.hubUrl,
          ...(appTokens === undefined ? {} : { appTokens }),
        });
      alike.set(repository, target);
      return [node.id, target];
    }),
  );
}

/** One target's address, or how many nodes each kind of target builds. */
export function describeWhere(targets: readonly BuildTarget[]): string {
  const places = [...new Set(targets.map((target) => target.where))];
  if (places.length === 1) return places[0] as string;
  const counts = new Map<string, number>();
  for (const target of targets) counts.set(target.name, (counts.get(target.name) ?? 0) + 1);
  return [...counts].map(([name, count]) => `${name} (${count} images)`).join(', ');
}
