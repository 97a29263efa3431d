import type { TriggerOutcome } from '../../../webapp/types';
import { buildTestApp, delivery, flush } from '../../helpers/app';
import { eventually } from '../../helpers/eventually';
import { signBody, workflowRunPayload } from '../../helpers/github';

// REVIEW: for an image on a registry without push times, a push seen while its CI run goes on
// is "left to the run's end: a success counts once, and a failure still fails the image"
// (docs/ci-builds.md). For an image on Docker Hub built by GitHub Actions the same push arrives
// as Docker Hub's webhook: propagator.accept -> onPush -> builds.pushed(tag) stops following the
// run (create-build-watcher.ts finish()), so when a step after the push fails (tests, signing,
// a scan) the failure is never heard (POST /github answers 202 "not one this app follows"), the
// node is not failed, no build-failed is notified, and its children are built on it anyway.

const secret = 'gh-hook-secret-5f2c1e9a7b3d4c60';
const page = 'https://github.com/acme/images/actions/runs/4242';
const withRun: TriggerOutcome = {
  ok: true,
  dryRun: false,
  attempts: 1,
  status: 204,
  run: { id: '4242', url: page, state: 'requested' },
};

describe('review: a GitHub run that pushes to Docker Hub, then fails', () => {
  it('fails the tag and builds nothing from it, even when Docker Hub announced the push', async () => {
    const t = buildTestApp({
      BUILD_TARGET: 'github',
      BUILD_GITHUB_REPOSITORY: 'acme/images',
      BUILD_GITHUB_WORKFLOW: 'build.yml',
      BUILD_GITHUB_TOKEN: 'ghp_reviewToken0123456789',
      GITHUB_WEBHOOK_SECRET: secret,
    });
    t.registry
      .get('https://api.github.com')
      .intercept({ path: '/repos/acme/images/actions/runs/4242', method: 'GET' })
      .reply(
        200,
        JSON.stringify({ id: 4242, status: 'in_progress', conclusion: null, html_url: page }),
      )
      .persist();
    t.failTriggers(withRun);
    expect((await t.post(delivery('init'))).statusCode).toBe(200);
    t.timers.advance(t.config.propagationDelay);
    await eventually(() => t.triggered.includes('step-1'), 'the trigger of step-1');
    await flush();
    // The workflow's push step: Docker Hub's webhook comes while the run goes on.
    expect(
      (
        await t.post(
          delivery('step-1', {
            push_data: {
              pushed_at: Math.floor(t.timers.now() / 1000),
              tag: 'step-1',
              pusher: 'ci',
            },
          }),
        )
      ).statusCode,
    ).toBe(200);
    // A later step fails the run.
    const text = JSON.stringify(workflowRunPayload({ conclusion: 'failure' }));
    const answer = await t.app.inject({
      method: 'POST',
      url: '/github',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'workflow_run',
        'x-hub-signature-256': signBody(secret, text),
      },
      payload: text,
    });
    for (let i = 0; i < 5; i++) {
      t.timers.advance(t.config.propagationDelay);
      await flush();
    }
    const status = (await t.app.inject('/status')).json();
    const failed = (status.failed as { tag: string }[]).map((entry) => entry.tag);
    const triggered = [...t.triggered];
    await t.web.close();
    expect({ answer: answer.statusCode, failed, triggered }).toEqual({
      answer: 200,
      failed: ['step-1'],
      triggered: ['step-1'],
    });
  });
});
