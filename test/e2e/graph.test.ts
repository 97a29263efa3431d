import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deliveriesReach, deploy, triggersReach, type Deployed } from '../helpers/chain';
import { eventually } from '../helpers/eventually';
import { processesWith, runCommand, procfileCommand } from '../helpers/procfile';
import type { TestHubOptions } from '../helpers/fake-hub';

/** seconds from the last parent's push to a node's trigger */
const DELAY = 3;

/** The diamond across three repositories: base, its two services, and the app built on both. */
function diamondFile(extra = ''): string {
  const folder = mkdtempSync(join(tmpdir(), 'dtp-graph-'));
  const file = join(folder, 'chains.yml');
  writeFileSync(
    file,
    `delay: ${DELAY}
images:
  - image: acme/base:latest
    from: [alpine:3.20]
    build: { target: dockerhub, token_env: BASE_TRIGGER_TOKEN }
  - image: acme/svc:a
    from: [acme/base:latest]
    build: { target: dockerhub, token_env: SVC_TRIGGER_TOKEN }
  - image: acme/svc:b
    from: [acme/base:latest]
    build: { target: dockerhub, token_env: SVC_TRIGGER_TOKEN }
  - image: acme/app:latest
    from: [acme/svc:a, acme/svc:b]
    build: { target: dockerhub, token_env: APP_TRIGGER_TOKEN }
${extra}`,
  );
  return file;
}

const tokens = {
  BASE_TRIGGER_TOKEN: 'base-e2e-token',
  SVC_TRIGGER_TOKEN: 'svc-e2e-token',
  APP_TRIGGER_TOKEN: 'app-e2e-token',
};

/** svc:b builds longer than svc:a, as a real service would. */
const buildTimeOf = (slowB: number) => (repository: string, tag: string) =>
  repository === 'acme/svc' && tag === 'b' ? slowB : 300;

async function deployDiamond(
  env: Record<string, string> = {},
  hub: Omit<TestHubOptions, 'user' | 'repo' | 'webhookUrl'> = {},
): Promise<Deployed> {
  return deploy(
    {
      GRAPH_FILE: diamondFile(),
      RECONCILE_INTERVAL: '0',
      ...tokens,
      ...env,
    },
    { hub: { byRepository: true, buildTimeOf: buildTimeOf(2000), ...hub } },
  );
}

const image = (trigger: { repository: string; tag: string }) =>
  `${trigger.repository}:${trigger.tag}`;

const triggerOf = (deployed: Deployed, name: string) =>
  deployed.hub.triggers.find((trigger) => image(trigger) === name);

const deliveryOf = (deployed: Deployed, name: string) =>
  deployed.hub.deliveries.find((delivery) => `${delivery.repository}:${delivery.tag}` === name);

/** Resolves once the web process has looked at the registry after `at` (ms). */
async function looksAfter(deployed: Deployed, at: number): Promise<void> {
  await eventually(
    async () => {
      const status = (await (await fetch(`${deployed.url}/status`)).json()) as {
        reconciliation: { lastLook: string | null };
      };
      return Date.parse(status.reconciliation.lastLook ?? '') > at;
    },
    'a look at the registry',
    10_000,
  );
}

describe('a build graph across repositories, end to end', () => {
  let deployed: Deployed | undefined;
  afterEach(async () => {
    await deployed?.stop();
    deployed = undefined;
  });

  it("builds base's children after its push and the delay, one delay apart, and app once after both", async () => {
    deployed = await deployDiamond();
    const { hub } = deployed;
    const base = await hub.push('latest', 'acme/base');
    expect(base.status).toBe(200);
    expect(JSON.parse(base.body)).toMatchObject({ next: ['acme/svc:a', 'acme/svc:b'] });
    await triggersReach(hub, 3, 30_000);
    await deliveriesReach(hub, 4, 30_000);
    expect(hub.triggers.map(image)).toEqual(['acme/svc:a', 'acme/svc:b', 'acme/app:latest']);
    const a = triggerOf(deployed, 'acme/svc:a')?.at ?? 0;
    const b = triggerOf(deployed, 'acme/svc:b')?.at ?? 0;
    const app = triggerOf(deployed, 'acme/app:latest')?.at ?? 0;
    // never early; late by at most about a second on a busy machine
    expect(a - base.at).toBeGreaterThanOrEqual(DELAY * 1000 - 50);
    expect(a - base.at).toBeLessThan(DELAY * 1000 + 1500);
    // one Docker Hub repository: its two triggers stay the delay apart
    expect(b - a).toBeGreaterThanOrEqual(DELAY * 1000 - 50);
    expect(b - a).toBeLessThan(DELAY * 1000 + 1500);
    const bPushed = deliveryOf(deployed, 'acme/svc:b')?.at ?? 0;
    expect(app - bPushed).toBeGreaterThanOrEqual(DELAY * 1000 - 50);
    expect(app - bPushed).toBeLessThan(DELAY * 1000 + 1500);
    // the wave has ended, with all four built
    await eventually(async () => {
      const status = (await (await fetch(`${deployed?.url}/status`)).json()) as {
        graph: { wave: unknown; lastWave: { built: number; total: number } | null };
      };
      return status.graph.wave === null && status.graph.lastWave?.built === 4;
    }, 'the wave to end with four images built');
    expect(hub.triggers).toHaveLength(3);
  }, 60_000);

  it("still builds app once when svc:b's webhook is lost: the registry shows its push", async () => {
    deployed = await deployDiamond(
      { RECONCILE_INTERVAL: '1' },
      { loseWebhook: ['acme/svc:b'], buildTimeOf: buildTimeOf(1000) },
    );
    const { hub } = deployed;
    const lost = new Promise<number>((resolve) => hub.once('lost', () => resolve(Date.now())));
    await hub.push('latest', 'acme/base');
    const lostAt = await lost;
    await triggersReach(hub, 3, 30_000);
    expect(hub.triggers.map(image)).toEqual(['acme/svc:a', 'acme/svc:b', 'acme/app:latest']);
    const app = triggerOf(deployed, 'acme/app:latest')?.at ?? 0;
    // the delay after svc:b's push, a look of the registry, and about a second for the machine
    expect(app - lostAt).toBeGreaterThanOrEqual(DELAY * 1000 - 50);
    expect(app - lostAt).toBeLessThan(DELAY * 1000 + 1000 + 2000);
    await deliveriesReach(hub, 3, 10_000);
    // two more looks know every push: nothing is triggered twice
    await looksAfter(deployed, app + 2000);
    expect(hub.triggers).toHaveLength(3);
  }, 60_000);

  it('builds svc:b and app once each after a SIGKILL while svc:b builds, an empty disk and a restart', async () => {
    const run = randomUUID();
    deployed = await deployDiamond(
      { RECONCILE_INTERVAL: '1', RUN_ID: run },
      { buildTimeOf: buildTimeOf(12_000) },
    );
    const { hub } = deployed;
    // earlier builds, before this wave: the registry knows svc:b and app from before base's push
    const before = new Date(Date.now() - 3600_000);
    hub.registry.recordPush('acme', 'svc', 'b', before);
    hub.registry.recordPush('acme', 'app', 'latest', before);
    await hub.push('latest', 'acme/base');
    await triggersReach(hub, 2, 30_000);
    await eventually(() => deliveryOf(deployed as Deployed, 'acme/svc:a') !== undefined, 'svc:a');
    for (const { pid } of processesWith('RUN_ID', run)) process.kill(pid, 'SIGKILL');
    await eventually(() => processesWith('RUN_ID', run).length === 0, 'the dyno to be gone');
    await deployed.restart({ RUN_ID: randomUUID() });
    await triggersReach(hub, 3, 30_000);
    await deliveriesReach(hub, 4, 30_000);
    expect(hub.triggers.map(image)).toEqual(['acme/svc:a', 'acme/svc:b', 'acme/app:latest']);
    const app = triggerOf(deployed, 'acme/app:latest')?.at ?? 0;
    const bPushed = deliveryOf(deployed, 'acme/svc:b')?.at ?? 0;
    expect(app - bPushed).toBeGreaterThanOrEqual(DELAY * 1000 - 1000);
    // two more looks after app's trigger: still nothing more
    await looksAfter(deployed, app + 2000);
    expect(hub.triggers).toHaveLength(3);
  }, 90_000);

  it('starts the whole wave once when an upstream image changes, never at the first read', async () => {
    deployed = await deployDiamond({ UPSTREAM_POLL_INTERVAL: '1', UPSTREAM_QUIET: '0' });
    const { hub } = deployed;
    hub.registry.recordPush('library', 'alpine', '3.20', new Date(), 'sha256:old');
    await eventually(async () => {
      const status = (await (await fetch(`${deployed?.url}/status`)).json()) as {
        upstream: { digest: string | null }[];
      };
      return status.upstream[0]?.digest === 'sha256:old';
    }, 'the first read of alpine:3.20');
    expect(hub.triggers).toEqual([]);
    hub.registry.recordPush('library', 'alpine', '3.20', new Date(), 'sha256:new');
    await triggersReach(hub, 4, 40_000);
    await deliveriesReach(hub, 4, 30_000);
    expect(hub.triggers.map(image)).toEqual([
      'acme/base:latest',
      'acme/svc:a',
      'acme/svc:b',
      'acme/app:latest',
    ]);
    await deployed.web.waitFor(/wave ended: 4 of 4 built/);
    expect(hub.triggers).toHaveLength(4);
  }, 60_000);

  it('refuses a graph with a cycle at start: exits non-zero, names the cycle, triggers nothing', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'dtp-cycle-'));
    const file = join(folder, 'chains.yml');
    writeFileSync(
      file,
      `images:
  - image: acme/a:1
    from: [acme/c:1]
    build: { target: dockerhub }
  - image: acme/b:1
    from: [acme/a:1]
    build: { target: dockerhub }
  - image: acme/c:1
    from: [acme/b:1]
    build: { target: dockerhub }
`,
    );
    const web = runCommand(procfileCommand('web'), { GRAPH_FILE: file, PORT: '0' });
    const exit = await web.exited;
    expect(exit.code).not.toBe(0);
    expect(web.output()).toContain('acme/a:1 -> acme/b:1 -> acme/c:1 -> acme/a:1');
    expect(web.output()).toContain(`${file} line 2`);
    expect(web.output()).not.toMatch(/triggered|listening/);
  });
});
