import { deliveriesReach, deploy, triggersReach, type Deployed } from '../helpers/chain';
import { eventually } from '../helpers/eventually';
import { logLinesOf, type Running } from '../helpers/procfile';

/** When the web process said each next tag is due: its own record of accepting the push. */
function dueTimes(web: Running): Map<string, number> {
  return new Map(
    logLinesOf(web, 'web')
      .filter((entry) => entry.decision === 'queued')
      .map((entry) => [String(entry.next), Date.parse(String(entry.dueAt))]),
  );
}

describe('the Procfile web command, end to end', () => {
  let deployed: Deployed | undefined;
  afterEach(async () => {
    await deployed?.stop();
    deployed = undefined;
  });

  it('kicks off on schedule and propagates the whole chain, in order, once each', async () => {
    const tags = ['init', 'step-1', 'step-2', 'step-3', 'latest'];
    deployed = await deploy(
      { PROPAGATION_DELAY: '0.4' },
      { kickoff: true, hub: { buildTime: 50 } },
    );
    const { hub, web } = deployed;
    await deliveriesReach(hub, tags.length);
    expect(hub.triggers.map((trigger) => trigger.tag)).toEqual(tags);
    expect(
      hub.triggers.every(
        (trigger) => trigger.path === '/u/maddouri/void-docker/trigger/e2e-secret-token/',
      ),
    ).toBe(true);
    expect(hub.triggers.map((trigger) => JSON.parse(trigger.body))).toEqual(
      tags.map((tag) => ({ docker_tag: tag })),
    );
    expect(hub.deliveries.map((answer) => answer.status)).toEqual([200, 200, 200, 200, 200]);
    // Each next tag is due PROPAGATION_DELAY after its push was accepted: never sent earlier
    // (2 ms for two processes' clocks), and late by at most about a second on a busy machine.
    // The web process's lines come through foreman, which can lag the hub's record.
    await eventually(
      () => dueTimes(web).size === tags.length - 1,
      'the web process to log when each next tag is due',
    );
    const due = dueTimes(web);
    for (const trigger of hub.triggers.slice(1)) {
      const dueAt = due.get(trigger.tag) ?? Number.NaN;
      expect([trigger.tag, trigger.at - dueAt >= -2]).toEqual([trigger.tag, true]);
      expect([trigger.tag, trigger.at - dueAt <= 1500]).toEqual([trigger.tag, true]);
    }
    // ...and due PROPAGATION_DELAY after the app took the push, which was before its answer came
    // back, by at most about a second on a busy machine.
    const sinceAnswer = hub.deliveries
      .slice(0, -1)
      .map((answer, i) => (due.get(tags[i + 1] as string) ?? Number.NaN) - answer.at);
    expect(sinceAnswer.every((ms) => ms <= 400 && ms > 400 - 1500)).toBe(true);
    await web.waitFor(/"name":"clock".*kick-off: triggering init/);
    expect(web.output()).not.toContain('e2e-secret-token');
    // Node's own warnings (foreman's util._extend under Node 22+) are noise in the dyno's log.
    expect(web.output()).not.toMatch(/\(node:\d+\) \[?\w*\]? ?\w*Warning/);
  });

  it('runs in dry run without a token: says so, and sends nothing', async () => {
    deployed = await deploy({ DOCKERHUB_TRIGGER_TOKEN: '' }, { kickoff: true });
    const { web, hub } = deployed;
    await web.waitFor(/"name":"clock".*dry run: would trigger init/);
    expect(web.output()).toMatch(/"name":"web".*DRY RUN/);
    expect(web.output()).toMatch(/"name":"clock".*DRY RUN/);
    const answer = await hub.push('init');
    expect(answer.status).toBe(200);
    expect(hub.triggers).toEqual([]);
  });

  it('runs a chain built by GitHub Actions on the Docker Hub push webhooks', async () => {
    const githubToken = 'ghp_fakeGitHubToken123';
    const secret = 'e2e-webhook-secret-0123';
    deployed = await deploy(
      {
        BUILD_TARGET: 'github',
        BUILD_GITHUB_REPOSITORY: 'acme/images',
        BUILD_GITHUB_WORKFLOW: 'build.yml',
        BUILD_GITHUB_TOKEN: githubToken,
        DOCKERHUB_TRIGGER_TOKEN: '',
        TAG_SEQUENCE: 'base,app,latest',
        PROPAGATION_DELAY: '0.2',
        WEBHOOK_SECRET: secret,
      },
      { kickoff: true, hub: { buildTime: 20 }, query: `?token=${secret}` },
    );
    const { hub, web } = deployed;
    await triggersReach(hub, 3);
    await deliveriesReach(hub, 3);
    expect(hub.triggers.map((t) => `${t.api}:${t.tag}:${t.status}`)).toEqual([
      'github:base:200',
      'github:app:200',
      'github:latest:200',
    ]);
    expect(hub.deliveries.map((d) => d.status)).toEqual([200, 200, 200]);
    // The clock's lines come through foreman, which can lag the hub's record.
    await web.waitFor(/"name":"clock".*"msg":"triggered base"/);
    expect(web.output()).not.toContain(githubToken);
    expect(web.output()).not.toContain(secret);
  });
});
