import { request } from 'undici';
import {
  startLocalDyno,
  patternAt,
  type LocalDyno,
} from '../../webapp/simulation/start-local-dyno';
import { triggersReach } from '../helpers/chain';
import { eventually } from '../helpers/eventually';
import { startTestHub, type FakeHub } from '../helpers/fake-hub';
import { freePort, procfileCommand, processesWith, runCommand } from '../helpers/procfile';
import { startPostgres, type RunningPostgres } from '../helpers/start-postgres';

// Two Procfile trees, as two dynos, share one real PostgreSQL: whatever happens to one of them or
// to the database, every node is built once.

const leaseTime = 3;
const env = (databaseUrl: string, hub: FakeHub, more: Record<string, string> = {}) => ({
  HOME: process.env.HOME ?? '/tmp',
  DATABASE_URL: databaseUrl,
  LEASE_TIME: String(leaseTime),
  TAG_SEQUENCE: 'a,b,c,d',
  PROPAGATION_DELAY: '0.5',
  TRIGGER_RETRY_INITIAL: '0.1',
  DOCKERHUB_URL: hub.url,
  DOCKERHUB_API_URL: hub.url,
  DOCKERHUB_TRIGGER_TOKEN: 'e2e-secret-token',
  RECONCILE_INTERVAL: '0',
  TRIGGER_SCHEDULE: '0 0 0 1 1 *',
  ...more,
});

interface Pair {
  hub: FakeHub;
  dynos: Map<string, LocalDyno>;
  /** the dyno the webhooks go to, when set; else each in turn */
  sendTo?: string | undefined;
  /** the dyno that holds the lease, by its name */
  planner(): Promise<string>;
  start(name: string, more?: Record<string, string>): Promise<LocalDyno>;
  kill(name: string): void;
  stop(name: string): Promise<void>;
  close(): Promise<void>;
}

async function readStore(dyno: LocalDyno): Promise<{ role?: string; planner?: string }> {
  const answer = await request(`${dyno.url}/status`);
  const body = (await answer.body.json()) as { store?: { role?: string; planner?: string } };
  return body.store ?? {};
}

/** A fake Docker Hub whose webhooks go to the dynos that are up, one after the other. */
async function startPair(db: string, more: Record<string, string> = {}): Promise<Pair> {
  const dynos = new Map<string, LocalDyno>();
  let turn = 0;
  const hub = await startTestHub({
    user: 'maddouri',
    repo: 'void-docker',
    buildTime: 300,
    webhookUrl: () => {
      const chosen = pair.sendTo === undefined ? undefined : dynos.get(pair.sendTo);
      if (chosen !== undefined) return `${chosen.url}/propagate`;
      const up = [...dynos.values()];
      const dyno = up[turn++ % up.length];
      return `${dyno?.url ?? 'http://127.0.0.1:9'}/propagate`;
    },
  });
  const pair: Pair = {
    hub,
    dynos,
    async planner() {
      let found = '';
      await eventually(async () => {
        for (const [name, dyno] of dynos) {
          if ((await readStore(dyno)).role === 'planner') found = name;
        }
        return found !== '';
      }, 'a dyno that plans');
      return found;
    },
    async start(name, extra = {}) {
      const dyno = await startLocalDyno({ ...env(db, hub, more), DYNO: name, ...extra });
      dynos.set(name, dyno);
      return dyno;
    },
    kill(name) {
      for (const { pid } of processesWith('DYNO', name)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      dynos.delete(name);
    },
    async stop(name) {
      await dynos.get(name)?.web.stop('SIGTERM');
      dynos.delete(name);
    },
    async close() {
      await Promise.all([...dynos.values()].map((dyno) => dyno.web.stop('SIGTERM')));
      dynos.clear();
      await hub.close();
    },
  };
  return pair;
}

const tagsOf = (hub: FakeHub) => hub.triggers.map((trigger) => trigger.tag);

describe('two dynos on one database, end to end', () => {
  let postgres: RunningPostgres;
  let pair: Pair | undefined;
  let databases = 0;
  const database = () => postgres.createDatabase(`e2e_${++databases}`);
  beforeAll(async () => {
    postgres = await startPostgres();
  });
  afterEach(async () => {
    await pair?.close();
    pair = undefined;
  });
  afterAll(async () => {
    await postgres?.stop();
  });

  it('refuses to start with a login the database refuses, naming DATABASE_URL and not the password', async () => {
    const db = (await database()).replace(encodeURIComponent(postgres.password), 'not-the-pw-77');
    const hub = await startTestHub({ user: 'maddouri', repo: 'void-docker' });
    try {
      const web = runCommand(procfileCommand('web'), {
        ...env(db, hub),
        PORT: String(await freePort()),
        LOG_FORMAT: 'json',
      });
      const exit = await web.exited;
      expect(exit.code).not.toBe(0);
      expect(web.output()).toMatch(
        /DATABASE_URL: cannot connect to the database: password authentication failed/,
      );
      expect(web.output()).not.toContain('not-the-pw-77');
    } finally {
      await hub.close();
    }
  });

  it('sends a scheduled kick-off once, and builds each node once from webhooks to both', async () => {
    const db = await database();
    const at = new Date(Math.ceil(Date.now() / 1000 + 12) * 1000);
    pair = await startPair(db, { TRIGGER_SCHEDULE: patternAt(at), TRIGGER_TIMEZONE: 'UTC' });
    await Promise.all([pair.start('web.1'), pair.start('web.2')]);
    await pair.planner();
    await triggersReach(pair.hub, 4, 40_000);
    // Both clocks have had the tick: one kicked off, the other found it taken.
    for (const dyno of pair.dynos.values()) {
      await dyno.web.waitFor(/"name":"clock".*next kick-off at/);
    }
    await eventually(() => pair?.hub.deliveries.length === 4, 'the push webhooks of a, b, c and d');
    expect(tagsOf(pair.hub)).toEqual(['a', 'b', 'c', 'd']);
    expect((pair.hub.triggers[0]?.at ?? 0) - at.getTime()).toBeGreaterThanOrEqual(0);
    // Webhooks went to both dynos, and both answered them.
    const answered = pair.hub.deliveries.map((delivery) => delivery.status);
    expect(answered).toEqual([200, 200, 200, 200]);
    const output = [...pair.dynos.values()].map((dyno) => dyno.web.output()).join('\n');
    expect(output).toMatch(/kept for the dyno that plans/);
    expect(output).toMatch(/is another dyno's/);
    expect(output).not.toContain(postgres.password);
    expect(output).not.toContain('e2e-secret-token');
  }, 90_000);

  it('finishes the wave on the other dyno within a lease time when the planner is killed', async () => {
    const db = await database();
    pair = await startPair(db, { PROPAGATION_DELAY: '2' });
    await Promise.all([pair.start('web.1'), pair.start('web.2')]);
    const holder = await pair.planner();
    const other = [...pair.dynos.keys()].find((name) => name !== holder) as string;
    // The push reaches the planner, which owes b; then the planner's whole tree dies.
    pair.sendTo = holder;
    const answer = await pair.hub.push('a');
    expect(answer.status).toBe(200);
    pair.sendTo = undefined;
    await new Promise((resolve) => setTimeout(resolve, 300));
    const killedAt = Date.now();
    pair.kill(holder);
    await triggersReach(pair.hub, 3, 30_000);
    expect(await pair.planner()).toBe(other);
    expect((pair.hub.triggers[0]?.at ?? 0) - killedAt).toBeLessThanOrEqual(
      (leaseTime + 2 + 2) * 1000,
    );
    await eventually(() => pair?.hub.deliveries.length === 3, 'the webhooks of b, c and d');
    expect(tagsOf(pair.hub)).toEqual(['b', 'c', 'd']);
  }, 90_000);

  it('sees an upstream change made while every dyno was down, and builds its wave once', async () => {
    const db = await database();
    const upstream = {
      UPSTREAM_IMAGES: 'alpine:3.20',
      UPSTREAM_POLL_INTERVAL: '1',
      UPSTREAM_QUIET: '0',
      PROPAGATION_DELAY: '0.2',
    };
    pair = await startPair(db, upstream);
    const { hub } = pair;
    hub.registry.recordPush('library', 'alpine', '3.20', new Date(), 'sha256:old');
    await Promise.all([pair.start('web.1'), pair.start('web.2')]);
    const holder = await pair.planner();
    await eventually(async () => {
      const answer = await request(`${pair?.dynos.get(holder)?.url}/status`);
      const body = (await answer.body.json()) as { upstream: { digest: string | null }[] };
      return body.upstream[0]?.digest === 'sha256:old';
    }, 'the first read of alpine:3.20');
    // Written behind: the planner's view reaches the database within a turn of its loop.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await Promise.all([pair.stop('web.1'), pair.stop('web.2')]);
    hub.registry.recordPush('library', 'alpine', '3.20', new Date(), 'sha256:new');
    await Promise.all([pair.start('web.3'), pair.start('web.4')]);
    await triggersReach(hub, 4, 30_000);
    await eventually(() => hub.deliveries.length === 4, 'the webhooks of a, b, c and d');
    // Another few reads: nothing more.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(tagsOf(hub)).toEqual(['a', 'b', 'c', 'd']);
  }, 90_000);

  it('loses and doubles nothing while the database is down for 30 s, and says so once', async () => {
    const db = await database();
    pair = await startPair(db, { PROPAGATION_DELAY: '1' });
    await Promise.all([pair.start('web.1'), pair.start('web.2')]);
    const holder = await pair.planner();
    const other = [...pair.dynos.keys()].find((name) => name !== holder) as string;
    pair.sendTo = other;
    await pair.hub.push('a');
    await triggersReach(pair.hub, 1, 20_000);
    // b was sent; its push comes back while the database is down, to the dyno that does not plan.
    await postgres.halt();
    const downAt = Date.now();
    await eventually(() => pair?.hub.deliveries.length === 2, 'the webhook of b', 20_000);
    const standby = pair.dynos.get(other) as LocalDyno;
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, 30_000 - (Date.now() - downAt))),
    );
    expect(tagsOf(pair.hub)).toEqual(['b']);
    await postgres.resume();
    await triggersReach(pair.hub, 3, 30_000);
    await eventually(() => pair?.hub.deliveries.length === 4, 'the webhooks of c and d', 20_000);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(tagsOf(pair.hub)).toEqual(['b', 'c', 'd']);
    for (const dyno of pair.dynos.values()) {
      const said = dyno.web
        .output()
        .split('\n')
        .filter(
          (line) => line.includes('"name":"web"') && line.includes('the database does not answer'),
        );
      expect(said.length).toBe(1);
    }
    expect(standby.web.output()).toMatch(/in memory until the database answers/);
  }, 150_000);
});
