import { ConfigError, envNames, loadConfig } from '../../webapp/config';
import { problemsOf } from '../helpers/config';

describe('loadConfig', () => {
  it('has the original defaults, in dry run without a token', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      userName: 'maddouri',
      repoName: 'void-docker',
      tagSequence: ['init', 'step-1', 'step-2', 'step-3', 'latest'],
      timezone: 'UTC',
      propagationRoute: '/propagate',
      propagationDelay: 100_000,
      port: 5000,
      hubUrl: 'https://registry.hub.docker.com',
      logLevel: 'info',
      dryRun: true,
      webhookSecrets: [],
      stateFile: '.state/pending.json',
      stallTimeout: 5 * 3600 * 1000,
      stallRetrigger: false,
      retry: { initialDelay: 2000, maxDelay: 60_000, giveUpAfter: 600_000, timeout: 10_000 },
    });
    expect(config.schedule).toEqual({ kind: 'cron', pattern: '0 0 0 * * * *', domAndDow: true });
  });

  it('takes every variable from the environment', () => {
    const config = loadConfig({
      DOCKERHUB_USER: 'acme.io',
      DOCKERHUB_REPO: 'big-image',
      DOCKERHUB_TRIGGER_TOKEN: 'tok-123',
      TAG_SEQUENCE: ' base , mid,top ',
      TRIGGER_SCHEDULE: '30 4 * * 1',
      TRIGGER_TIMEZONE: 'Europe/Paris',
      PROPAGATION_ROUTE: '/hooks/hub',
      PROPAGATION_DELAY: '2.5',
      PORT: '8080',
      DOCKERHUB_URL: 'http://127.0.0.1:9999/',
      DOCKERHUB_TRIGGER_URL: 'https://hub.docker.com/api/build/v1/source/abc/trigger/xyz/call/',
      LOG_LEVEL: 'debug',
      WEBHOOK_SECRET: 'a-long-enough-secret',
      STATE_FILE: '/tmp/state.json',
      STALL_TIMEOUT: '60',
      STALL_RETRIGGER: '1',
      TRIGGER_RETRY_INITIAL: '0.5',
      TRIGGER_RETRY_MAX: '4',
      TRIGGER_RETRY_GIVE_UP: '30',
      TRIGGER_TIMEOUT: '3',
    });
    expect(config).toMatchObject({
      userName: 'acme.io',
      repoName: 'big-image',
      tagSequence: ['base', 'mid', 'top'],
      schedule: { kind: 'cron', pattern: '30 4 * * 1', domAndDow: false },
      timezone: 'Europe/Paris',
      propagationRoute: '/hooks/hub',
      propagationDelay: 2500,
      port: 8080,
      hubUrl: 'http://127.0.0.1:9999',
      target: {
        name: 'dockerhub',
        settings: {
          token: 'tok-123',
          url: 'https://hub.docker.com/api/build/v1/source/abc/trigger/xyz/call/',
          body: 'docker_tag',
        },
      },
      logLevel: 'debug',
      dryRun: false,
      webhookSecrets: ['a-long-enough-secret'],
      stateFile: '/tmp/state.json',
      stallTimeout: 60_000,
      stallRetrigger: true,
      retry: { initialDelay: 500, maxDelay: 4000, giveUpAfter: 30_000, timeout: 3000 },
    });
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ DOCKERHUB_TRIGGER_TOKEN: '', PORT: '' })).toMatchObject({
      dryRun: true,
      port: 5000,
    });
  });

  it('is not a dry run with a full trigger URL, whose token it carries', () => {
    expect(
      loadConfig({ DOCKERHUB_TRIGGER_URL: 'https://hub.example/x/trigger/t/call/' }).dryRun,
    ).toBe(false);
  });

  it('names every bad variable in one error', () => {
    const problems = problemsOf({
      TRIGGER_TIMEZONE: 'Mars/Olympus',
      TRIGGER_SCHEDULE: '61 * * * *',
      TAG_SEQUENCE: 'a,b,a',
      PROPAGATION_ROUTE: 'propagate',
      PROPAGATION_DELAY: '-1',
      PORT: '70000',
      DOCKERHUB_URL: 'not a url',
      LOG_LEVEL: 'loud',
    });
    expect(problems.map((problem) => problem.split(':')[0])).toEqual([
      'TAG_SEQUENCE',
      'TRIGGER_TIMEZONE',
      'PROPAGATION_ROUTE',
      'PROPAGATION_DELAY',
      'PORT',
      'DOCKERHUB_URL',
      'LOG_LEVEL',
      'TRIGGER_SCHEDULE',
    ]);
    expect(problems.join('\n')).toMatch(/TAG_SEQUENCE: must not name a tag twice/);
    expect(problems.join('\n')).toMatch(/TRIGGER_TIMEZONE: must be an IANA time zone/);
    expect(problems.join('\n')).toMatch(/PROPAGATION_ROUTE: must be a path starting with '\/'/);
    expect(problems.join('\n')).toMatch(/PROPAGATION_DELAY: must be at least 0/);
    expect(problems.join('\n')).toMatch(/PORT: must be an integer from 1 to 65535/);
    expect(problems.join('\n')).toMatch(/TRIGGER_SCHEDULE: must be a cron pattern.*minute/);
  });

  it.each([
    ['TAG_SEQUENCE', ','],
    ['TAG_SEQUENCE', 'ok,bad tag'],
    ['TRIGGER_SCHEDULE', 'every day'],
    ['TRIGGER_SCHEDULE', '0 0 0 * * * 2027'],
    ['PROPAGATION_DELAY', 'soon'],
    ['PROPAGATION_DELAY', '0x10'],
    ['PROPAGATION_DELAY', '0b101'],
    ['PROPAGATION_DELAY', '0o7'],
    ['PROPAGATION_DELAY', 'Infinity'],
    ['PORT', '0x1f90'],
    ['PORT', '0'],
    ['PORT', '80.5'],
    ['DOCKERHUB_URL', 'ftp://hub.example'],
    ['DOCKERHUB_USER', 'a/b'],
    ['STALL_RETRIGGER', 'maybe'],
    ['TRIGGER_TIMEOUT', '0'],
    ['RECONCILE_INTERVAL', '0.001'],
    ['RECONCILE_INTERVAL', '0.5'],
  ])('rejects %s=%j', (name, value) => {
    const problems = problemsOf({ [name]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${name}: `));
  });

  it('takes RECONCILE_INTERVAL as 0 (off) or at least a second', () => {
    expect(loadConfig({ RECONCILE_INTERVAL: '0' }).reconcileInterval).toBe(0);
    expect(loadConfig({ RECONCILE_INTERVAL: '1' }).reconcileInterval).toBe(1000);
    expect(problemsOf({ RECONCILE_INTERVAL: '0.001' })).toEqual([
      'RECONCILE_INTERVAL: must be 0 (off) or at least 1 second',
    ]);
  });

  it.each([
    ['-1', 'UPSTREAM_QUIET: must be at least 0'],
    ['ten minutes', 'UPSTREAM_QUIET: must be a number of seconds'],
    ['0x10', 'UPSTREAM_QUIET: must be a number of seconds'],
  ])('refuses UPSTREAM_QUIET=%j, saying why', (value, message) => {
    expect(problemsOf({ UPSTREAM_QUIET: value })).toEqual([message]);
  });

  it('waits out 10 minutes of quiet on a new upstream digest, unless told otherwise', () => {
    expect(loadConfig({}).upstreamQuiet).toBe(600_000);
    expect(loadConfig({ UPSTREAM_QUIET: '0' }).upstreamQuiet).toBe(0);
    expect(loadConfig({ UPSTREAM_QUIET: '1.5' }).upstreamQuiet).toBe(1500);
  });

  it('reads decimal numbers, whole or not', () => {
    expect(loadConfig({ PROPAGATION_DELAY: ' 2.5 ', PORT: '08080' })).toMatchObject({
      propagationDelay: 2500,
      port: 8080,
    });
  });

  it.each<[string, Record<string, string>, Parameters<typeof loadConfig>[1]]>([
    ['30 February', { TRIGGER_SCHEDULE: '0 0 30 2 *' }, {}],
    [
      'a date in the past',
      {},
      { triggerScheduling: { trigger: 'date', run_date: '2026-01-01T00:00:00' } },
    ],
    [
      'an end date in the past',
      {},
      { triggerScheduling: { trigger: 'cron', hour: 3, end_date: '2026-11-01T00:00:00Z' } },
    ],
  ])('refuses a schedule that can never fire: %s', (_name, env, defaults) => {
    const now = new Date('2026-11-26T10:00:00Z');
    expect(() => loadConfig(env, defaults, now)).toThrow(
      /TRIGGER_SCHEDULE.*: never fires after 2026-11-26T10:00:00.000Z/,
    );
  });

  it('never puts a secret in its message', () => {
    const problems = problemsOf({
      DOCKERHUB_TRIGGER_TOKEN: 'has space-s3cr3t',
      WEBHOOK_SECRET: 's3cr3t!',
      DOCKERHUB_TRIGGER_URL: 'mailto:s3cr3t',
    });
    expect(problems).toHaveLength(3);
    expect(problems.join('\n')).not.toMatch(/s3cr3t/);
  });

  it('takes a postgres:// DATABASE_URL and refuses any other, never quoting it', () => {
    expect(
      loadConfig({ DATABASE_URL: 'postgres://app:pw@db.example:5432/state' }).databaseUrl,
    ).toBe('postgres://app:pw@db.example:5432/state');
    expect(loadConfig({ DATABASE_URL: 'postgresql://app:pw@db/state' }).leaseTime).toBe(30_000);
    for (const url of ['mysql://app:s3cr3t@db/state', 'postgres://app:s3cr3t@/state', 's3cr3t']) {
      const problems = problemsOf({ DATABASE_URL: url });
      expect(problems).toEqual([
        expect.stringMatching(/^DATABASE_URL: must be a postgres:\/\/ URL/),
      ]);
      expect(problems.join('\n')).not.toMatch(/s3cr3t/);
    }
    expect(problemsOf({ LEASE_TIME: '1' })).toEqual(['LEASE_TIME: must be at least 3']);
  });

  it('takes two webhook secrets, comma-separated, so that one can replace the other', () => {
    expect(
      loadConfig({ WEBHOOK_SECRET: 'the-new-secret-0123456789, the-old-secret-0123456789' })
        .webhookSecrets,
    ).toEqual(['the-new-secret-0123456789', 'the-old-secret-0123456789']);
  });

  it.each([
    [
      'three secrets',
      'first-secret-0123456789,second-secret-0123456789,third-secret-0123456789',
      'WEBHOOK_SECRET: must hold one secret, or two separated by a comma while one replaces the other',
    ],
    [
      'a short second secret',
      'first-secret-0123456789,short',
      "WEBHOOK_SECRET: its second secret must be 16 to 256 letters, digits or '-._~' (URL-safe)",
    ],
    [
      'an empty first secret',
      ',second-secret-0123456789',
      "WEBHOOK_SECRET: its first secret must be 16 to 256 letters, digits or '-._~' (URL-safe)",
    ],
    [
      'one bad secret',
      'short',
      "WEBHOOK_SECRET: must be 16 to 256 letters, digits or '-._~' (URL-safe)",
    ],
  ])('refuses WEBHOOK_SECRET with %s, without printing it', (_name, value, problem) => {
    const problems = problemsOf({ WEBHOOK_SECRET: value });
    expect(problems).toEqual([problem]);
    for (const secret of value.split(',')) {
      if (secret.length > 0) expect(problems.join('\n')).not.toContain(secret);
    }
  });

  it('says when a bad value comes from the settings in config.ts', () => {
    const problems = (() => {
      try {
        loadConfig({}, { tagSequence: [] });
      } catch (err) {
        return (err as ConfigError).problems;
      }
      return [];
    })();
    expect(problems).toEqual([
      'TAG_SEQUENCE (tagSequence in webapp/config.ts): must name at least one tag',
    ]);
  });

  it('lists the variables it reads', () => {
    expect(envNames).toEqual(
      expect.arrayContaining(['DOCKERHUB_TRIGGER_TOKEN', 'TAG_SEQUENCE', 'PORT', 'WEBHOOK_SECRET']),
    );
  });
});
