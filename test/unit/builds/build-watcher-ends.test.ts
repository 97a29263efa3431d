import { MockAgent } from 'undici';
import { createBuildWatcher } from '../../../webapp/builds/create-build-watcher';
import { createTarget } from '../../../webapp/builds/targets/create-target';
import { loadConfig } from '../../../webapp/config';
import type { BuildRun } from '../../../webapp/types';
import { eventually } from '../../helpers/eventually';
import { captureLogs } from '../../helpers/logs';
import { ManualTimers } from '../../helpers/timers';

const token = 'ghp_watcherEndsToken0123456';
const page = (id: number) => `https://github.com/acme/images/actions/runs/${id}`;
const runsPath = '/repos/acme/images/actions/workflows/build.yml/runs';

interface RunAnswer {
  status: string;
  conclusion?: string | null;
}

/**
 * The watcher of a GitHub target on manual timers (reads every second). Run 4242 answers
 * `run()`; the workflow's list of runs answers `list()`. Every request is kept with its time.
 */
function setup(
  run: () => RunAnswer = () => ({ status: 'in_progress' }),
  list: () => Record<string, unknown>[] = () => [],
) {
  const config = loadConfig({
    BUILD_TARGET: 'github',
    BUILD_GITHUB_REPOSITORY: 'acme/images',
    BUILD_GITHUB_WORKFLOW: 'build.yml',
    BUILD_GITHUB_TOKEN: token,
    BUILD_POLL_INTERVAL: '1',
  });
  const target = createTarget(config.target, config);
  const timers = new ManualTimers();
  const start = timers.now();
  const logs = captureLogs('web');
  const agent = new MockAgent();
  agent.disableNetConnect();
  const requests: { path: string; at: number }[] = [];
  const pool = agent.get('https://api.github.com');
  pool
    .intercept({ path: '/repos/acme/images/actions/runs/4242', method: 'GET' })
    .reply((options) => {
      requests.push({ path: options.path, at: timers.now() - start });
      const { status, conclusion = null } = run();
      return {
        statusCode: 200,
        data: JSON.stringify({ id: 4242, status, conclusion, html_url: page(4242) }),
      };
    })
    .persist();
  pool
    .intercept({ path: (path) => path.startsWith(`${runsPath}?`), method: 'GET' })
    .reply((options) => {
      requests.push({ path: options.path, at: timers.now() - start });
      const runs = list();
      return {
        statusCode: 200,
        data: JSON.stringify({ total_count: runs.length, workflow_runs: runs }),
      };
    })
    .persist();
  const succeeded: { tag: string; run: BuildRun }[] = [];
  const failed: { tag: string; run: BuildRun }[] = [];
  const watcher = createBuildWatcher({
    targetOf: () => target,
    targets: [target],
    log: logs.log,
    clock: timers,
    dispatcher: agent,
    interval: config.buildPollInterval,
    timeout: 2000,
    followFor: 3600_000,
    onFailed: (tag, ended) => failed.push({ tag, run: ended }),
    onSucceeded: (tag, ended) => succeeded.push({ tag, run: ended }),
  });
  /** Moves the clock `ms` on and waits for the request it makes to be answered and taken in. */
  const advance = async (ms: number) => {
    const before = requests.length;
    timers.advance(ms);
    await eventually(() => requests.length > before, 'a request to GitHub');
    await eventually(
      () => timers.count > 0 || succeeded.length + failed.length > 0,
      'the answer to be taken in',
    );
  };
  const started: BuildRun = { id: '4242', url: page(4242), state: 'requested' };
  return { watcher, timers, logs, requests, succeeded, failed, advance, started, start };
}

describe('createBuildWatcher: a run that ends, read and heard', () => {
  it('acts once on a success that a read shows and a delivery then tells', async () => {
    const t = setup(() => ({ status: 'completed', conclusion: 'success' }));
    t.watcher.started('step', t.started);
    await t.advance(1000);
    expect(t.succeeded).toEqual([
      { tag: 'step', run: { id: '4242', url: page(4242), state: 'success' } },
    ]);
    expect(t.watcher.heard('github', '4242', 'success', page(4242))).toBe(true);
    expect(t.succeeded).toHaveLength(1);
    expect(t.failed).toEqual([]);
    t.timers.advance(3600_000);
    expect(t.requests).toHaveLength(1);
    t.watcher.close();
  });

  it('acts once on a success that a delivery tells first: no read is needed, none follows', async () => {
    const t = setup(() => ({ status: 'completed', conclusion: 'success' }));
    t.watcher.started('step', t.started);
    expect(t.watcher.heard('github', '4242', 'success', page(4242))).toBe(true);
    expect(t.succeeded).toHaveLength(1);
    expect(t.watcher.status().step).toEqual({ state: 'success', url: page(4242) });
    // The same delivery again (GitHub redelivers on a timeout) changes nothing.
    expect(t.watcher.heard('github', '4242', 'success', page(4242))).toBe(true);
    expect(t.timers.count).toBe(0);
    t.timers.advance(3600_000);
    expect(t.requests).toEqual([]);
    expect(t.succeeded).toHaveLength(1);
    const said = t.logs.entries().filter((line) => line.msg === 'build of step succeeded');
    expect(said).toHaveLength(1);
    t.watcher.close();
  });

  it('acts once on a failure, and never as a success', async () => {
    const t = setup(() => ({ status: 'completed', conclusion: 'failure' }));
    t.watcher.started('step', t.started);
    expect(t.watcher.heard('github', '4242', 'failure', null)).toBe(true);
    expect(t.failed).toEqual([
      { tag: 'step', run: { id: '4242', url: page(4242), state: 'failure' } },
    ]);
    expect(t.watcher.heard('github', '4242', 'failure', null)).toBe(true);
    t.timers.advance(3600_000);
    expect(t.failed).toHaveLength(1);
    expect(t.succeeded).toEqual([]);
    t.watcher.close();
  });

  it('hears nothing of a run it does not follow, or of another service', () => {
    const t = setup();
    t.watcher.started('step', t.started);
    expect(t.watcher.heard('github', '5151', 'success', null)).toBe(false);
    expect(t.watcher.heard('gitlab', '4242', 'success', null)).toBe(false);
    expect(t.watcher.heard('dockerhub', '4242', 'failure', null)).toBe(false);
    expect(t.succeeded).toEqual([]);
    expect(t.failed).toEqual([]);
    expect(t.watcher.status().step).toEqual({ state: 'requested', url: page(4242) });
    t.watcher.close();
  });

  it('hears nothing of a run once its tag was pushed or stalled', () => {
    const t = setup();
    t.watcher.started('pushed', t.started);
    t.watcher.pushed('pushed');
    expect(t.watcher.heard('github', '4242', 'failure', null)).toBe(false);
    t.watcher.started('stalled', { ...t.started, id: '4343' });
    t.watcher.stalled('stalled');
    expect(t.watcher.heard('github', '4343', 'success', null)).toBe(false);
    expect(t.failed).toEqual([]);
    expect(t.succeeded).toEqual([]);
    t.watcher.close();
  });

  it('follows the newer build of a tag: the end of the run it replaced is not heard', () => {
    const t = setup();
    t.watcher.started('step', { ...t.started, id: '4141' });
    t.watcher.started('step', t.started);
    expect(t.watcher.heard('github', '4141', 'failure', null)).toBe(false);
    expect(t.watcher.heard('github', '4242', 'success', null)).toBe(true);
    expect(t.failed).toEqual([]);
    expect(t.succeeded.map((entry) => entry.run.id)).toEqual(['4242']);
    t.watcher.close();
  });
});

describe('createBuildWatcher: a trigger that named no run', () => {
  const dispatched = (id: number, title: string, createdAt: number, fields = {}) => ({
    id,
    name: 'build',
    display_title: title,
    head_branch: 'main',
    event: 'workflow_dispatch',
    status: 'queued',
    conclusion: null,
    created_at: new Date(createdAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    html_url: page(id),
    ...fields,
  });

  it("looks for the run among the workflow's runs since a minute before, then follows it to its end", async () => {
    let listed: Record<string, unknown>[] = [];
    let state: RunAnswer = { status: 'in_progress' };
    const t = setup(
      () => state,
      () => listed,
    );
    t.watcher.started('step', undefined);
    expect(t.watcher.status().step).toEqual({ state: 'requested', url: null });
    // Not listed yet: looked for again at the next interval.
    await t.advance(1000);
    expect(t.requests).toHaveLength(1);
    const query = new URL(`https://api.github.com${t.requests[0]?.path}`).searchParams;
    expect(query.get('event')).toBe('workflow_dispatch');
    expect(query.get('branch')).toBe('main');
    expect(query.get('created')).toBe(
      `>=${new Date(t.start - 60_000).toISOString().replace(/\.\d{3}Z$/, 'Z')}`,
    );
    // Its end cannot be heard before the run is known.
    expect(t.watcher.heard('github', '4242', 'success', null)).toBe(false);
    listed = [
      dispatched(4343, 'build other', t.start + 500),
      dispatched(4242, 'build step', t.start + 800),
    ];
    await t.advance(1000);
    const found = t.logs
      .entries()
      .filter((line) => line.msg === `found the run of step: ${page(4242)}`);
    expect(found).toHaveLength(1);
    // Found, then read at once.
    expect(t.requests.map((request) => request.path)).toEqual([
      expect.stringContaining(`${runsPath}?`),
      expect.stringContaining(`${runsPath}?`),
      '/repos/acme/images/actions/runs/4242',
    ]);
    expect(t.watcher.status().step).toEqual({ state: 'in_progress', url: page(4242) });
    state = { status: 'completed', conclusion: 'success' };
    await t.advance(1000);
    expect(t.succeeded).toEqual([
      { tag: 'step', run: { id: '4242', url: page(4242), state: 'success' } },
    ]);
    // Once found, the delivery of its end is heard, and counts no second time.
    expect(t.watcher.heard('github', '4242', 'success', page(4242))).toBe(true);
    expect(t.succeeded).toHaveLength(1);
    t.watcher.close();
  });

  it('takes the end of a found run from a delivery too', async () => {
    const t = setup(
      () => ({ status: 'queued' }),
      () => [dispatched(4242, 'build step', Date.UTC(2026, 10, 26, 12, 0, 1))],
    );
    t.watcher.started('step', undefined);
    await t.advance(1000);
    expect(t.watcher.heard('github', '4242', 'failure', page(4242))).toBe(true);
    expect(t.failed.map((entry) => entry.tag)).toEqual(['step']);
    expect(t.timers.count).toBe(0);
    t.watcher.close();
  });
});
