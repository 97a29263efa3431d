import { resolve } from 'node:path';
import { prepareTriggers } from './builds/prepare-triggers';
import { appVersion } from './process/app-info';
import { createLogger } from './process/create-logger';
import { exitOnCrash, loadConfigOrExit, stopOnSignals } from './process/lifecycle';
import { realTimers } from './process/timers';
import { createJournal } from './web/create-journal';
import { createWebApp } from './web/create-web-app';

/** The web process: the webhook that propagates each push to the next tag. */
async function main(): Promise<void> {
  const config = loadConfigOrExit('web');
  const log = createLogger('web', config.logLevel, undefined, config.logFormat);
  exitOnCrash(log, 'web');
  if (config.dryRun) {
    log.warn(`DRY RUN: ${config.tokenVariable} is not set; triggers are logged, not sent`);
  }
  for (const notice of config.notices) log.warn(notice);
  if (config.webhookSecret === undefined) {
    log.warn('WEBHOOK_SECRET is not set: anyone who knows the webhook URL can propagate builds');
  }
  const triggers = prepareTriggers(config, log);
  const app = createWebApp({
    config,
    log,
    trigger: triggers.trigger,
    timers: realTimers,
    journal: createJournal(resolve(config.stateFile), log.child({ unit: 'journal' })),
    version: appVersion(),
  });
  stopOnSignals(log, async () => {
    await app.close();
    await triggers.close();
  });
  app.start();
  await app.server.listen({ port: config.port, host: '0.0.0.0' });
  log.info(
    { port: config.port, route: config.propagationRoute },
    `listening on port ${config.port}`,
  );
}

if (require.main === module) void main();
