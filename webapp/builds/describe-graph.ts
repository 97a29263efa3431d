import { createSchedule, describeSchedule } from '../clock/create-schedule';
import type { Config } from '../config';
import { orderGraph } from '../chain/order-graph';
import { createNodeTargets } from './prepare-triggers';
import { repositoryName } from '../chain/parse-image-ref';

/**
 * The build order of the configured graph as text, level by level: each image with what it
 * waits for and what builds it (secrets masked), then the timing. Starts and sends nothing.
 */
export function describeGraph(config: Config, now: Date): string {
  const { graph } = config;
  const ordered = orderGraph(graph.nodes);
  // loadConfig refuses a cycle: this is only for a graph built some other way.
  if (!ordered.ok) return `the graph has a cycle: ${ordered.cycle.join(' -> ')}\n`;
  const targets = createNodeTargets(config);
  const byId = new Map(graph.nodes.map((node) => [node.id, node]));
  const repositories = new Set(graph.nodes.map((node) => repositoryName(node.image)));
  const lines = [
    `${graph.file ?? 'TAG_SEQUENCE'}: ${graph.nodes.length} image(s) in ${repositories.size} repositor${repositories.size === 1 ? 'y' : 'ies'}, ${graph.upstream.length} upstream image(s) watched`,
  ];
  const width = Math.min(48, Math.max(...graph.nodes.map((node) => node.id.length)));
  ordered.levels.forEach((ids, level) => {
    lines.push('', `level ${level + 1}${level === 0 ? ' (kicked off by the schedule)' : ''}`);
    for (const id of ids) {
      const node = byId.get(id);
      if (node === undefined) continue;
      const waits = [...node.parents, ...node.upstream.map((image) => `${image} (upstream)`)];
      const target = targets.get(id);
      const build = `${node.build.target.name} ${target?.where ?? ''}`.trim();
      const dry = node.build.dryRun ? `; DRY RUN: ${node.build.tokenVariable} is not set` : '';
      lines.push(
        `  ${id.padEnd(width)}  ${waits.length === 0 ? 'waits for nothing' : `after ${waits.join(', ')}`}`,
        `  ${''.padEnd(width)}  built by ${build}${dry}`,
      );
    }
  });
  const next = createSchedule(config.schedule, config.timezone, undefined, now).nextRun(now);
  lines.push(
    '',
    `delay: ${config.propagationDelay / 1000} s after the last parent's push; at most ${config.buildConcurrency} trigger(s) at once per build service, Docker Hub triggers to one repository ${config.propagationDelay / 1000} s apart`,
    `kick-off: ${describeSchedule(config.schedule, config.timezone)}, next ${next === null ? 'none' : next.toISOString()}`,
  );
  return `${lines.join('\n')}\n`;
}
