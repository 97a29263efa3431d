import { translateApsTrigger, type ApsTrigger } from '../../../webapp/clock/translate-aps-trigger';
import { startClock } from '../../../webapp/clock/start-clock';
import { loadConfig } from '../../../webapp/config';
import { createSchedule } from '../../../webapp/clock/create-schedule';
import { captureLogs } from '../../helpers/logs';

const from = new Date('2026-11-26T10:00:00Z'); // a Thursday
const runs = (trigger: ApsTrigger | string, count = 3, timezone = 'UTC') => {
  const config = loadConfig({ TRIGGER_TIMEZONE: timezone }, { triggerScheduling: trigger }, from);
  return createSchedule(config.schedule, config.timezone, undefined, from)
    .nextRuns(count, from)
    .map((date) => date.toISOString());
};

describe('the schedule', () => {
  it('kicks off every day at 00:00 UTC by default', () => {
    const config = loadConfig({});
    expect(createSchedule(config.schedule, config.timezone).nextRuns(2, from).map(String)).toEqual([
      new Date('2026-11-27T00:00:00Z').toString(),
      new Date('2026-11-28T00:00:00Z').toString(),
    ]);
  });

  it('reads TRIGGER_SCHEDULE in TRIGGER_TIMEZONE, with seconds as an optional first field', () => {
    const config = loadConfig({
      TRIGGER_SCHEDULE: '15 30 6 * * *',
      TRIGGER_TIMEZONE: 'Asia/Tokyo',
    });
    expect(
      createSchedule(config.schedule, config.timezone).nextRuns(1, from)[0]?.toISOString(),
    ).toBe('2026-11-26T21:30:15.000Z');
  });

  describe('APScheduler triggers, as the original wrote them', () => {
    it('counts day_of_week from Monday = 0', () => {
      expect(runs({ trigger: 'cron', day_of_week: '0', hour: 0, minute: 0 })).toEqual([
        '2026-11-30T00:00:00.000Z',
        '2026-12-07T00:00:00.000Z',
        '2026-12-14T00:00:00.000Z',
      ]);
      expect(runs({ trigger: 'cron', day_of_week: 6, hour: 12 }, 1)).toEqual([
        '2026-11-29T12:00:00.000Z',
      ]);
      expect(runs({ trigger: 'cron', day_of_week: 'sat-sun', hour: 1 }, 3)).toEqual([
        '2026-11-28T01:00:00.000Z',
        '2026-11-29T01:00:00.000Z',
        '2026-12-05T01:00:00.000Z',
      ]);
      expect(runs({ trigger: 'cron', day_of_week: 'mon-fri/2', hour: 9 }, 4)).toEqual([
        '2026-11-27T09:00:00.000Z',
        '2026-11-30T09:00:00.000Z',
        '2026-12-02T09:00:00.000Z',
        '2026-12-04T09:00:00.000Z',
      ]);
    });

    it('fills the fields below the largest one given with their minimum', () => {
      expect(translateApsTrigger({ trigger: 'cron', hour: 3 }).spec).toMatchObject({
        pattern: '0 0 3 * * * *',
      });
      expect(translateApsTrigger({ trigger: 'cron', day: 15 }).spec).toMatchObject({
        pattern: '0 0 0 15 * * *',
      });
      expect(translateApsTrigger({ trigger: 'cron', minute: '*/20' }).spec).toMatchObject({
        pattern: '0 */20 * * * * *',
      });
      expect(
        translateApsTrigger({ trigger: 'cron', month: 'jan,jul', day: 'last' }).spec,
      ).toMatchObject({
        pattern: '0 0 0 L 1,7 * *',
      });
      expect(translateApsTrigger({ trigger: 'cron', minute: '5/15' }).spec).toMatchObject({
        pattern: '0 5-59/15 * * * * *',
      });
    });

    it('requires day and day_of_week both to match, as APScheduler does', () => {
      // the 13th that is a Friday (APScheduler day_of_week 4)
      expect(runs({ trigger: 'cron', day: 13, day_of_week: 'fri' }, 2)).toEqual([
        '2027-08-13T00:00:00.000Z',
        '2028-10-13T00:00:00.000Z',
      ]);
    });

    it('takes the trigger timezone unless TRIGGER_TIMEZONE is set', () => {
      const trigger: ApsTrigger = { trigger: 'cron', hour: 0, timezone: 'America/New_York' };
      const own = loadConfig({}, { triggerScheduling: trigger });
      expect(own.timezone).toBe('America/New_York');
      const overridden = loadConfig({ TRIGGER_TIMEZONE: 'UTC' }, { triggerScheduling: trigger });
      expect(overridden.timezone).toBe('UTC');
    });

    it('runs an interval trigger from its start date', () => {
      expect(
        runs({ trigger: 'interval', minutes: 30, start_date: '2026-11-26T10:10:00Z' }, 2),
      ).toEqual(['2026-11-26T10:10:00.000Z', '2026-11-26T10:40:00.000Z']);
      expect(
        runs({ trigger: 'interval', hours: 6, start_date: '2026-11-20T05:00:30Z' }, 3),
      ).toEqual([
        '2026-11-26T11:00:30.000Z',
        '2026-11-26T17:00:30.000Z',
        '2026-11-26T23:00:30.000Z',
      ]);
      expect(
        runs({ trigger: 'interval', seconds: 20, start_date: '2026-11-26T09:00:07Z' }, 2),
      ).toEqual(['2026-11-26T10:00:07.000Z', '2026-11-26T10:00:27.000Z']);
      expect(
        runs({ trigger: 'interval', weeks: 1, start_date: '2026-11-24T08:00:00Z' }, 1),
      ).toEqual(['2026-12-01T08:00:00.000Z']);
    });

    it('runs an interval trigger without a start date one interval after the start', () => {
      expect(runs({ trigger: 'interval', hours: 2 }, 1)).toEqual(['2026-11-26T12:00:00.000Z']);
    });

    it('runs a date trigger once', () => {
      expect(runs({ trigger: 'date', run_date: '2027-01-01T00:00:00Z' }, 3)).toEqual([
        '2027-01-01T00:00:00.000Z',
      ]);
    });

    it.each<[string, unknown]>([
      ['week is not supported', { trigger: 'cron', week: 3 }],
      ["unknown value 'funday'", { trigger: 'cron', day_of_week: 'funday' }],
      ['not a range within 0-6', { trigger: 'cron', day_of_week: '5-2' }],
      ['unsupported cron option(s): jitter', { trigger: 'cron', hour: 1, jitter: 5 }],
      ['must divide a minute, an hour or a day', { trigger: 'interval', minutes: 0 }],
      ['must divide a minute, an hour or a day', { trigger: 'interval', minutes: 45 }],
      ["trigger must be 'cron', 'interval' or 'date'", { trigger: 'sometimes' }],
      ['is not a date', { trigger: 'date', run_date: 'tomorrow' }],
    ])('rejects a trigger when %s', (message, trigger) => {
      expect(() => loadConfig({}, { triggerScheduling: trigger as ApsTrigger })).toThrow(
        new RegExp(
          `TRIGGER_SCHEDULE \\(triggerScheduling in webapp/config.ts\\): .*${message.replace(/[()]/g, '\\$&')}`,
        ),
      );
    });
  });
});

describe('a daily kick-off across daylight-saving changes (Europe/Berlin)', () => {
  const daily = (trigger: ApsTrigger | string, after: string, count = 2) => {
    const now = new Date(after);
    const config = loadConfig(
      { TRIGGER_TIMEZONE: 'Europe/Berlin' },
      { triggerScheduling: trigger },
      now,
    );
    return createSchedule(config.schedule, config.timezone, undefined, now)
      .nextRuns(count, now)
      .map((date) => date.toISOString());
  };
  const forms: [string, ApsTrigger | string][] = [
    ['a cron pattern', '30 2 * * *'],
    ['an APScheduler trigger', { trigger: 'cron', hour: 2, minute: 30 }],
  ];

  it.each(forms)('%s runs at 03:00 when 02:30 is skipped (2027-03-28)', (_form, trigger) => {
    expect(daily(trigger, '2027-03-27T12:00:00Z')).toEqual([
      '2027-03-28T01:00:00.000Z', // 03:00 CEST, as soon as the clocks have jumped
      '2027-03-29T00:30:00.000Z',
    ]);
  });

  it.each(forms)('%s runs once when 02:30 occurs twice (2027-10-31)', (_form, trigger) => {
    expect(daily(trigger, '2027-10-30T12:00:00Z')).toEqual([
      '2027-10-31T00:30:00.000Z', // 02:30 CEST, the first of the two
      '2027-11-01T01:30:00.000Z',
    ]);
  });

  it('runs a list of times of day once each when one of them occurs twice', () => {
    expect(daily('30 2,14 * * *', '2027-10-30T20:00:00Z', 3)).toEqual([
      '2027-10-31T00:30:00.000Z',
      '2027-10-31T13:30:00.000Z',
      '2027-11-01T01:30:00.000Z',
    ]);
  });
});

describe('startClock', () => {
  it('triggers the first tag on a tick, and goes on after a failed one', async () => {
    const logs = captureLogs();
    const triggered: string[] = [];
    let fail = true;
    const job = startClock({
      schedule: { kind: 'cron', pattern: '0 0 * * *', domAndDow: false },
      timezone: 'UTC',
      roots: [{ id: 'init' }],
      delay: 0,
      concurrency: 1,
      log: logs.log,
      trigger: async (tag) => {
        triggered.push(tag);
        if (fail) {
          fail = false;
          throw new Error('hub down');
        }
        return { ok: true, dryRun: false, attempts: 1 };
      },
    });
    try {
      job.pause();
      await job.trigger();
      await job.trigger();
      expect(triggered).toEqual(['init', 'init']);
      expect(job.isStopped()).toBe(false);
      expect(logs.entries()).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ level: 50, tag: 'init', msg: 'kick-off failed' }),
        ]),
      );
    } finally {
      job.stop();
    }
  });
});

describe('two clocks that claim their ticks', () => {
  it('kick off each tick once, under the time it was due, even when a kick-off outlasts the period', async () => {
    const claimed = new Map<string, string>();
    /** the second each kick-off went out in */
    const sent: string[] = [];
    const clockOf = (name: string) =>
      startClock({
        schedule: { kind: 'cron', pattern: '* * * * * *', domAndDow: false },
        timezone: 'UTC',
        roots: [{ id: 'init' }],
        delay: 0,
        concurrency: 1,
        log: captureLogs().log,
        claimTick: async (at) => {
          expect(at.getUTCMilliseconds()).toBe(0);
          expect(at.getTime()).toBeLessThanOrEqual(Date.now());
          const key = at.toISOString();
          if (claimed.has(key)) return false;
          claimed.set(key, name);
          return true;
        },
        // Longer than the schedule's period: croner skips the ticks that come meanwhile.
        trigger: async () => {
          sent.push(`${Math.floor(Date.now() / 1000)}`);
          await new Promise((resolve) => setTimeout(resolve, 2500));
          return { ok: true, dryRun: false, attempts: 1 };
        },
      });
    const jobs = [clockOf('one'), clockOf('two')];
    try {
      await new Promise((resolve) => setTimeout(resolve, 6500));
    } finally {
      for (const job of jobs) job.stop();
    }
    // One kick-off a second at most, whichever clock sent it.
    expect(sent.length).toBeGreaterThanOrEqual(2);
    expect(new Set(sent).size).toBe(sent.length);
  });
});
