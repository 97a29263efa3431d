import { Client } from 'pg';
import { loadConfig } from '../../webapp/config';
import { createPgStore } from '../../webapp/store/create-pg-store';
import { realClock } from '../../webapp/timing/real-clock';
import { createWebApp, type WebApp } from '../../webapp/web/create-web-app';
import { delivery } from '../helpers/app';
import { eventually } from '../helpers/eventually';
import { captureLogs } from '../helpers/logs';
import { startPostgres, type RunningPostgres } from '../helpers/start-postgres';

// The web app over a shared database, as a dyno that takes over from one that died.
let postgres: RunningPostgres;
let databases = 0;
const apps: WebApp[] = [];

beforeAll(async () => {
  postgres = await startPostgres();
});
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});
afterAll(async () => {
  await postgres?.stop();
});

/** A database as a dyno left it: its journal, and the claims it made. */
async function leftBehind(
  journal: unknown[],
  claims: { key: string; sent: boolean; ago: number }[],
): Promise<string> {
  const url = await postgres.createDatabase(`shared_${++databases}`);
  const store = createPgStore({
    url,
    log: captureLogs().log,
    clock: realClock,
    holder: 'web.0/dead',
    leaseTime: 1000,
  });
  await store.migrate();
  await store.close();
  const client = new Client({ connectionString: url });
  await client.connect();
  await client.query("INSERT INTO propagate_state (part, value) VALUES ('journal', $1)", [
    JSON.stringify(journal),
  ]);
  for (const claim of claims) {
    await client.query(
      `INSERT INTO propagate_claims (key, holder, claimed_at, sent_at)
       VALUES ($1, 'web.0/dead', now() - $2 * interval '1 millisecond', CASE WHEN $3 THEN now() END)`,
      [claim.key, claim.ago, claim.sent],
    );
  }
  await client.end();
  return url;
}

function startDyno(url: string, holder = 'web.1/alive') {
  const config = loadConfig({
    TAG_SEQUENCE: 'a,b,c',
    PROPAGATION_DELAY: '0.1',
    DOCKERHUB_TRIGGER_TOKEN: 'tok',
    DATABASE_URL: url,
    LEASE_TIME: '3',
    RECONCILE_INTERVAL: '0',
  });
  const logs = captureLogs('web');
  const triggered: string[] = [];
  const store = createPgStore({
    url,
    log: logs.log,
    clock: realClock,
    holder,
    leaseTime: config.leaseTime,
  });
  const app = createWebApp(config, logs.log, {
    store,
    trigger: async (tag) => {
      triggered.push(tag);
      return { ok: true, dryRun: false, attempts: 1, status: 200 };
    },
  });
  apps.push(app);
  app.start();
  return { app, triggered, logs };
}

describe('a dyno that takes over', () => {
  it('does not send again a trigger the dead dyno claimed and sent: its build is awaited', async () => {
    const url = await leftBehind(
      [{ id: 'wave-1-b', tag: 'b', dueAt: Date.now() - 500, after: 'a' }],
      [{ key: 'trigger:wave-1-b', sent: true, ago: 400 }],
    );
    const { app, triggered, logs } = startDyno(url);
    await eventually(() => app.planner() !== undefined, 'the lease');
    await eventually(
      () => app.propagator.status().awaiting.some((entry) => entry.tag === 'b'),
      "b's build awaited",
    );
    expect(triggered).toEqual([]);
    expect(logs.text()).toMatch(/b's trigger was sent by another dyno/);
  });

  it('sends a trigger the dead dyno claimed but never sent, once its claim has run out', async () => {
    const url = await leftBehind(
      [{ id: 'wave-1-b', tag: 'b', dueAt: Date.now() - 500, after: 'a' }],
      [{ key: 'trigger:wave-1-b', sent: false, ago: 0 }],
    );
    const { app, triggered } = startDyno(url);
    await eventually(() => app.planner() !== undefined, 'the lease');
    const since = Date.now();
    await eventually(() => triggered.length === 1, 'the trigger of b', 15_000);
    expect(triggered).toEqual(['b']);
    // Not before the dead dyno's claim ran out (LEASE_TIME, 3 s, from its claim).
    expect(Date.now() - since).toBeGreaterThanOrEqual(1500);
  });

  it('answers a push with what it queued, and a standby dyno with what it kept', async () => {
    const url = await leftBehind([], []);
    const { app, triggered } = startDyno(url);
    await eventually(() => app.planner() !== undefined, 'the lease');
    const standby = startDyno(url, 'web.2/alive');
    const push = (to: WebApp, tag: string) =>
      to.server.inject({
        method: 'POST',
        url: '/propagate',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(
          delivery(tag, { push_data: { tag, pushed_at: Math.floor(Date.now() / 1000) } }),
        ),
      });
    expect((await push(app, 'a')).json()).toEqual(expect.objectContaining({ next_tag: 'b' }));
    await eventually(() => triggered.length === 1, 'the trigger of b');
    const kept = (await push(standby.app, 'b')).json();
    expect(kept).toEqual(expect.objectContaining({ next_tag: null, kept: true }));
    expect(kept.description).toMatch(/^b pushed: kept for the dyno that plans \(web\.1\/alive\)$/);
    await eventually(() => triggered.length === 2, 'the trigger of c, from the kept push of b');
    expect(triggered).toEqual(['b', 'c']);
    expect(standby.triggered).toEqual([]);
    expect(standby.app.planner()).toBeUndefined();
    const status = (await app.server.inject({ url: '/status' })).json();
    expect(status.store).toEqual(
      expect.objectContaining({ kind: 'postgres', role: 'planner', dyno: 'web.1/alive' }),
    );
    await eventually(async () => {
      const shown = (await standby.app.server.inject({ url: '/status' })).json();
      return shown.store?.role === 'standby' && shown.store?.planner === 'web.1/alive';
    }, "the standby's status naming the planner");
  });

  it('stops planning when it cannot renew its lease before it runs out, and plans again after', async () => {
    const url = await leftBehind([], []);
    const { app, logs } = startDyno(url);
    await eventually(() => app.planner() !== undefined, 'the lease');
    await postgres.halt();
    try {
      const haltedAt = Date.now();
      await eventually(() => app.planner() === undefined, 'the planner to stop', 10_000);
      // LEASE_TIME is 3 s: it stops before the lease could pass to another dyno.
      expect(Date.now() - haltedAt).toBeLessThan(3000);
      expect(logs.text()).toMatch(
        /this dyno stopped planning: it could not renew its lease before it ran out/,
      );
    } finally {
      await postgres.resume();
    }
    await eventually(() => app.planner() !== undefined, 'the lease again', 15_000);
  }, 30_000);

  it('stops within a few seconds while the database hangs, and says what it could not write', async () => {
    const url = await leftBehind([], []);
    const { app, logs } = startDyno(url);
    await eventually(() => app.planner() !== undefined, 'the lease');
    const locker = new Client({ connectionString: url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE propagate_state IN ACCESS EXCLUSIVE MODE');
    try {
      const pushed = await app.server.inject({
        method: 'POST',
        url: '/propagate',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify(delivery('b')),
      });
      expect(pushed.statusCode).toBe(200);
      const asked = Date.now();
      await app.close();
      apps.splice(apps.indexOf(app), 1);
      expect(Date.now() - asked).toBeLessThan(6000);
      expect(logs.text()).toMatch(/stopped without writing to the database: journal/);
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
  }, 30_000);
});
