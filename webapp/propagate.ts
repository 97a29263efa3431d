import { resolve } from 'node:path';
import { createSchedule } from './cron';
import { createJournal } from './journal';
import { appVersion, exitOnCrash, loadConfigOrExit, stopOnSignals } from './lifecycle';
import { createLogger } from './logger';
import { createPropagator } from './propagator';
import { buildServer } from './server';
import { realTimers } from './timers';
import { prepareTriggers } from './trigger';

/** The web process: the webhook that propagates each push to the next tag. */
async function main(): Promise<void> {
  const config = loadConfigOrExit('web');
  const log = createLogger('web', config.logLevel, undefined, config.logFormat);
  exitOnCrash(log, 'web');
  if (config.dryRun) {
    log.warn(`DRY RUN: ${config.tokenVariable} is not set; triggers are logged, not sent`);
  }
  if (config.webhookSecret === undefined) {
    log.warn('WEBHOOK_SECRET is not set: anyone who knows the webhook URL can propagate builds');
  }
  const triggers = prepareTriggers(config, log);
  const firstTag = config.tagSequence[0] as string;
  const propagator = createPropagator({
    tags: config.tagSequence,
    delay: config.propagationDelay,
    log: log.child({ unit: 'chain' }),
    trigger: triggers.trigger,
    timers: realTimers,
    journal: createJournal(resolve(config.stateFile), log.child({ unit: 'journal' })),
    stallTimeout: config.dryRun ? 0 : config.stallTimeout,
    stallRetrigger: config.stallRetrigger,
  });
  // The same schedule as the clock's, to expect the first tag's push after each kick-off.
  const kickoffs = createSchedule(config.schedule, config.timezone, async () => {
    if (!config.dryRun) propagator.expect(firstTag);
  });
  const app = buildServer({
    config,
    log,
    propagator,
    nextKickoff: () => kickoffs.nextRun(),
    version: appVersion(),
  });
  stopOnSignals(log, async () => {
    kickoffs.stop();
    await app.close();
    await propagator.close();
    await triggers.close();
  });
  propagator.resume();
  await app.listen({ port: config.port, host: '0.0.0.0' });
  log.info(
    { port: config.port, route: config.propagationRoute },
    `listening on port ${config.port}`,
  );
}

if (require.main === module) void main();
