import { Cron, type CronOptions } from 'croner';
import type { ScheduleSpec } from '../types';

/**
 * A croner job for the schedule, paused unless `run` is given. Throws on a bad pattern or date.
 * `now` anchors an interval without a start date, as APScheduler counts from the scheduler's start.
 */
export function createSchedule(
  spec: ScheduleSpec,
  timezone: string,
  run?: () => Promise<void>,
  now: Date = new Date(),
): Cron {
  const options: CronOptions = {
    timezone,
    paused: run === undefined,
    // A tick that is still triggering when the next one comes is skipped, not doubled.
    protect: true,
    // Set times of day (lists too) run once on the day a time repeats, and just after a skipped
    // one: the daylight-saving rule of docs/configuration.md. https://github.com/Hexagon/croner
    fixedTimeRule: 'no-wildcard',
  };
  let pattern: string;
  switch (spec.kind) {
    case 'cron':
      pattern = spec.pattern;
      options.domAndDow = spec.domAndDow;
      options.mode = spec.domAndDow ? '7-part' : '5-or-6-parts';
      if (spec.startAt !== undefined) options.startAt = spec.startAt;
      if (spec.stopAt !== undefined) options.stopAt = spec.stopAt;
      break;
    case 'interval': {
      // APScheduler anchors an interval at its start date, or one interval after the
      // scheduler starts; croner's `interval` option is not anchored, so spell it out.
      const start =
        spec.startAt === undefined
          ? new Date(now.getTime() + spec.seconds * 1000)
          : new Date(spec.startAt);
      if (Number.isNaN(start.getTime()))
        throw new Error(`start_date '${spec.startAt}' is not a date`);
      pattern = intervalPattern(spec.seconds, start, timezone);
      options.startAt = start;
      if (spec.stopAt !== undefined) options.stopAt = spec.stopAt;
      break;
    }
    case 'date':
      pattern = spec.runDate;
      break;
  }
  if (spec.kind === 'date' && Number.isNaN(new Date(spec.runDate).getTime())) {
    throw new Error(`run_date '${spec.runDate}' is not a date`);
  }
  return run === undefined ? new Cron(pattern, options) : new Cron(pattern, options, run);
}

/**
 * The schedule as `TRIGGER_SCHEDULE` would take it (a 5- or 6-field cron pattern) where one
 * exists, in words otherwise; for logs and /status.
 */
export function describeSchedule(spec: ScheduleSpec, timezone: string): string {
  const span = (startAt?: string, stopAt?: string) =>
    (startAt === undefined ? '' : ` from ${startAt}`) +
    (stopAt === undefined ? '' : ` until ${stopAt}`);
  switch (spec.kind) {
    case 'cron': {
      const pattern = spec.domAndDow ? shortPattern(spec.pattern) : spec.pattern;
      const shown =
        pattern === undefined
          ? `APScheduler cron (second minute hour day month weekday year, all must match) '${spec.pattern}'`
          : `cron '${pattern}'`;
      return `${shown} (${timezone})${span(spec.startAt, spec.stopAt)}`;
    }
    case 'interval':
      return `every ${spec.seconds} s${span(spec.startAt, spec.stopAt)}`;
    case 'date':
      return `once at ${spec.runDate} (${timezone})`;
  }
}

/**
 * A 7-field pattern (seconds first, year last, day AND weekday) as 5 or 6 fields, when it means
 * the same there: any year, and day or weekday unrestricted (classic cron ORs them).
 */
function shortPattern(pattern: string): string | undefined {
  const [second, minute, hour, day, month, weekday, year] = pattern.split(' ');
  if (year !== '*' || (day !== '*' && weekday !== '*')) return undefined;
  const fields = [minute, hour, day, month, weekday].join(' ');
  return second === '0' ? fields : `${second} ${fields}`;
}

/** A 6-field pattern that fires every `seconds` (see isCronInterval) in step with `start`. */
function intervalPattern(seconds: number, start: Date, timezone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      weekday: 'short',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
      .formatToParts(start)
      .map((part) => [part.type, part.value]),
  );
  const [second, minute, hour] = [parts.second, parts.minute, parts.hour].map(Number) as [
    number,
    number,
    number,
  ];
  const step = (value: number, every: number, max: number) => `${value % every}-${max}/${every}`;
  if (seconds < 60) return `${step(second, seconds, 59)} * * * * *`;
  if (seconds < 3600) return `${second} ${step(minute, seconds / 60, 59)} * * * *`;
  if (seconds < 86400) return `${second} ${minute} ${step(hour, seconds / 3600, 23)} * * *`;
  if (seconds === 86400) return `${second} ${minute} ${hour} * * *`;
  return `${second} ${minute} ${hour} * * ${parts.weekday}`;
}
