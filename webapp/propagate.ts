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

/** The web process: the webhook that propagates each push to the next tag. */
async function main(): Promise<void> {
  const config = loadConfigOrExit('web');
  const log = createLogger('web', config.logLevel, config.logFormat);
  exitOnCrash(log, 'web');
  for (const notice of config.notices) log.warn(notice);
  if (config.webhookSecrets.length === 0) {
    log.warn('WEBHOOK_SECRET is not set: anyone who knows the webhook URL can propagate builds');
  }
  const journalPath = resolve(config.stateFile);
  const unusable = checkJournalPath(journalPath);
  if (unusable !== undefined) {
    exitWithConfigError('web', new ConfigError([`STATE_FILE: ${unusable}`]));
  }
  const app = createWebApp(config, log);
  announceStart(log, 'web', config, app.where, app.nextKickoff());
  stopOnSignals(
    log,
    async (reason) => {
      await app.close();
      const chain = app.propagator.status();
      const kept = chain.pending.map((entry) => entry.tag);
      const awaited = chain.awaiting.map((entry) => entry.tag);
      log.info(
        { reason, kept, awaited },
        `stopped (${reason}): ${kept.length} pending trigger(s) kept in the journal` +
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

if (require.main === module) void main();
