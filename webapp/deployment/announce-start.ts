import { describeSchedule } from '../clock/create-schedule';
import type { Config } from '../config';
import type { Logger } from '../logging/create-logger';
import { repositoryName } from '../chain/parse-image-ref';

/**
 * ms: the day Docker retires Automated Builds, after which its trigger URLs start nothing
 * (https://docs.docker.com/docker-hub/repos/manage/builds/).
 */
export const automatedBuildsEnd = Date.parse('2027-04-01T00:00:00Z');

/**
 * Each process's first line: what this deployment drives (the repository and its tags in build
 * order, or the graph file's images), where triggers go (`where`, secrets already masked) and
 * the schedule's next kick-off. Then one warning per token variable that is not set, naming
 * what runs dry for want of it.
 */
export function announceStart(
  log: Logger,
  name: 'web' | 'clock',
  config: Config,
  where: string,
  next: Date | null,
  now: Date = new Date(),
): void {
  const { graph } = config;
  const repository = `${config.userName}/${config.repoName}`;
  const schedule = describeSchedule(config.schedule, config.timezone);
  const nextKickoff = next === null ? 'none' : next.toISOString();
  const what =
    graph.file === null
      ? `${repository}: ${config.tagSequence.join(' -> ')}`
      : `${graph.file}: ${graph.nodes.length} images in ${new Set(graph.nodes.map((node) => repositoryName(node.image))).size} repositories, ${graph.upstream.length} upstream`;
  // The text says it all; foreman cuts lines over 500 characters in two.
  log.info(
    graph.file === null ? { repository, nextKickoff } : { graph: graph.file, nextKickoff },
    `${name} started: ${what}; builds by ${graph.file === null ? config.target.name : 'each image its own'} at ${where}; ` +
      `kick-off ${schedule}, next ${nextKickoff}${config.dryRun ? '; DRY RUN' : ''}`,
  );
  const retired = graph.nodes.filter((node) => node.build.target.name === 'dockerhub');
  if (name === 'web' && retired.length > 0 && now.getTime() >= automatedBuildsEnd) {
    const shown =
      graph.file === null ? config.tagSequence.join(', ') : listed(retired.map((node) => node.id));
    log.warn(
      { images: retired.length },
      `Docker Hub retired Automated Builds on 2027-04-01: the dockerhub target triggers nothing now (${shown}); build with github or gitlab (see "Leaving Automated Builds" in the README)`,
    );
  }
  const doing = name === 'web' ? 'triggers are logged, not sent' : 'kick-offs are logged, not sent';
  if (graph.file === null) {
    if (config.dryRun) log.warn(`DRY RUN: ${config.tokenVariable} is not set; ${doing}`);
    return;
  }
  const dry = new Map<string, string[]>();
  for (const node of graph.nodes) {
    if (!node.build.dryRun) continue;
    dry.set(node.build.tokenVariable, [...(dry.get(node.build.tokenVariable) ?? []), node.id]);
  }
  for (const [variable, ids] of dry) {
    const shown = listed(ids);
    log.warn(
      { variable, images: ids.length },
      `DRY RUN for ${shown}: ${variable} is not set; their ${doing}`,
    );
  }
}

/** At most five names, and how many more. */
function listed(ids: readonly string[]): string {
  return ids.length > 5
    ? `${ids.slice(0, 5).join(', ')} and ${ids.length - 5} more`
    : ids.join(', ');
}
