import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Config } from '../config';
import type { Logger } from '../logging/create-logger';
import type { Clock } from '../types';
import { createPgStore, type SharedStore } from './create-pg-store';

/**
 * The database store when DATABASE_URL is set, named after this dyno and process so that its
 * leases and claims are its own; undefined without it.
 */
export function openSharedStore(
  config: Config,
  log: Logger,
  clock: Clock,
  env: Record<string, string | undefined> = process.env,
): SharedStore | undefined {
  if (config.databaseUrl === undefined) return undefined;
  // Heroku names the dyno (web.1); elsewhere the host does. The rest tells two processes apart.
  const holder = `${env.DYNO ?? hostname()}/${process.pid}-${randomBytes(3).toString('hex')}`;
  return createPgStore({
    url: config.databaseUrl,
    log: log.child({ unit: 'database' }),
    clock,
    holder,
    leaseTime: config.leaseTime,
  });
}
