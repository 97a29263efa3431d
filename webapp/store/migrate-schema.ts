import type { PoolClient } from 'pg';

/** Every step the schema took, in order: a step, once released, is never edited. */
const steps: readonly string[] = [
  `CREATE TABLE propagate_state (
     part text PRIMARY KEY,
     value jsonb NOT NULL,
     updated_at timestamptz NOT NULL DEFAULT now()
   );
   CREATE TABLE propagate_leases (
     name text PRIMARY KEY,
     holder text NOT NULL,
     expires_at timestamptz NOT NULL
   );
   CREATE TABLE propagate_claims (
     key text PRIMARY KEY,
     holder text NOT NULL,
     claimed_at timestamptz NOT NULL DEFAULT now(),
     sent_at timestamptz
   );
   CREATE INDEX propagate_claims_claimed_at ON propagate_claims (claimed_at);
   CREATE TABLE propagate_inbox (
     id bigserial PRIMARY KEY,
     delivery jsonb NOT NULL,
     origin text NOT NULL,
     received_at timestamptz NOT NULL DEFAULT now()
   );`,
];

/** The version this release of the app writes. */
export const schemaVersion = steps.length;

// Any number that this app alone takes: two dynos that start together migrate one after the other.
const migrationLock = 0x70726f70;

/**
 * Brings the schema to `schemaVersion`, in one transaction under an advisory lock: a second
 * dyno waits, then finds nothing to do. A database that a newer release migrated is refused,
 * since this release would not know what the new steps mean. Returns the steps it took.
 */
export async function migrateSchema(client: PoolClient): Promise<number> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [migrationLock]);
    await client.query('CREATE TABLE IF NOT EXISTS propagate_schema (version integer NOT NULL)');
    const found = await client.query<{ version: number }>(
      'SELECT version FROM propagate_schema LIMIT 1',
    );
    const version = found.rows[0]?.version ?? 0;
    if (version > schemaVersion) {
      throw new Error(
        `the database's schema is version ${version}, newer than this release knows (${schemaVersion}): deploy the newer release, or another database`,
      );
    }
    for (const step of steps.slice(version)) await client.query(step);
    if (found.rows.length === 0) {
      await client.query('INSERT INTO propagate_schema (version) VALUES ($1)', [schemaVersion]);
    } else if (version < schemaVersion) {
      await client.query('UPDATE propagate_schema SET version = $1', [schemaVersion]);
    }
    await client.query('COMMIT');
    return schemaVersion - version;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
