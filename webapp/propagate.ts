import { resolve } from 'node:path';
import { checkJournalPath } from './chain/check-journal-path';
import { ConfigError } from './config';
import { announceStart } from './deployment/announce-start';
import { exitOnCrash } from './lifecycle/exit-on-crash';
import { exitWithConfigError } from './lifecycle/exit-with-config-error';
import { readHandedDown } from './lifecycle/hand-down';
import { loadConfigOrExit } from './lifecycle/load-config-or-exit';
import { stopOnSignals } from './lifecycle/stop-on-signals';
import { createLogger } from './logging/create-logger';
import { createWebApp } from './web/create-web-app';
import { openSharedStore } from './store/open-shared-store';
import { isOutage, type SharedStore } from './store/create-pg-store';
import { realClock } from './timing/real-clock';

/** The web process: the webhook that propagates each push to the next tag. */
async function main(): Promise<void> {
  const config = loadConfigOrExit('web');
  const log = createLogger('web', config.logLevel, config.logFormat);
  exitOnCrash(log, 'web');
  for (const notice of config.notices) log.warn(notice);
  if (config.webhookSecrets.length === 0) {
    log.warn('WEBHOOK_SECRET is not set: anyone who knows the webhook URL can propagate builds');
  }
  const shared = openSharedStore(config, log, realClock);
  if (shared === undefined) {
    const unusable = checkJournalPath(resolve(config.stateFile));
    if (unusable !== undefined) {
      exitWithConfigError('web', new ConfigError([`STATE_FILE: ${unusable}`]));
    }
  }
  if (shared !== undefined) await checkDatabase(shared);
  const app = createWebApp(config, log, shared === undefined ? {} : { store: shared });
  announceStart(log, 'web', config, app.where, app.nextKickoff());
  stopOnSignals(
    log,
    async (reason) => {
      const planner = app.planner();
      await app.close();
      if (planner === undefined) {
        log.info({ reason }, `stopped (${reason}): this dyno did not plan`);
        return;
      }
      const chain = planner.propagator.status();
      const kept = chain.pending.map((entry) => entry.tag);
      const awaited = chain.awaiting.map((entry) => entry.tag);
      // Only what was written is kept: the store has said what it could not write.
      const where =
        shared === undefined
          ? 'in the journal'
          : shared.unwritten().parts.length === 0
            ? 'in the database'
            : 'in memory only (the database did not answer)';
      log.info(
        { reason, kept, awaited },
        `stopped (${reason}): ${kept.length} pending trigger(s) kept ${where}` +
          (kept.length > 0 ? ` (${kept.join(', ')})` : '') +
          (awaited.length > 0
            ? `, and ${awaited.length} build(s) still awaited (${awaited.join(', ')})`
            : ''),
      );
    },
    { watchPid: readHandedDown(process.env).supervisorPid },
  );
  app.start();
  await app.server.listen({ port: config.port, host: '0.0.0.0' });
  log.info(
    { port: config.port, route: config.propagationRoute },
    `listening on port ${config.port}`,
  );
}

/**
 * A database that refuses the app (a login, a database it does not have, no right to make the
 * schema, TLS it does not speak) is a start error; one that does not answer yet is not: the
 * dyno takes deliveries meanwhile, and plans once it answers.
 */
async function checkDatabase(store: SharedStore): Promise<void> {
  try {
    await store.migrate();
  } catch (err) {
    if (!isOutage(err)) {
      await store.close().catch(() => undefined);
      exitWithConfigError('web', new ConfigError([`DATABASE_URL: ${(err as Error).message}`]));
    }
  }
}

if (require.main === module) void main();
