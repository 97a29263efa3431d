import type { TriggerOutcome } from '../../../webapp/types';
import { buildTestApp, flush } from '../../helpers/app';
import { eventually } from '../../helpers/eventually';
import {
  digestOf,
  registryPackagePayload,
  signBody,
  workflowRunPayload,
  writeGhcrLine,
  answerGhcrDigests,
} from '../../helpers/github';

const secret = 'gh-hook-secret-5f2c1e9a7b3d4c60';
const graph = writeGhcrLine(['base', 'svc', 'app']);
const SVC = 'ghcr.io/acme/svc:latest';
const APP = 'ghcr.io/acme/app:latest';

describe('a failed run re-run to success (same run id)', () => {
  it('counts the re-run success as the build: what is built from it is triggered', async () => {
    const t = buildTestApp({
      GRAPH_FILE: graph,
      GITHUB_WEBHOOK_SECRET: secret,
      GH_BUILD_TOKEN: 'ghp_testToken0123456789',
    });
    const svcDigest = digestOf('svc 1');
    answerGhcrDigests(t.registry, (name) => (name === 'svc' ? svcDigest : undefined));
    t.registry
      .get('https://api.github.com')
      .intercept({ path: /actions\/runs\/4242$/, method: 'GET' })
      .reply(200, JSON.stringify({ id: 4242, status: 'in_progress', conclusion: null }))
      .persist();
    const post = (event: string, body: unknown) => {
      const text = JSON.stringify(body);
      return t.app.inject({
        method: 'POST',
        url: '/github',
        headers: {
          'content-type': 'application/json',
          'x-github-event': event,
          'x-hub-signature-256': signBody(secret, text),
        },
        payload: text,
      });
    };
    const withRun: TriggerOutcome = {
      ok: true,
      dryRun: false,
      attempts: 1,
      status: 204,
      run: { id: '4242', url: 'https://github.com/acme/svc/actions/runs/4242', state: 'requested' },
    };
    t.failTriggers(withRun);
    await post(
      'registry_package',
      registryPackagePayload({
        name: 'base',
        digest: digestOf('base 1'),
        registryUrl: 'https://ghcr.io/acme',
      }),
    );
    // The delivery is checked against the registry once answered: time moves until svc goes.
    await eventually(() => {
      t.timers.advance(1000);
      return t.triggered.includes(SVC);
    }, 'the trigger of svc');
    await flush();
    // Attempt 1: the build job pushes svc, the test job then fails.
    await post(
      'registry_package',
      registryPackagePayload({
        name: 'svc',
        digest: svcDigest,
        registryUrl: 'https://ghcr.io/acme',
      }),
    );
    await post(
      'workflow_run',
      workflowRunPayload({ repository: 'acme/svc', conclusion: 'failure' }),
    );
    await flush();
    await eventually(
      async () => ((await t.app.inject('/status')).json().failed as unknown[]).length === 1,
      'svc to fail',
    );
    // Attempt 2 ("Re-run failed jobs"): the test job passes, the run concludes success.
    t.timers.advance(600_000);
    const rerun = workflowRunPayload({ repository: 'acme/svc', conclusion: 'success' });
    (rerun.workflow_run as Record<string, unknown>).run_attempt = 2;
    const answer = await post('workflow_run', rerun);
    for (let i = 0; i < 5; i++) {
      t.timers.advance(t.config.propagationDelay);
      await flush();
    }
    const status = (await t.app.inject('/status')).json();
    const triggered = [...t.triggered];
    await t.web.close();
    expect({
      answer: answer.statusCode,
      failed: (status.failed as { tag: string }[]).map((entry) => entry.tag),
      appTriggered: triggered.includes(APP),
    }).toEqual({ answer: 200, failed: [], appTriggered: true });
  });
});
