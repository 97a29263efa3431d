import { MockAgent } from 'undici';
import { createBuildWatcher } from '../../../webapp/builds/create-build-watcher';
import { createTarget } from '../../../webapp/builds/targets/create-target';
import { loadConfig } from '../../../webapp/config';
import type { BuildRun } from '../../../webapp/types';
import { flush } from '../../helpers/app';
import { captureLogs } from '../../helpers/logs';
import { ManualTimers } from '../../helpers/timers';

const page = (id: number) => `https://github.com/acme/images/actions/runs/${id}`;

describe('a run read answered 403 for a secondary rate limit', () => {
  it('reads the run again later and counts its end', async () => {
    const config = loadConfig({
      BUILD_TARGET: 'github',
      BUILD_GITHUB_REPOSITORY: 'acme/images',
      BUILD_GITHUB_WORKFLOW: 'build.yml',
      BUILD_GITHUB_TOKEN: 'ghp_testToken0123456789',
      BUILD_POLL_INTERVAL: '1',
    });
    const target = createTarget(config.target, config);
    const timers = new ManualTimers();
    const agent = new MockAgent();
    agent.disableNetConnect();
    let reads = 0;
    agent
      .get('https://api.github.com')
      .intercept({ path: '/repos/acme/images/actions/runs/4242', method: 'GET' })
      .reply(() => {
        reads++;
        if (reads === 1) {
          return {
            statusCode: 403,
            data: JSON.stringify({
              message:
                'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
            }),
            responseOptions: { headers: { 'retry-after': '60' } },
          };
        }
        return {
          statusCode: 200,
          data: JSON.stringify({
            id: 4242,
            status: 'completed',
            conclusion: 'success',
            html_url: page(4242),
          }),
        };
      })
      .persist();
    const succeeded: string[] = [];
    const watcher = createBuildWatcher({
      targetOf: () => target,
      targets: [target],
      log: captureLogs('web').log,
      clock: timers,
      dispatcher: agent,
      interval: 1000,
      timeout: 2000,
      followFor: 3600_000,
      onFailed: () => {},
      onSucceeded: (tag) => succeeded.push(tag),
    });
    const run: BuildRun = { id: '4242', url: page(4242), state: 'requested' };
    watcher.started('step', run);
    for (let i = 0; i < 120; i++) {
      timers.advance(1000);
      await flush();
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    watcher.close();
    // reads: 1 today (the 403), then never again.
    expect({ readAgain: reads > 1, succeeded, first: reads >= 1 }).toEqual({
      readAgain: true,
      succeeded: ['step'],
      first: true,
    });
  });
});
