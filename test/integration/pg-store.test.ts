import { Client } from 'pg';
import {
  createPgStore,
  isOutage,
  outboxLimit,
  type SharedStore,
} from '../../webapp/store/create-pg-store';
import { schemaVersion } from '../../webapp/store/migrate-schema';
import { realClock } from '../../webapp/timing/real-clock';
import { eventually } from '../helpers/eventually';
import { captureLogs, type CapturedLogs } from '../helpers/logs';
import { startPostgres, type RunningPostgres } from '../helpers/start-postgres';

// What only a database shared by several dynos does: leases, claims, the inbox, and outages.
let postgres: RunningPostgres;
let databases = 0;
const opened: SharedStore[] = [];

beforeAll(async () => {
  postgres = await startPostgres();
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((store) => store.close().catch(() => undefined)));
});
afterAll(async () => {
  await postgres?.stop();
});

const database = () => postgres.createDatabase(`pg_${++databases}`);

function open(url: string, holder: string, leaseTime = 1500, logs: CapturedLogs = captureLogs()) {
  const store = createPgStore({ url, log: logs.log, clock: realClock, holder, leaseTime });
  opened.push(store);
  return store;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the schema', () => {
  it('is made once by dynos that start together, and its version is kept', async () => {
    const url = await database();
    const stores = [open(url, 'one'), open(url, 'two'), open(url, 'three')];
    await Promise.all(stores.map((store) => store.migrate()));
    const client = new Client({ connectionString: url });
    await client.connect();
    const found = await client.query<{ version: number }>('SELECT version FROM propagate_schema');
    await client.end();
    expect(found.rows).toEqual([{ version: schemaVersion }]);
  });

  it('is refused when a newer release migrated it', async () => {
    const url = await database();
    await open(url, 'one').migrate();
    const client = new Client({ connectionString: url });
    await client.connect();
    await client.query('UPDATE propagate_schema SET version = version + 1');
    await client.end();
    await expect(open(url, 'two').migrate()).rejects.toThrow(/newer than this release knows/);
  });
});

describe('the lease', () => {
  it('is held by one dyno at a time, and passes to another once it runs out', async () => {
    const url = await database();
    const first = open(url, 'web.1');
    const second = open(url, 'web.2');
    await first.migrate();
    expect(await first.holdLease()).toBe(true);
    expect(await second.holdLease()).toBe(false);
    expect(await first.holdLease()).toBe(true);
    expect((await second.leaseHolder())?.holder).toBe('web.1');
    await sleep(1700);
    expect(await second.holdLease()).toBe(true);
    expect(await first.holdLease()).toBe(false);
  });

  it('passes at once when its holder gives it up', async () => {
    const url = await database();
    const first = open(url, 'web.1', 60_000);
    const second = open(url, 'web.2', 60_000);
    await first.migrate();
    expect(await first.holdLease()).toBe(true);
    await first.releaseLease();
    expect(await second.holdLease()).toBe(true);
  });
});

describe('claims', () => {
  it('grant a key to one dyno; once sent, the others see it sent', async () => {
    const url = await database();
    const first = open(url, 'web.1');
    const second = open(url, 'web.2');
    await first.migrate();
    expect(await first.claim('kickoff:2026-12-02T00:00:00.000Z', false)).toBe('granted');
    expect(await second.claim('kickoff:2026-12-02T00:00:00.000Z', false)).toBe('busy');
    expect(await first.claim('kickoff:2026-12-02T00:00:00.000Z', false)).toBe('granted');
    first.markSent('kickoff:2026-12-02T00:00:00.000Z');
    await first.flush();
    expect(await second.claim('kickoff:2026-12-02T00:00:00.000Z', false)).toBe('sent');
    expect(await first.claim('kickoff:2026-12-02T00:00:00.000Z', false)).toBe('sent');
  });

  it('pass a claim never sent to another dyno once a lease time has run out', async () => {
    const url = await database();
    const first = open(url, 'web.1');
    const second = open(url, 'web.2');
    await first.migrate();
    expect(await first.claim('trigger:x', false)).toBe('granted');
    expect(await second.claim('trigger:x', false)).toBe('busy');
    await sleep(1700);
    expect(await second.claim('trigger:x', false)).toBe('granted');
    expect(await first.claim('trigger:x', false)).toBe('busy');
  });

  it('of a kick-off never pass to another clock, even when never marked sent', async () => {
    const url = await database();
    const first = open(url, 'clock.1');
    const second = open(url, 'clock.2');
    await first.migrate();
    expect(await first.claim('kickoff:2026-12-02T06:00:00.000Z', false, false)).toBe('granted');
    await sleep(1700);
    expect(await second.claim('kickoff:2026-12-02T06:00:00.000Z', false, false)).toBe('busy');
  });

  it("of a planner's trigger are granted only while it holds the lease", async () => {
    const url = await database();
    const first = open(url, 'web.1');
    const second = open(url, 'web.2');
    await first.migrate();
    expect(await first.holdLease()).toBe(true);
    expect(await second.claim('trigger:y', true)).toBe('busy');
    expect(await first.claim('trigger:y', true)).toBe('granted');
    await sleep(1700);
    // Its lease ran out: it may have been taken over, so it sends nothing more.
    expect(await first.claim('trigger:z', true)).toBe('busy');
  });
});

describe('the inbox', () => {
  it('brings what one dyno kept to the planner, once, and forgets it when acted on', async () => {
    const url = await database();
    const standby = open(url, 'web.2');
    const planner = open(url, 'web.1');
    await planner.migrate();
    expect(await planner.holdLease()).toBe(true);
    standby.record({ kind: 'push', tag: 'a', pushedAt: '1764158400' });
    standby.record({ kind: 'run', service: 'github', id: '7', state: 'success', url: null });
    await standby.flush();
    const taken = await planner.takeInbox();
    expect(taken.map((entry) => entry.delivery)).toEqual([
      { kind: 'push', tag: 'a', pushedAt: '1764158400' },
      { kind: 'run', service: 'github', id: '7', state: 'success', url: null },
    ]);
    expect(await planner.takeInbox()).toEqual([]);
    planner.consumed(taken.map((entry) => entry.id));
    await planner.flush();
    // A new planner starts from what is left: nothing.
    expect(await open(url, 'web.3').takeInbox()).toEqual([]);
  });

  it('gives a successor what a planner acted on but could not write', async () => {
    const url = await database();
    const planner = open(url, 'web.1');
    await planner.migrate();
    planner.noteActedOn({ kind: 'push', tag: 'b' });
    planner.handOver();
    await planner.flush();
    const taken = await open(url, 'web.2').takeInbox();
    expect(taken.map((entry) => entry.delivery)).toEqual([{ kind: 'push', tag: 'b' }]);
  });
});

describe('a planner that lost its lease without knowing', () => {
  it("writes nothing over its successor's state, and hands what it acted on over", async () => {
    const url = await database();
    const first = open(url, 'web.1');
    const second = open(url, 'web.2');
    await first.migrate();
    expect(await first.holdLease()).toBe(true);
    first.save('pushes', { a: 1 });
    await first.flush();
    await sleep(1700);
    expect(await second.holdLease()).toBe(true);
    second.save('pushes', { a: 2 });
    await second.flush();
    // The first still plans, as far as it knows: a push it acted on, and what that changed.
    first.noteActedOn({ kind: 'push', tag: 'a', pushedAt: '1764158400' });
    first.save('pushes', { a: 3 });
    await first.flush();
    expect((await open(url, 'web.3').load()).pushes).toEqual({ a: 2 });
    expect(first.unwritten().parts).toEqual(['pushes']);
    first.handOver();
    await first.flush();
    expect(first.unwritten()).toEqual({ parts: [], deliveries: 0 });
    const kept = await second.takeInbox();
    expect(kept.map((entry) => entry.delivery)).toEqual([
      { kind: 'push', tag: 'a', pushedAt: '1764158400' },
    ]);
  });
});

describe('an outage of the database', () => {
  it('is no crash when a connection is cut in the middle of a query', async () => {
    const url = await database();
    const logs = captureLogs();
    const store = open(url, 'web.1', 60_000, logs);
    await store.migrate();
    expect(await store.holdLease()).toBe(true);
    const locker = new Client({ connectionString: url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE propagate_state IN ACCESS EXCLUSIVE MODE');
    store.save('pushes', { a: 1 });
    const writing = store.flush();
    await eventually(async () => {
      const found = await locker.query(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'dockerhub-trigger-propagate' AND wait_event_type = 'Lock'",
      );
      return Number(found.rows[0].n) > 0;
    }, 'the write waiting on the lock');
    await locker.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'dockerhub-trigger-propagate'",
    );
    await writing;
    await locker.query('ROLLBACK');
    await locker.end();
    expect(store.downSince()).toBeDefined();
    // The next write goes through.
    const reader = open(url, 'web.2');
    await eventually(async () => (await reader.load()).pushes.a === 1, 'the write again', 10_000);
  }, 20_000);

  it('tells an outage, which a wait mends, from a refusal, which none does', () => {
    expect(isOutage(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isOutage(Object.assign(new Error('admin shutdown'), { code: '57P01' }))).toBe(true);
    expect(isOutage(Object.assign(new Error('too many'), { code: '53300' }))).toBe(true);
    expect(isOutage(Object.assign(new Error('read-only'), { code: '25006' }))).toBe(true);
    expect(isOutage(Object.assign(new Error('no such host'), { code: 'ENOTFOUND' }))).toBe(true);
    expect(isOutage(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isOutage(new Error('timeout exceeded when trying to connect'))).toBe(true);
    expect(isOutage(Object.assign(new Error('password'), { code: '28P01' }))).toBe(false);
    expect(isOutage(Object.assign(new Error('no database'), { code: '3D000' }))).toBe(false);
    expect(isOutage(Object.assign(new Error('permission denied'), { code: '42501' }))).toBe(false);
    expect(isOutage(new Error('The server does not support SSL connections'))).toBe(false);
    expect(isOutage(Object.assign(new Error('no such file'), { code: 'ENOENT' }))).toBe(false);
  });

  it('keeps what is saved and kept in memory, says so once, and writes it when the database is back', async () => {
    const url = await database();
    const logs = captureLogs();
    const store = open(url, 'web.1', 60_000, logs);
    await store.migrate();
    expect(await store.holdLease()).toBe(true);
    const heard: boolean[] = [];
    store.onReachable((reachable) => heard.push(reachable));
    await postgres.halt();
    try {
      store.save('pushes', { a: 1 });
      store.record({ kind: 'push', tag: 'a' });
      store.save('pushes', { a: 2 });
      await store.flush();
      await expect(store.claim('trigger:q', false)).rejects.toThrow(/database/);
      await sleep(2500);
      expect(store.downSince()).toBeDefined();
    } finally {
      await postgres.resume();
    }
    await eventually(() => store.downSince() === undefined, 'the write after the outage', 15_000);
    const said = logs.entries().filter((entry) => /does not answer/.test(String(entry.msg)));
    expect(said).toHaveLength(1);
    expect(heard).toEqual([false, true]);
    const again = open(url, 'web.2');
    expect((await again.load()).pushes).toEqual({ a: 2 });
    expect((await again.takeInbox()).map((entry) => entry.delivery)).toEqual([
      { kind: 'push', tag: 'a' },
    ]);
    expect(logs.text()).not.toContain(postgres.password);
  }, 40_000);

  it('says once per outage that deliveries were dropped, and how many', async () => {
    const url = await database();
    const logs = captureLogs();
    const store = open(url, 'web.2', 60_000, logs);
    await store.migrate();
    const outage = async (deliveries: number) => {
      await postgres.halt();
      try {
        for (let i = 0; i < deliveries; i++) store.record({ kind: 'push', tag: `t${i}` });
        await store.flush();
      } finally {
        await postgres.resume();
      }
      await eventually(() => store.unwritten().deliveries === 0, 'the write after it', 15_000);
    };
    const said = () =>
      logs
        .entries()
        .map((entry) => String(entry.msg))
        .filter((msg) => /dropped/.test(msg));
    await outage(outboxLimit + 5);
    expect(said()).toEqual([
      expect.stringMatching(
        /^more than 10000 deliveries wait for the database: the oldest are dropped/,
      ),
      '5 delivery(ies) were dropped while the database did not answer',
    ]);
    await outage(outboxLimit + 7);
    expect(said().slice(2)).toEqual([
      expect.stringMatching(/^more than 10000 deliveries wait/),
      '7 delivery(ies) were dropped while the database did not answer',
    ]);
  }, 60_000);

  it('never shows the password of a login the database refuses', async () => {
    const url = (await database()).replace(
      encodeURIComponent(postgres.password),
      'wrong-password-9',
    );
    const logs = captureLogs();
    const store = open(url, 'web.1', 1500, logs);
    const refused = await store.migrate().then(
      () => undefined,
      (err: unknown) => err as Error & { code?: string },
    );
    expect(refused?.code).toBe('28P01');
    expect(`${refused?.message} ${logs.text()}`).not.toMatch(/wrong-password-9/);
  });
});
