import { deliveriesReach, deploy, patternIn, triggersReach, type Deployed } from './support/chain';

describe('the Procfile web command, end to end', () => {
  let deployed: Deployed | undefined;
  afterEach(async () => {
    await deployed?.stop();
    deployed = undefined;
  });

  it('kicks off on schedule and propagates the whole chain, in order, once each', async () => {
    const tags = ['init', 'step-1', 'step-2', 'step-3', 'latest'];
    deployed = await deploy(
      {
        TRIGGER_SCHEDULE: patternIn(3),
        PROPAGATION_DELAY: '0.4',
      },
      { buildTime: 50 },
    );
    const { hub, web } = deployed;
    await triggersReach(hub, tags.length);
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
    // each next tag comes PROPAGATION_DELAY after the app answered the previous tag's webhook
    for (let i = 1; i < tags.length; i++) {
      const gap = (hub.triggers[i]?.at ?? 0) - (hub.deliveries[i - 1]?.at ?? 0);
      expect(gap).toBeGreaterThanOrEqual(390);
      expect(gap).toBeLessThan(1000);
    }
    expect(web.output()).toMatch(/"name":"clock".*kick-off: triggering init/);
    expect(web.output()).not.toContain('e2e-secret-token');
  });

  it('runs in dry run without a token: says so, and sends nothing', async () => {
    deployed = await deploy({ DOCKERHUB_TRIGGER_TOKEN: '', TRIGGER_SCHEDULE: patternIn(2) });
    const { web, hub } = deployed;
    await web.waitFor(/"name":"clock".*dry run: would trigger init/);
    expect(web.output()).toMatch(/"name":"web".*DRY RUN/);
    expect(web.output()).toMatch(/"name":"clock".*DRY RUN/);
    const answer = await hub.push('init');
    expect(answer.status).toBe(200);
    expect(hub.triggers).toEqual([]);
  });
});
