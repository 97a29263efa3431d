import type { FastifyInstance } from 'fastify';
import type { Propagator } from '../chain/create-propagator';
import type { Config } from '../config';
import type { Logger } from '../logging/create-logger';
import { realClock } from '../timing/real-clock';
import { buildServer } from './build-server';
import { createPlanner, type PlannerParts } from './create-planner';
import { sharePlanning, type PlanningRole } from './share-planning';
import type { SharedStore } from '../store/create-pg-store';
import type { StateStore } from '../store/state-store';

/** What a test or the bench may put in place of the real thing; the rest comes from config. */
export interface WebAppParts extends PlannerParts {
  /** ms a whole request may take (the server's default when left out) */
  requestTimeout?: number;
}

/**
 * The web process: its server, and what it plans through (`start` resumes what is owed and
 * starts the registry's reads, or tries for the lease; `close` stops taking deliveries, every
 * timer and every request, and what is owed stays in the store).
 */
export interface WebApp extends Pick<
  PlanningRole,
  'planner' | 'where' | 'nextKickoff' | 'start' | 'clockKickedOff' | 'close'
> {
  server: FastifyInstance;
  /** the chain, while this process plans (always, without a database); throws on a standby dyno */
  readonly propagator: Propagator;
}

/**
 * The web process, not yet listening: the webhook's server over the planner. Its state is in
 * the file at STATE_FILE, or in `parts.store`; with a database every dyno takes deliveries and
 * the one that holds the lease plans. The one builder of it: the process, the tests and the
 * bench call it, replacing only `parts`.
 */
export function createWebApp(config: Config, log: Logger, parts: WebAppParts = {}): WebApp {
  const store = parts.store;
  const role = isShared(store)
    ? sharePlanning(config, log, store, parts)
    : planAlone(config, log, parts);
  const server = buildServer({
    config,
    log,
    acceptPush: role.acceptPush,
    status: role.status,
    clock: parts.clock ?? realClock,
    deliverGitHub: role.deliverGitHub,
    ...(parts.requestTimeout === undefined ? {} : { requestTimeout: parts.requestTimeout }),
  });
  return {
    server,
    get propagator() {
      const planner = role.planner();
      if (planner === undefined) throw new Error('another dyno plans: this one has no chain');
      return planner.propagator;
    },
    planner: role.planner,
    where: role.where,
    nextKickoff: role.nextKickoff,
    clockKickedOff: role.clockKickedOff,
    start: role.start,
    async close() {
      await Promise.all([server.close(), role.close()]);
    },
  };
}

const isShared = (store: StateStore | undefined): store is SharedStore =>
  store?.kind === 'postgres';

/** The one process that plans: every delivery goes to its planner. */
function planAlone(config: Config, log: Logger, parts: PlannerParts): PlanningRole {
  const planner = createPlanner(config, log, parts);
  return {
    acceptPush: (tag, pushedAt) => planner.propagator.accept(tag, pushedAt),
    deliverGitHub: planner.deliverGitHub,
    status: planner.status,
    planner: () => planner,
    where: planner.where,
    nextKickoff: planner.nextKickoff,
    start: planner.start,
    clockKickedOff: planner.clockKickedOff,
    close: planner.close,
  };
}
