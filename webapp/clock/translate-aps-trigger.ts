// Translates the original's APScheduler-style `triggerScheduling` into a croner schedule.
// APScheduler's cron trigger: https://apscheduler.readthedocs.io/en/3.x/modules/triggers/cron.html

import type { ScheduleSpec } from '../types';

export type ApsValue = string | number;

export interface ApsCron {
  trigger: 'cron';
  year?: ApsValue;
  month?: ApsValue;
  day?: ApsValue;
  week?: ApsValue;
  day_of_week?: ApsValue;
  hour?: ApsValue;
  minute?: ApsValue;
  second?: ApsValue;
  start_date?: string;
  end_date?: string;
  timezone?: string;
}

export interface ApsInterval {
  trigger: 'interval';
  weeks?: number;
  days?: number;
  hours?: number;
  minutes?: number;
  seconds?: number;
  start_date?: string;
  end_date?: string;
  timezone?: string;
}

export interface ApsDate {
  trigger: 'date';
  run_date: string;
  timezone?: string;
}

export type ApsTrigger = ApsCron | ApsInterval | ApsDate;

export interface TranslatedSchedule {
  spec: ScheduleSpec;
  timezone?: string;
}

const cronFields = [
  'year',
  'month',
  'day',
  'week',
  'day_of_week',
  'hour',
  'minute',
  'second',
] as const;
type CronField = (typeof cronFields)[number];

// APScheduler fills fields below the most significant one given with their minimum,
// and leaves those above it (and week, day_of_week always) as '*'.
const minimums: Record<CronField, string> = {
  year: '*',
  month: '1',
  day: '1',
  week: '*',
  day_of_week: '*',
  hour: '0',
  minute: '0',
  second: '0',
};

const weekdayNames = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const monthNames = [
  'jan',
  'feb',
  'mar',
  'apr',
  'may',
  'jun',
  'jul',
  'aug',
  'sep',
  'oct',
  'nov',
  'dec',
];
const plainItem = /^(\*|\d+(-\d+)?)(\/\d+)?$/;

const knownKeys: Record<ApsTrigger['trigger'], readonly string[]> = {
  cron: ['trigger', ...cronFields, 'start_date', 'end_date', 'timezone'],
  interval: [
    'trigger',
    'weeks',
    'days',
    'hours',
    'minutes',
    'seconds',
    'start_date',
    'end_date',
    'timezone',
  ],
  date: ['trigger', 'run_date', 'timezone'],
};

/** Throws an Error whose message says what is wrong with the trigger. */
export function translateApsTrigger(trigger: ApsTrigger): TranslatedSchedule {
  const kind = (trigger as { trigger?: unknown }).trigger;
  if (kind !== 'cron' && kind !== 'interval' && kind !== 'date') {
    throw new Error(`trigger must be 'cron', 'interval' or 'date'`);
  }
  const unknown = Object.keys(trigger).filter((key) => !knownKeys[kind].includes(key));
  if (unknown.length > 0) throw new Error(`unsupported ${kind} option(s): ${unknown.join(', ')}`);
  const timezone = trigger.timezone === undefined ? {} : { timezone: trigger.timezone };
  switch (trigger.trigger) {
    case 'cron':
      return { spec: translateCron(trigger), ...timezone };
    case 'interval':
      return { spec: translateInterval(trigger), ...timezone };
    case 'date':
      return { spec: { kind: 'date', runDate: String(trigger.run_date) }, ...timezone };
  }
}

function translateCron(trigger: ApsCron): ScheduleSpec {
  const values = {} as Record<CronField, string>;
  let seenExplicit = false;
  for (const field of cronFields) {
    const given = trigger[field];
    if (given !== undefined) {
      seenExplicit = true;
      values[field] = String(given).trim().toLowerCase();
    } else {
      values[field] = seenExplicit ? minimums[field] : '*';
    }
  }
  if (values.week !== '*') throw new Error('week is not supported; use day and month instead');
  const day = values.day === 'last' ? 'L' : checkItems('day', values.day);
  const pattern = [
    checkItems('second', values.second),
    checkItems('minute', values.minute),
    checkItems('hour', values.hour),
    day,
    checkItems('month', values.month, monthNames, 1),
    translateWeekdays(values.day_of_week),
    checkItems('year', values.year),
  ].join(' ');
  return {
    kind: 'cron',
    pattern,
    // APScheduler requires every field to match; classic cron ORs day and day_of_week.
    domAndDow: true,
    ...(trigger.start_date === undefined ? {} : { startAt: trigger.start_date }),
    ...(trigger.end_date === undefined ? {} : { stopAt: trigger.end_date }),
  };
}

const maximums: Partial<Record<CronField, number>> = {
  month: 12,
  day: 31,
  day_of_week: 6,
  hour: 23,
  minute: 59,
  second: 59,
};

function checkItems(field: CronField, expr: string, names: string[] = [], base = 0): string {
  return expr
    .split(',')
    .map((item) => {
      const named = item.replace(/[a-z]+/g, (name) => {
        const index = names.indexOf(name);
        if (index < 0) throw new Error(`${field}: unknown value '${name}'`);
        return String(index + base);
      });
      if (!plainItem.test(named)) throw new Error(`${field}: unsupported expression '${item}'`);
      // APScheduler reads 'a/n' as 'a-max/n'; croner wants the range spelled out.
      const openStep = /^(\d+)\/(\d+)$/.exec(named);
      if (openStep === null) return named;
      const max = maximums[field];
      if (max === undefined) throw new Error(`${field}: unsupported expression '${item}'`);
      return `${openStep[1]}-${max}/${openStep[2]}`;
    })
    .join(',');
}

/** APScheduler counts weekdays from Monday = 0; cron from Sunday = 0. */
function translateWeekdays(expr: string): string {
  if (expr === '*') return '*';
  const days = new Set<number>();
  for (const item of checkItems('day_of_week', expr, weekdayNames).split(',')) {
    const [range = '', stepText] = item.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    const [first, last] =
      range === '*' ? [0, 6] : range.includes('-') ? range.split('-').map(Number) : [Number(range)];
    const end = last ?? first;
    if (first === undefined || end === undefined || first > 6 || end > 6 || first > end) {
      throw new Error(`day_of_week: '${item}' is not a range within 0-6 (mon-sun)`);
    }
    if (step < 1) throw new Error(`day_of_week: step must be at least 1 in '${item}'`);
    for (let day = first; day <= end; day += step) days.add(day);
  }
  if (days.size === 7) return '*';
  return [...days]
    .map((day) => (day + 1) % 7)
    .sort((a, b) => a - b)
    .join(',');
}

function translateInterval(trigger: ApsInterval): ScheduleSpec {
  const units = { weeks: 604800, days: 86400, hours: 3600, minutes: 60, seconds: 1 } as const;
  let seconds = 0;
  for (const [unit, size] of Object.entries(units)) {
    const amount = trigger[unit as keyof typeof units] ?? 0;
    if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0) {
      throw new Error(`${unit} must be a non-negative number`);
    }
    seconds += amount * size;
  }
  if (!isCronInterval(seconds)) {
    throw new Error(
      `an interval must divide a minute, an hour or a day evenly, or be one day or one week (got ${seconds} s)`,
    );
  }
  return {
    kind: 'interval',
    seconds,
    ...(trigger.start_date === undefined ? {} : { startAt: trigger.start_date }),
    ...(trigger.end_date === undefined ? {} : { stopAt: trigger.end_date }),
  };
}

/** Intervals that a cron pattern anchored at the start time repeats exactly. */
function isCronInterval(seconds: number): boolean {
  const divides = (unit: number, whole: number) =>
    seconds % unit === 0 && seconds < whole && whole % seconds === 0;
  return (
    Number.isInteger(seconds) &&
    seconds >= 1 &&
    (divides(1, 60) ||
      divides(60, 3600) ||
      divides(3600, 86400) ||
      seconds === 86400 ||
      seconds === 604800)
  );
}
