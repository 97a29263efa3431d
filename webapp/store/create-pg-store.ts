import { Pool, type PoolClient } from 'pg';
import { readJournalEntries } from '../chain/create-journal';
import { readKnownParts } from './read-known-parts';
import type { Logger } from '../logging/create-logger';
import { redact } from '../secrets/redact';
import { within } from '../timing/within';
import type { Clock } from '../types';
import { migrateSchema } from './migrate-schema';
import {
  emptyState,
  type ClaimAnswer,
  type InboxDelivery,
  type StatePart,
  type StateStore,
} from './state-store';

/** ms one query may take at most, connecting included: a database that hangs is one that is down */
const longestQuery = 10_000;
/** deliveries kept in memory while the database is unreachable; the oldest go first beyond it */
export const outboxLimit = 10_000;
/** rows one read of the inbox takes */
const inboxBatch = 500;
/** ms between two writes that failed: at least the first, at most the last */
const retryWaits = [1000, 2000, 5000];
/** ms the last write may take at close, and the pool's end: a stop has seconds, not minutes */
const closeBudget = 1500;
/** claims older than this are history: a week of triggers, kick-offs and notifications */
const claimsKept = 7 * 86400_000;

export interface PgStoreDeps {
  url: string;
  log: Logger;
  clock: Clock;
  /** who this process is, in leases and claims: unique per process, the dyno's name in it */
  holder: string;
  /** ms a lease lasts without being renewed, and a claim without being sent */
  leaseTime: number;
}

export interface InboxEntry {
  id: string;
  delivery: InboxDelivery;
  /** when the dyno that took it received it (ms) */
  receivedAt: number;
}

/** The state in PostgreSQL, shared by every dyno: leases, claims and the deliveries' inbox too. */
export interface SharedStore extends StateStore {
  readonly kind: 'postgres';
  readonly holder: string;
  /** Creates or migrates the schema; throws when the database cannot be used. */
  migrate(): Promise<void>;
  /** Takes or renews the planner's lease: whether this process holds it now. Throws when unreachable. */
  holdLease(): Promise<boolean>;
  /** The lease's holder and until when (ms), or undefined when no one ever held it. */
  leaseHolder(): Promise<{ holder: string; until: number } | undefined>;
  /** Gives the lease up, so that another dyno takes over at once. */
  releaseLease(): Promise<void>;
  /**
   * Claims `key` before it is sent. `planner`: only while this process holds the lease.
   * `takeOver` (the default): another's claim never sent passes to this one once it has lasted
   * LEASE_TIME. Throws when the database does not answer: nothing is then sent.
   */
  claim(key: string, planner: boolean, takeOver?: boolean): Promise<ClaimAnswer>;
  /** Keeps a claim being sent from passing to another dyno: whether it is still this one's. */
  touchClaim(key: string): Promise<boolean>;
  /** The claimed `key` was sent: no one takes it over. Kept trying until written. */
  markSent(key: string): void;
  /** Keeps a delivery for the planning dyno: written at once, or when the database is back. */
  record(delivery: InboxDelivery): void;
  /** The planner acted on a delivery itself: kept until its effect is written, for a successor. */
  noteActedOn(delivery: InboxDelivery): void;
  /** This process lost the lease: what it acted on but could not write goes to the inbox. */
  handOver(): void;
  /** What is still to be written: the state's parts, and the deliveries kept or acted on. */
  unwritten(): { parts: string[]; deliveries: number };
  /** The deliveries other dynos recorded and this one did not take yet, oldest first; `inboxBatch` at most. */
  takeInbox(): Promise<InboxEntry[]>;
  readonly inboxBatch: number;
  /** The inbox entries acted on: deleted with the next write of the state. */
  consumed(ids: readonly string[]): void;
  /** The planner's view for the other dynos' pages, written behind. */
  shareStatus(view: unknown): void;
  readStatus(): Promise<{ view: unknown; at: number } | undefined>;
  /** since when (ms) the database has not answered; undefined while it does */
  downSince(): number | undefined;
  /** hears when the database stops answering (`since`, ms), and when it answers again */
  onReachable(listener: (reachable: boolean, since: number) => void): void;
}

/** The password of a connection URL, to keep it out of every message. */
function passwordOf(url: string): string[] {
  try {
    const password = decodeURIComponent(new URL(url).password);
    return password === '' ? [] : [password, new URL(url).password];
  } catch {
    return [];
  }
}

/**
 * The state in PostgreSQL (`url`, with `pg`; TLS as PGSSLMODE or the URL's sslmode say). Writes
 * are taken in memory and written behind, together, in one transaction: while the database is
 * down they wait there, and are written when it answers again.
 */
export function createPgStore(deps: PgStoreDeps): SharedStore {
  const { log, clock, holder } = deps;
  const secrets = passwordOf(deps.url);
  // A renewal that takes longer than a third of the lease would lose a healthy planner its lease.
  const queryTimeout = Math.min(longestQuery, Math.max(1000, Math.floor(deps.leaseTime / 3)));
  const pool = new Pool({
    connectionString: deps.url,
    max: 4,
    connectionTimeoutMillis: queryTimeout,
    query_timeout: queryTimeout,
    statement_timeout: queryTimeout,
    idleTimeoutMillis: 30_000,
    application_name: 'dockerhub-trigger-propagate',
  });
  // A connection the server closes while idle (a restart, a failover) is an error on the pool:
  // unheard, it would end the process. The next query connects anew.
  pool.on('error', (err) => fault(err));

  const dirty = new Map<StatePart | 'status', unknown>();
  let outbox: { delivery: InboxDelivery; receivedAt: number }[] = [];
  /** the outbox's deliveries, as JSON: a repeat of one is not kept twice */
  const waiting = new Set<string>();
  let actedOn: InboxDelivery[] = [];
  let toDelete: string[] = [];
  const taken = new Set<string>();
  const unsent = new Set<string>();
  let writing: Promise<void> | undefined;
  let again = false;
  let retryTimer: unknown;
  let failures = 0;
  let downSince: number | undefined;
  let dropped = 0;
  let closed = false;
  const listeners: ((reachable: boolean, since: number) => void)[] = [];
  let purgedAt = Number.NEGATIVE_INFINITY;
  let inFlight: { parts: string[]; deliveries: number } = { parts: [], deliveries: 0 };

  /** Deliveries dropped since the last write that went through: said at the first of them. */
  const drop = (count: number) => {
    if (dropped === 0) {
      log.warn(
        `more than ${outboxLimit} deliveries wait for the database: the oldest are dropped; reconciliation (RECONCILE_INTERVAL) repairs what it can`,
      );
    }
    dropped += count;
  };
  const describe = (err: unknown) =>
    redact(err instanceof Error ? err.message : String(err), secrets);

  const fault = (err: unknown) => {
    if (downSince !== undefined) return;
    downSince = clock.now();
    log.error(
      { reason: describe(err) },
      `the database does not answer (${describe(err)}): deliveries are kept in memory, and nothing is sent until it is back`,
    );
    for (const listener of listeners) listener(false, downSince);
  };
  const answered = () => {
    if (downSince === undefined) return;
    const since = downSince;
    downSince = undefined;
    log.info(
      { downFor: Math.round((clock.now() - since) / 1000) },
      `the database answers again after ${Math.round((clock.now() - since) / 1000)} s`,
    );
    for (const listener of listeners) listener(true, since);
  };

  /**
   * Runs `work` on one connection. A failure to reach the database marks it down (said once);
   * one the database gives (a refused query) is said as that. Either is thrown on.
   */
  const withClient = async <T>(work: (client: PoolClient) => Promise<T>): Promise<T> => {
    let client: PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      if (isOutage(err)) fault(err);
      throw Object.assign(new Error(`cannot connect to the database: ${describe(err)}`), {
        code: codeOf(err),
      });
    }
    // While a connection is checked out, the pool does not listen for its errors: a connection
    // cut mid-query (a restart of the server) would be an unheard error that ends the process.
    // The query in flight fails with it, and says so.
    const onError = () => undefined;
    client.on('error', onError);
    try {
      const result = await work(client);
      client.off('error', onError);
      client.release();
      answered();
      return result;
    } catch (err) {
      client.off('error', onError);
      client.release(true);
      if (isOutage(err)) fault(err);
      else log.error({ reason: describe(err) }, `the database refused a query: ${describe(err)}`);
      throw Object.assign(new Error(`the database refused a query: ${describe(err)}`), {
        code: codeOf(err),
      });
    }
  };

  const writeOnce = async () => {
    const state = [...dirty];
    const rows = outbox;
    waiting.clear();
    const deleting = toDelete;
    const marking = [...unsent];
    const acted = actedOn;
    dirty.clear();
    outbox = [];
    toDelete = [];
    actedOn = [];
    inFlight = {
      parts: state.map(([part]) => part).filter((part) => part !== 'status'),
      deliveries: rows.length + acted.length,
    };
    let holding = false;
    try {
      await withClient(async (client) => {
        await client.query('BEGIN');
        try {
          // Only the lease's holder writes the state, and what it acted on: a planner that lost
          // the lease, and has not heard yet, must not write over its successor's.
          if (state.length > 0 || deleting.length > 0) {
            const lease = await client.query(
              `SELECT 1 FROM propagate_leases
               WHERE name = 'planner' AND holder = $1 AND expires_at > now() FOR SHARE`,
              [holder],
            );
            holding = lease.rows.length === 1;
          }
          for (const [part, value] of holding ? state : []) {
            await client.query(
              `INSERT INTO propagate_state (part, value, updated_at) VALUES ($1, $2, now())
               ON CONFLICT (part) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
              [part, JSON.stringify(value)],
            );
          }
          if (rows.length > 0) {
            // One statement for the whole batch: a flood of webhooks is a few writes, not one each.
            await client.query(
              `INSERT INTO propagate_inbox (delivery, origin, received_at)
               SELECT delivery, $2, to_timestamp(at / 1000.0)
               FROM unnest($1::jsonb[], $3::float8[]) AS kept (delivery, at)`,
              [
                rows.map((row) => JSON.stringify(row.delivery)),
                holder,
                rows.map((row) => row.receivedAt),
              ],
            );
          }
          if (holding && deleting.length > 0) {
            await client.query('DELETE FROM propagate_inbox WHERE id = ANY($1::bigint[])', [
              deleting,
            ]);
          }
          if (marking.length > 0) {
            await client.query(
              'UPDATE propagate_claims SET sent_at = now() WHERE key = ANY($1) AND holder = $2',
              [marking, holder],
            );
          }
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
      });
      for (const key of marking) unsent.delete(key);
      failures = 0;
      if (dropped > 0) {
        log.warn(
          { dropped },
          `${dropped} delivery(ies) were dropped while the database did not answer`,
        );
        dropped = 0;
      }
      if (holding || (state.length === 0 && deleting.length === 0)) {
        for (const id of deleting) taken.delete(id);
      } else {
        // Not the holder (its lease ran out): kept until it renews, or hands them over.
        for (const [part, value] of state) if (!dirty.has(part)) dirty.set(part, value);
        toDelete = [...deleting, ...toDelete];
        actedOn = [...acted, ...actedOn];
      }
    } catch {
      // Newer values saved meanwhile win; the rest waits for the next write.
      for (const [part, value] of state) if (!dirty.has(part)) dirty.set(part, value);
      outbox = [...rows, ...outbox];
      for (const row of outbox) waiting.add(JSON.stringify(row.delivery));
      if (outbox.length > outboxLimit) {
        drop(outbox.length - outboxLimit);
        outbox = outbox.slice(outbox.length - outboxLimit);
      }
      toDelete = [...deleting, ...toDelete];
      actedOn = [...acted, ...actedOn];
      failures += 1;
      if (!closed && retryTimer === undefined) {
        // Never more than a third of the lease: a planner back from an outage writes what it
        // sent before a successor could take those claims over.
        const wait = Math.min(
          retryWaits[Math.min(failures, retryWaits.length) - 1] as number,
          Math.max(250, Math.floor(deps.leaseTime / 3)),
        );
        retryTimer = clock.setTimeout(() => {
          retryTimer = undefined;
          void write();
        }, wait);
      }
    }
    settled();
  };

  // What a write in flight carries, until it is answered: not written yet either.
  function settled() {
    inFlight = { parts: [], deliveries: 0 };
  }
  const pendingWrite = () =>
    dirty.size > 0 || outbox.length > 0 || toDelete.length > 0 || unsent.size > 0;

  /** One write at a time; what comes while one runs is written by the next. */
  const write = (): Promise<void> => {
    if (writing !== undefined) {
      again = true;
      return writing;
    }
    if (!pendingWrite()) return Promise.resolve();
    writing = (async () => {
      do {
        again = false;
        await writeOnce();
      } while (again && failures === 0 && pendingWrite());
    })().finally(() => {
      writing = undefined;
    });
    return writing;
  };
  // Written in the next turn: what one delivery changes goes in one transaction.
  let soon: unknown;
  const writeSoon = () => {
    if (soon !== undefined || retryTimer !== undefined || closed) return;
    soon = clock.setTimeout(() => {
      soon = undefined;
      void write();
    }, 0);
  };

  const store: SharedStore = {
    kind: 'postgres',
    holder,
    async migrate() {
      const steps = await withClient((client) => migrateSchema(client));
      if (steps > 0) log.info({ steps }, `the database's schema is made (${steps} step(s))`);
    },
    async load() {
      const state = emptyState();
      const found = await withClient((client) =>
        client.query<{ part: string; value: unknown }>(
          "SELECT part, value FROM propagate_state WHERE part IN ('journal', 'pushes', 'upstream', 'digests')",
        ),
      );
      const { journal, ...rest } = Object.fromEntries(
        found.rows.map((row) => [row.part, row.value]),
      ) as Record<string, unknown>;
      const known = readKnownParts(rest);
      if (known === undefined) {
        log.error('the state in the database is not what this release writes; starting without it');
        return state;
      }
      Object.assign(state, known);
      if (journal !== undefined) {
        const entries = readJournalEntries(journal);
        if (entries === undefined)
          log.error('the journal in the database is damaged; starting without it');
        else state.journal = entries;
      }
      return state;
    },
    save(part, value) {
      dirty.set(part, value);
      writeSoon();
    },
    shareStatus(view) {
      dirty.set('status', view);
      writeSoon();
    },
    async readStatus() {
      const found = await withClient((client) =>
        client.query<{ value: unknown; at: Date }>(
          "SELECT value, updated_at AS at FROM propagate_state WHERE part = 'status'",
        ),
      );
      const row = found.rows[0];
      return row === undefined ? undefined : { view: row.value, at: row.at.getTime() };
    },
    async flush() {
      if (soon !== undefined) {
        clock.clearTimeout(soon);
        soon = undefined;
      }
      await write();
    },
    async holdLease() {
      const found = await withClient((client) =>
        client.query(
          `INSERT INTO propagate_leases (name, holder, expires_at)
           VALUES ('planner', $1, now() + $2 * interval '1 millisecond')
           ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
           WHERE propagate_leases.holder = EXCLUDED.holder OR propagate_leases.expires_at < now()
           RETURNING holder`,
          [holder, deps.leaseTime],
        ),
      );
      const holds = found.rows.length === 1;
      if (holds && clock.now() - purgedAt > 3600_000) {
        purgedAt = clock.now();
        // Apart from the renewal: a purge that waits or fails is no lost lease.
        void withClient((client) =>
          client.query(
            "DELETE FROM propagate_claims WHERE claimed_at < now() - $1 * interval '1 millisecond'",
            [claimsKept],
          ),
        ).catch(() => undefined);
      }
      return holds;
    },
    async leaseHolder() {
      const found = await withClient((client) =>
        client.query<{ holder: string; until: Date }>(
          "SELECT holder, expires_at AS until FROM propagate_leases WHERE name = 'planner'",
        ),
      );
      const row = found.rows[0];
      return row === undefined ? undefined : { holder: row.holder, until: row.until.getTime() };
    },
    async releaseLease() {
      await withClient((client) =>
        client.query(
          "UPDATE propagate_leases SET expires_at = now() - interval '1 second' WHERE name = 'planner' AND holder = $1",
          [holder],
        ),
      );
    },
    async claim(key, planner, takeOver = true) {
      // Sent by this process, and not yet written so: no other answer is true.
      if (unsent.has(key)) return 'sent';
      return withClient(async (client) => {
        // A claim that was never sent passes to whoever claims it after its holder's lease ran
        // out: the holder died, or lost the database, before it could send it.
        const granted = await client.query(
          `INSERT INTO propagate_claims (key, holder) SELECT $1, $2
           WHERE NOT $4::boolean OR EXISTS (
             SELECT 1 FROM propagate_leases
             WHERE name = 'planner' AND holder = $2 AND expires_at > now())
           ON CONFLICT (key) DO UPDATE SET holder = EXCLUDED.holder, claimed_at = now()
           WHERE propagate_claims.sent_at IS NULL AND (propagate_claims.holder = EXCLUDED.holder
             OR ($5::boolean AND propagate_claims.claimed_at < now() - $3 * interval '1 millisecond'))
           RETURNING key`,
          [key, holder, deps.leaseTime, planner, takeOver],
        );
        if (granted.rows.length === 1) return 'granted';
        const found = await client.query<{ sent: boolean }>(
          'SELECT sent_at IS NOT NULL AS sent FROM propagate_claims WHERE key = $1',
          [key],
        );
        return found.rows[0]?.sent === true ? 'sent' : 'busy';
      });
    },
    async touchClaim(key) {
      const found = await withClient((client) =>
        client.query(
          'UPDATE propagate_claims SET claimed_at = now() WHERE key = $1 AND holder = $2 AND sent_at IS NULL RETURNING key',
          [key, holder],
        ),
      );
      return found.rows.length === 1;
    },
    markSent(key) {
      unsent.add(key);
      writeSoon();
    },
    record(delivery) {
      // A delivery the same as one still waiting to be written is its repeat (Docker Hub sends
      // several per push): one row says it.
      const text = JSON.stringify(delivery);
      if (waiting.has(text)) return;
      waiting.add(text);
      outbox.push({ delivery, receivedAt: clock.now() });
      if (outbox.length > outboxLimit) {
        waiting.delete(JSON.stringify(outbox.shift()?.delivery));
        drop(1);
      }
      writeSoon();
    },
    noteActedOn(delivery) {
      actedOn.push(delivery);
      if (actedOn.length > outboxLimit) {
        actedOn.shift();
        drop(1);
      }
    },
    handOver() {
      // Its state is its successor's now: what it acted on goes to it as deliveries instead.
      dirty.delete('journal');
      dirty.delete('pushes');
      dirty.delete('upstream');
      dirty.delete('digests');
      dirty.delete('status');
      toDelete = [];
      taken.clear();
      for (const delivery of actedOn) outbox.push({ delivery, receivedAt: clock.now() });
      actedOn = [];
      writeSoon();
    },
    unwritten: () => ({
      parts: [
        ...new Set([...inFlight.parts, ...[...dirty.keys()].filter((part) => part !== 'status')]),
      ],
      deliveries: inFlight.deliveries + outbox.length + actedOn.length,
    }),
    inboxBatch,
    async takeInbox() {
      const found = await withClient((client) =>
        client.query<{ id: string; delivery: InboxDelivery; at: Date }>(
          `SELECT id::text, delivery, received_at AS at FROM propagate_inbox
           WHERE NOT (id = ANY($1::bigint[])) ORDER BY id LIMIT ${inboxBatch}`,
          [[...taken]],
        ),
      );
      for (const row of found.rows) taken.add(row.id);
      return found.rows.map((row) => ({
        id: row.id,
        delivery: row.delivery,
        receivedAt: row.at.getTime(),
      }));
    },
    consumed(ids) {
      toDelete.push(...ids);
      writeSoon();
    },
    downSince: () => downSince,
    onReachable: (listener) => listeners.push(listener),
    async close() {
      closed = true;
      if (soon !== undefined) clock.clearTimeout(soon);
      if (retryTimer !== undefined) clock.clearTimeout(retryTimer);
      soon = undefined;
      retryTimer = undefined;
      failures = 0;
      // One last write of what is left, if the database answers soon: a stop has seconds.
      await within(
        closeBudget,
        write().catch(() => undefined),
      );
      const left = store.unwritten();
      if (left.parts.length > 0 || left.deliveries > 0) {
        log.error(
          left,
          `stopped without writing to the database: ${left.parts.length > 0 ? left.parts.join(', ') : 'no state'}` +
            ` and ${left.deliveries} delivery(ies) are lost; reconciliation repairs what it can`,
        );
      }
      await within(
        closeBudget,
        pool.end().catch(() => undefined),
      );
    },
  };
  return store;
}

/** PostgreSQL's SQLSTATE, or the system's error code (ECONNREFUSED), when the error has one. */
function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Whether an error says the database cannot be reached now (down, restarting, out of
 * connections, too slow), which a wait mends; not one that it refused what was asked (a login,
 * a right, a setting), which no wait mends.
 */
export function isOutage(err: unknown): boolean {
  const code = codeOf(err);
  if (code !== undefined && /^[0-9A-Z]{5}$/.test(code)) {
    // 08: the connection; 53: out of room (disk, memory, connections); 25006: read-only, as a
    // host makes a database over its limits; 57P0x: shut down, starting; 57014: timed out.
    return (
      code.startsWith('08') ||
      code.startsWith('53') ||
      ['25006', '57P01', '57P02', '57P03', '57014'].includes(code)
    );
  }
  if (code !== undefined) {
    return [
      'ECONNREFUSED',
      'ECONNRESET',
      'ETIMEDOUT',
      'EHOSTUNREACH',
      'ENETUNREACH',
      'EAI_AGAIN',
      'ENOTFOUND',
      'EPIPE',
    ].includes(code);
  }
  const message = err instanceof Error ? err.message : String(err);
  return /timeout|timed out|terminated|ended unexpectedly|Connection terminated/i.test(message);
}
