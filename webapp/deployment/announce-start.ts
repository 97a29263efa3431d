import { describeSchedule } from '../clock/create-schedule';
import type { Config } from '../config';
import type { Logger } from '../logging/create-logger';

/**
 * Each process's first line: what this deployment drives, the repository, the tags in build
 * order, where triggers go (`where`, secrets already masked) and the schedule's next kick-off.
 */
export function announceStart(
  log: Logger,
  name: 'web' | 'clock',
  config: Config,
  where: string,
  next: Date | null,
): void {
  const repository = `${config.userName}/${config.repoName}`;
  const schedule = describeSchedule(config.schedule, config.timezone);
  const nextKickoff = next === null ? 'none' : next.toISOString();
  // The text says it all; foreman cuts lines over 500 characters in two.
  log.info(
    { repository, nextKickoff },
    `${name} started: ${repository}: ${config.tagSequence.join(' -> ')}; builds by ${config.target.name} at ${where}; ` +
      `kick-off ${schedule}, next ${nextKickoff}${config.dryRun ? '; DRY RUN' : ''}`,
  );
}
