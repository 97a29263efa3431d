import { randomUUID } from 'node:crypto';
import { deliveriesReach, deploy, triggersReach, type Deployed } from '../helpers/chain';
import { eventually } from '../helpers/eventually';
import { logLinesOf, processesWith } from '../helpers/procfile';
import { parseLogLine } from '../../webapp/simulation/run-procfile';
import { startHostileServer } from '../helpers/hostile-server';

interface Status {
  reconciliation: { lastLook: string | null };
  upstream: { image: string; digest: string | null }[];
}

const readStatus = async (deployed: Deployed) =>
  (await (await fetch(`${deployed.url}/status`)).json()) as Status;

/** The web process's log lines, parsed. */
const webLines = (deployed: Deployed) => logLinesOf(deployed.web, 'web');

describe('the registry as the source of truth, end to end', () => {
  let deployed: Deployed | undefined;
  afterEach(async () => {
    await deployed?.stop();
    deployed = undefined;
  });

  it('completes a chain whose webhook for one tag is never delivered', async () => {
    deployed = await deploy(
      { TAG_SEQUENCE: 'a,b,c', PROPAGATION_DELAY: '0.2', RECONCILE_INTERVAL: '1' },
      { kickoff: true, hub: { loseWebhook: ['b'], buildTime: 20 } },
    );
    const { hub } = deployed;
    const lost = new Promise<number>((resolve) => hub.once('lost', () => resolve(Date.now())));
    await triggersReach(hub, 3);
    const lostAt = await lost;
    // one RECONCILE_INTERVAL plus the delay, and about a second for a busy machine
    expect((hub.triggers[2]?.at ?? 0) - lostAt).toBeLessThanOrEqual(1000 + 200 + 1500);
    await deliveriesReach(hub, 2);
    // two more looks know every push: nothing is triggered twice
    const after = Date.parse((await readStatus(deployed)).reconciliation.lastLook ?? '');
    await eventually(
      async () =>
        Date.parse((await readStatus(deployed as Deployed)).reconciliation.lastLook ?? '') >
        after + 1000,
      'two more reconciliation looks',
    );
    expect(hub.triggers.map((t) => t.tag)).toEqual(['a', 'b', 'c']);
    // The web process's lines come through foreman, which can lag the hub's record.
    await deployed.web.waitFor(/"decision":"propagate"/);
    const recovered = webLines(deployed).filter((l) => l.decision === 'propagate');
    expect(recovered).toEqual([
      expect.objectContaining({ tag: 'b', msg: expect.stringMatching(/webhook never came/) }),
    ]);
  });

  it('sends a pending trigger once, on time, after a SIGKILL of the dyno and an empty disk', async () => {
    const run = randomUUID();
    // The dyno must be back, and have read the registry, before b is due: a trigger that fell due
    // while it was down may have been sent, and is never sent twice. A busy machine takes seconds
    // to start one.
    deployed = await deploy(
      { TAG_SEQUENCE: 'a,b,c', PROPAGATION_DELAY: '8', RUN_ID: run },
      { hub: { neverBuild: ['b'] } },
    );
    const { hub } = deployed;
    const pushedFrom = Date.now();
    expect((await hub.push('a')).status).toBe(200);
    const queued = await deployed.web.waitFor(/"decision":"queued"/);
    const dueAt = Date.parse(String(parseLogLine(queued).dueAt));
    for (const { pid } of processesWith('RUN_ID', run)) process.kill(pid, 'SIGKILL');
    await eventually(() => processesWith('RUN_ID', run).length === 0, 'the dyno to be gone');
    expect(hub.triggers).toEqual([]);

    await deployed.restart({ RUN_ID: randomUUID() });
    await triggersReach(hub, 1, 10_000);
    const sentAt = hub.triggers[0]?.at ?? 0;
    expect(sentAt - dueAt).toBeLessThan(2000);
    // The delay counts from the push that the registry shows, which came before its webhook (by
    // more than a second, on a busy machine): never earlier, but for two processes' clocks.
    expect(sentAt - (pushedFrom + 8000)).toBeGreaterThanOrEqual(-2);
    // Its line comes through foreman, which can lag the hub's record.
    await deployed.web.waitFor(/before this process started, its trigger was still pending/);
    expect(webLines(deployed)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          unit: 'reconcile',
          decision: 'propagate',
          msg: expect.stringMatching(/before this process started, its trigger was still pending/),
        }),
      ]),
    );
    await deployed.web.waitFor(/"msg":"triggered b"/);
    expect(hub.triggers.map((t) => t.tag)).toEqual(['b']);
  });

  it('sends a pending trigger once after a SIGKILL, an empty disk and a tags API down past its due time', async () => {
    const run = randomUUID();
    deployed = await deploy(
      {
        TAG_SEQUENCE: 'a,b,c',
        PROPAGATION_DELAY: '12',
        RECONCILE_INTERVAL: '1',
        RUN_ID: run,
      },
      { hub: { neverBuild: ['b'] } },
    );
    const { hub } = deployed;
    expect((await hub.push('a')).status).toBe(200);
    const queued = await deployed.web.waitFor(/"decision":"queued"/);
    const dueAt = Date.parse(String(parseLogLine(queued).dueAt));
    for (const { pid } of processesWith('RUN_ID', run)) process.kill(pid, 'SIGKILL');
    await eventually(() => processesWith('RUN_ID', run).length === 0, 'the dyno to be gone');
    hub.registry.setFailure({ status: 500 });
    await deployed.restart({ RUN_ID: randomUUID() });
    await eventually(() => Date.now() > dueAt + 1000, 'the due time to pass', 30_000);
    expect(hub.triggers).toEqual([]);
    const upAt = Date.now();
    hub.registry.setFailure(undefined);
    await triggersReach(hub, 1, 10_000);
    // the next look after the outage, and about a second for a busy machine
    expect((hub.triggers[0]?.at ?? 0) - upAt).toBeLessThanOrEqual(1000 + 1500);
    await deployed.web.waitFor(/fell due after this process started and was never sent/);
    const after = Date.now();
    await eventually(
      async () =>
        Date.parse((await readStatus(deployed as Deployed)).reconciliation.lastLook ?? '') >
        after + 1000,
      'two more reconciliation looks',
    );
    expect(hub.triggers.map((t) => t.tag)).toEqual(['b']);
  }, 60_000);

  it('stops within about a second while reads of Docker Hub hang', async () => {
    const hanging = await startHostileServer({ kind: 'hang' });
    try {
      deployed = await deploy(
        {
          TAG_SEQUENCE: 'a,b',
          DOCKERHUB_API_URL: hanging.url,
          RECONCILE_INTERVAL: '1',
          UPSTREAM_IMAGES: 'alpine:3.20',
          UPSTREAM_POLL_INTERVAL: '1',
          TRIGGER_TIMEOUT: '30',
        },
        {},
      );
      await eventually(
        () =>
          hanging.requests.some((path) => path.includes('/alpine/')) &&
          hanging.requests.some((path) => path.includes('/void-docker/')),
        'a tags read and an upstream read to hang',
      );
      const asked = Date.now();
      const exit = await deployed.web.stop('SIGTERM');
      expect(Date.now() - asked).toBeLessThan(2500);
      expect(exit).toEqual({ code: 0, signal: null });
      expect(deployed.web.output()).not.toMatch(/stopping took too long|cannot read/);
      await deployed.hub.close();
      deployed = undefined;
    } finally {
      await hanging.close();
    }
  });

  it('kicks the chain off once when an upstream image changes, never on the first look', async () => {
    deployed = await deploy(
      {
        TAG_SEQUENCE: 'a,b',
        PROPAGATION_DELAY: '0.2',
        UPSTREAM_IMAGES: 'alpine:3.20',
        UPSTREAM_POLL_INTERVAL: '1',
        UPSTREAM_QUIET: '0',
      },
      {},
    );
    const { hub } = deployed;
    hub.registry.recordPush('library', 'alpine', '3.20', new Date(), 'sha256:old');
    await eventually(
      async () => (await readStatus(deployed as Deployed)).upstream[0]?.digest === 'sha256:old',
      'the first read of alpine:3.20',
    );
    expect(hub.triggers).toEqual([]);
    hub.registry.recordPush('library', 'alpine', '3.20', new Date(), 'sha256:new');
    const changedAt = Date.now();
    await deliveriesReach(hub, 2);
    expect(hub.triggers.map((t) => t.tag)).toEqual(['a', 'b']);
    expect((hub.triggers[0]?.at ?? 0) - changedAt).toBeLessThanOrEqual(1000 + 1500);
    await deployed.web.waitFor(/upstream kick-off: library\/alpine:3.20 changed/);
  });
});
