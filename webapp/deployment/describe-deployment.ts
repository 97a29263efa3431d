import { describeSchedule } from '../clock/create-schedule';
import type { Config } from '../config';

/**
 * What this deployment drives, for each process's first line: the repository, the tags in build
 * order, where triggers go (`where`, secrets already masked) and the schedule's next kick-off.
 */
export function describeDeployment(
  config: Config,
  where: string,
  next: Date | null,
): { fields: Record<string, unknown>; text: string } {
  const repository = `${config.userName}/${config.repoName}`;
  const schedule = describeSchedule(config.schedule, config.timezone);
  const nextKickoff = next === null ? 'none' : next.toISOString();
  return {
    // The text says it all; foreman cuts lines over 500 characters in two.
    fields: { repository, nextKickoff },
    text:
      `${repository}: ${config.tagSequence.join(' -> ')}; builds by ${config.target.name} at ${where}; ` +
      `kick-off ${schedule}, next ${nextKickoff}${config.dryRun ? '; DRY RUN' : ''}`,
  };
}
