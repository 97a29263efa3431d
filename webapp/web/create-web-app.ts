import type { FastifyInstance } from 'fastify';
import { createSchedule } from '../clock/create-schedule';
import { longestPropagationDelay, type Config } from '../config';
import type { Logger } from '../process/create-logger';
import type { Timers, TriggerBuild } from '../types';
import { buildServer } from './build-server';
import type { Journal } from './create-journal';
import { createPropagator, type Propagator } from './create-propagator';

export interface WebAppDeps {
  config: Config;
  /** the process's root logger */
  log: Logger;
  trigger: TriggerBuild;
  timers: Timers;
  journal: Journal;
  version: string;
  /** ms a whole request may take (the server's default when left out) */
  requestTimeout?: number;
}

export interface WebApp {
  server: FastifyInstance;
  propagator: Propagator;
  /** Resumes what the journal says is owed and follows the clock's kick-offs. */
  start(): void;
  /** Stops taking deliveries and every timer; what is owed stays in the journal. */
  close(): Promise<void>;
}

/** The web process's app, not yet listening: the webhook's server over the chain. */
export function createWebApp(deps: WebAppDeps): WebApp {
  const { config, log, timers } = deps;
  const firstTag = config.tagSequence[0] as string;
  const propagator = createPropagator({
    tags: config.tagSequence,
    delay: config.propagationDelay,
    longestDelay: longestPropagationDelay * 1000,
    log: log.child({ unit: 'chain' }),
    trigger: deps.trigger,
    timers,
    journal: deps.journal,
    // A dry run sends nothing, so no push can be owed.
    stallTimeout: config.dryRun ? 0 : config.stallTimeout,
    stallRetrigger: config.stallRetrigger,
  });
  const kickoffs = createSchedule(config.schedule, config.timezone);
  let following: { stop(): void } | undefined;
  const server = buildServer({
    config,
    log,
    propagator,
    nextKickoff: () => kickoffs.nextRun(new Date(timers.now())),
    version: deps.version,
    ...(deps.requestTimeout === undefined ? {} : { requestTimeout: deps.requestTimeout }),
  });
  return {
    server,
    propagator,
    start() {
      propagator.resume();
      // The clock's own schedule: after each of its kick-offs, the first tag's push is awaited.
      if (!config.dryRun && following === undefined) {
        following = createSchedule(config.schedule, config.timezone, async () =>
          propagator.expect(firstTag),
        );
      }
    },
    async close() {
      following?.stop();
      await server.close();
      await propagator.close();
    },
  };
}
