import { resolve } from 'node:path';
import { prepareTriggers } from './builds/prepare-triggers';
import { createDispatcher } from './builds/trigger-tag';
import { createSchedule } from './clock/create-schedule';
import { ConfigError } from './config';
import { appVersion } from './process/app-info';
import { createLogger } from './process/create-logger';
import { describeDeployment } from './process/describe-deployment';
import { exitOnCrash } from './lifecycle/exit-on-crash';
import { exitWithConfigError } from './lifecycle/exit-with-config-error';
import { readHandedDown } from './lifecycle/hand-down';
import { loadConfigOrExit } from './lifecycle/load-config-or-exit';
import { stopOnSignals } from './lifecycle/stop-on-signals';
import { realTimers } from './process/timers';
import { checkJournalPath } from './web/check-journal-path';
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
  if (config.webhookSecrets.length === 0) {
    log.warn('WEBHOOK_SECRET is not set: anyone who knows the webhook URL can propagate builds');
  }
  const journalPath = resolve(config.stateFile);
  const unusable = checkJournalPath(journalPath);
  if (unusable !== undefined) {
    exitWithConfigError('web', new ConfigError([`STATE_FILE: ${unusable}`]));
  }
  const triggers = prepareTriggers(config, log);
  const registryPool = createDispatcher(config.retry.timeout);
  const app = createWebApp({
    config,
    log,
    trigger: triggers.trigger,
    target: triggers.target,
    timers: realTimers,
    journal: createJournal(journalPath, log.child({ unit: 'journal' })),
    dispatcher: registryPool,
    version: appVersion(),
  });
  const kickoffs = createSchedule(config.schedule, config.timezone);
  const started = describeDeployment(config, triggers.where, kickoffs.nextRun());
  kickoffs.stop();
  log.info(started.fields, `web started: ${started.text}`);
  stopOnSignals(
    log,
    async (reason) => {
      await app.close();
      await triggers.close();
      await registryPool.close();
      const kept = app.propagator.status().pending.map((entry) => entry.tag);
      log.info(
        { reason, kept },
        `stopped (${reason}): ${kept.length} pending trigger(s) kept in the journal` +
          (kept.length > 0 ? ` (${kept.join(', ')})` : ''),
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
