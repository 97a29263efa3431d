import { MockAgent } from 'undici';
import {
  createBuildWatcher,
  type BuildWatcherDeps,
} from '../../../webapp/builds/create-build-watcher';
import { createTarget } from '../../../webapp/builds/targets/create-target';
import type { FollowedTarget } from '../../../webapp/builds/create-build-watcher';
import { loadConfig } from '../../../webapp/config';
import type { BuildRun } from '../../../webapp/types';
import { eventually } from '../../helpers/eventually';
import { captureLogs } from '../../helpers/logs';
import { ManualTimers } from '../../helpers/timers';

const githubToken = 'ghp_watcherToken0123456789';
const gitlabApiToken = 'glpat-watcherReadToken42';

const targets = {
  github: {
    env: {
      BUILD_TARGET: 'github',
      BUILD_GITHUB_REPOSITORY: 'acme/images',
      BUILD_GITHUB_WORKFLOW: 'build.yml',
      BUILD_GITHUB_TOKEN: githubToken,
    },
    origin: 'https://api.github.com',
    path: '/repos/acme/images/actions/runs/4242',
    page: 'https://github.com/acme/images/actions/runs/4242',
    running: { id: 4242, status: 'in_progress', conclusion: null },
  },
  gitlab: {
    env: {
      BUILD_TARGET: 'gitlab',
      GITLAB_PROJECT: 'acme/images',
      GITLAB_TRIGGER_TOKEN: 'glptt-watcherTrigger',
      GITLAB_API_TOKEN: gitlabApiToken,
    },
    origin: 'https://gitlab.com',
    path: '/api/v4/projects/acme%2Fimages/pipelines/4242',
    page: 'https://gitlab.com/acme/images/-/pipelines/4242',
    running: { id: 4242, status: 'running' },
  },
};

type Answer = { status: number; body: string | Record<string, unknown> };

/**
 * The watcher of one target on manual timers, its API answered by `answer` (given the read's
 * number, from 1). Each read records the manual clock's time.
 */
function setup(
  kind: keyof typeof targets,
  answer: (nth: number) => Answer,
  overrides: Partial<BuildWatcherDeps> = {},
) {
  const spec = targets[kind];
  const config = loadConfig({ BUILD_POLL_INTERVAL: '1', ...spec.env });
  const timers = new ManualTimers();
  const start = timers.now();
  const logs = captureLogs('web');
  const agent = new MockAgent();
  agent.disableNetConnect();
  const reads: number[] = [];
  agent
    .get(spec.origin)
    .intercept({ path: spec.path, method: 'GET' })
    .reply(() => {
      reads.push(timers.now() - start);
      const { status, body } = answer(reads.length);
      return {
        statusCode: status,
        data: typeof body === 'string' ? body : JSON.stringify({ ...spec.running, ...body }),
      };
    })
    .persist();
  const failed: string[] = [];
  const watcher = createBuildWatcher({
    ...oneTarget(createTarget(config.target, config)),
    log: logs.log,
    clock: timers,
    dispatcher: agent,
    interval: config.buildPollInterval,
    timeout: 2000,
    followFor: 5 * 3600_000,
    onFailed: (tag) => failed.push(tag),
    ...overrides,
  });
  const run: BuildRun = { id: '4242', url: spec.page, state: 'requested' };
  /**
   * Moves the clock `ms` on and, when that makes a read, waits until its answer was taken in
   * (the next read is then planned, or the run is left).
   */
  const advance = async (ms: number) => {
    timers.advance(ms);
    // A read in flight has no timer set: the next one is set once its answer is taken in.
    await eventually(
      () => timers.count > 0 || watcher.status().step?.stopped !== undefined || failed.length > 0,
      'the read to be taken in',
    );
  };
  /** Moves the clock to `at` ms after the start. */
  const advanceTo = (at: number) => advance(start + at - timers.now());
  const warnings = () => logs.entries().filter((line) => line.level === 40);
  const infos = (pattern: RegExp) =>
    logs.entries().filter((line) => line.level === 30 && pattern.test(String(line.msg)));
  return { watcher, timers, logs, reads, run, advance, advanceTo, warnings, infos, agent, spec };
}

/** The times of the first `count` reads of a run whose reads all fail, with a 1 s interval. */
function failingReadTimes(count: number): number[] {
  const times = [1000];
  for (let failures = 1; times.length < count; failures++) {
    times.push((times.at(-1) ?? 0) + Math.min(600_000, 1000 * 2 ** failures));
  }
  return times;
}

describe('createBuildWatcher: reads that fail', () => {
  it.each([
    ['github', 'a 500', { status: 500, body: '{"message":"Server Error"}' }],
    ['gitlab', 'a 200 with an id but no status', { status: 200, body: '{"id":4242}' }],
    ['gitlab', 'a 200 that is not a pipeline', { status: 200, body: '{"message":"ok"}' }],
    ['github', 'a 200 that is not a run', { status: 200, body: '<html>maintenance</html>' }],
  ] as const)(
    '%s, %s on every read: waits that double, one warning, shown as unreadable',
    async (kind, _what, answer) => {
      const t = setup(kind, () => answer);
      t.watcher.started('step', t.run);
      // The waits double from the interval (1 s) to their cap, 10 minutes, and stay there.
      const waits = [2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600, 600].map((wait) => wait * 1000);
      const expected = waits.reduce(
        (times, wait) => [...times, (times.at(-1) ?? 0) + wait],
        [1000],
      );
      for (const [nth, at] of expected.entries()) {
        // Never early: nothing is read a moment before the read is due.
        await t.advanceTo(at - 1);
        expect(t.reads).toHaveLength(nth);
        await t.advanceTo(at);
        expect(t.reads.at(-1)).toBe(at);
      }
      expect(t.reads).toEqual(expected);
      const warned = t.warnings();
      expect(warned).toHaveLength(1);
      expect(warned[0]).toMatchObject({ tag: 'step', run: t.spec.page, failures: 3 });
      expect(String(warned[0]?.msg)).toContain(`cannot read the run of step (${t.spec.page})`);
      expect(String(warned[0]?.msg)).toContain(
        answer.status === 500 ? 'the API answered 500' : 'something that is not a run',
      );
      expect(t.watcher.status()).toEqual({
        step: {
          state: 'requested',
          url: t.spec.page,
          unreadable: expect.stringContaining('the API answered'),
        },
      });
      expect(t.logs.text()).not.toContain(githubToken);
      expect(t.logs.text()).not.toContain(gitlabApiToken);
      t.watcher.close();
    },
  );

  it('is not said before the third failed read in a row', async () => {
    const t = setup('github', () => ({ status: 503, body: '' }));
    t.watcher.started('step', t.run);
    await t.advanceTo(1000);
    await t.advanceTo(3000);
    expect(t.reads).toEqual([1000, 3000]);
    expect(t.warnings()).toEqual([]);
    expect(t.watcher.status().step).not.toHaveProperty('unreadable');
    await t.advanceTo(7000);
    expect(t.warnings()).toHaveLength(1);
    t.watcher.close();
  });

  it('a read that fails to connect counts as a failure, its message without secrets', async () => {
    const t = setup('github', () => ({ status: 200, body: {} }));
    t.agent
      .get(t.spec.origin)
      .intercept({ path: '/repos/acme/images/actions/runs/5151', method: 'GET' })
      .replyWithError(new Error(`connect refused with ${githubToken}`))
      .persist();
    t.watcher.started('step', { ...t.run, id: '5151' });
    for (const at of failingReadTimes(2)) await t.advanceTo(at);
    expect(t.warnings()).toEqual([]);
    await t.advanceTo(failingReadTimes(3).at(-1) ?? 0);
    const warned = t.warnings();
    expect(warned).toHaveLength(1);
    expect(String(warned[0]?.msg)).toContain('the read failed: connect refused with ***');
    expect(t.logs.text()).not.toContain(githubToken);
    t.watcher.close();
  });

  it('says once at info when a read succeeds again, and reads at the interval again', async () => {
    const t = setup('github', (nth) =>
      nth <= 4 ? { status: 500, body: '' } : { status: 200, body: { html_url: t.spec.page } },
    );
    t.watcher.started('step', t.run);
    for (const at of failingReadTimes(5)) await t.advanceTo(at);
    expect(t.reads).toEqual([1000, 3000, 7000, 15_000, 31_000]);
    expect(t.warnings()).toHaveLength(1);
    expect(t.infos(/can be read again/)).toHaveLength(1);
    expect(t.infos(/can be read again/)[0]).toMatchObject({ tag: 'step', run: t.spec.page });
    expect(t.watcher.status()).toEqual({ step: { state: 'in_progress', url: t.spec.page } });
    // Back to one read a second, and nothing more said.
    await t.advanceTo(31_999);
    expect(t.reads).toHaveLength(5);
    for (const at of [32_000, 33_000, 34_000]) await t.advanceTo(at);
    expect(t.reads.slice(5)).toEqual([32_000, 33_000, 34_000]);
    expect(t.infos(/can be read again/)).toHaveLength(1);
    expect(t.warnings()).toHaveLength(1);
    t.watcher.close();
  });

  it('a failure after a recovery starts from the interval again', async () => {
    const t = setup('github', (nth) =>
      nth === 2 ? { status: 200, body: {} } : { status: 500, body: '' },
    );
    t.watcher.started('step', t.run);
    for (const at of [1000, 3000, 4000, 6000]) await t.advanceTo(at);
    expect(t.reads).toEqual([1000, 3000, 4000, 6000]);
    t.watcher.close();
  });

  it('still stops following at once without read access (401, 403, 404), said once', async () => {
    const t = setup('github', () => ({ status: 403, body: '{"message":"Forbidden"}' }));
    t.watcher.started('step', t.run);
    t.timers.advance(1000);
    await eventually(() => t.warnings().length > 0, 'the warning');
    t.timers.advance(3600_000);
    expect(t.reads).toEqual([1000]);
    expect(t.warnings()).toHaveLength(1);
    expect(String(t.warnings()[0]?.msg)).toMatch(/no longer followed.*403.*Actions: read/);
    t.watcher.close();
  });
});

describe('createBuildWatcher: how long a run is followed', () => {
  const running = { status: 200, body: {} };

  it('reads a run that never ends no more once its tag is pushed', async () => {
    const t = setup('github', () => running);
    t.watcher.started('step', t.run);
    for (const at of [1000, 2000, 3000]) await t.advanceTo(at);
    expect(t.watcher.status().step?.state).toBe('in_progress');
    t.watcher.pushed('step');
    expect(t.timers.count).toBe(0);
    t.timers.advance(24 * 3600_000);
    expect(t.reads).toEqual([1000, 2000, 3000]);
    expect(t.watcher.status()).toEqual({
      step: { state: 'in_progress', url: t.spec.page, stopped: 'the tag was pushed' },
    });
    t.watcher.close();
  });

  it('leaves the run alone when another tag is pushed', async () => {
    const t = setup('github', () => running);
    t.watcher.started('step', t.run);
    t.watcher.pushed('other');
    await t.advanceTo(1000);
    await t.advanceTo(2000);
    expect(t.reads).toEqual([1000, 2000]);
    expect(t.watcher.status().step).not.toHaveProperty('stopped');
    t.watcher.close();
  });

  it('reads it no more once its tag stalls', async () => {
    const t = setup('gitlab', () => running);
    t.watcher.started('step', t.run);
    await t.advanceTo(1000);
    t.watcher.stalled('step');
    t.timers.advance(3600_000);
    expect(t.reads).toEqual([1000]);
    expect(t.watcher.status().step?.stopped).toBe('the tag stalled');
    t.watcher.close();
  });

  it('reads it at most for its stall time, and says so once', async () => {
    const t = setup('github', () => running, { followFor: 10_000 });
    t.watcher.started('step', t.run);
    for (let at = 1000; at <= 9000; at += 1000) await t.advanceTo(at);
    t.timers.advance(1000);
    await eventually(() => t.watcher.status().step?.stopped !== undefined, 'the run to be left');
    t.timers.advance(24 * 3600_000);
    expect(t.reads).toEqual([1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000]);
    expect(t.timers.count).toBe(0);
    const said = t.infos(/no longer reading the run of step/);
    expect(said).toHaveLength(1);
    expect(String(said[0]?.msg)).toContain('10 s after its start');
    t.watcher.close();
  });

  it('does not read a failing run past its stall time either, however long its wait', async () => {
    const t = setup('github', () => ({ status: 500, body: '' }), { followFor: 20_000 });
    t.watcher.started('step', t.run);
    for (const at of [1000, 3000, 7000, 15_000]) await t.advanceTo(at);
    // The next wait (16 s) would end past the stall time (20 s): the run is left at 20 s.
    t.timers.advance(20_000 - 15_000);
    await eventually(() => t.watcher.status().step?.stopped !== undefined, 'the run to be left');
    t.timers.advance(3600_000);
    expect(t.reads).toEqual([1000, 3000, 7000, 15_000]);
    expect(t.watcher.status().step).not.toHaveProperty('unreadable');
    t.watcher.close();
  });
});

/** The watcher's view of a deployment whose every build goes to one target. */
function oneTarget(target: FollowedTarget) {
  return { targetOf: () => target, targets: [target] };
}
