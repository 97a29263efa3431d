import { basename } from 'node:path';
import { prepareTriggers } from './builds/prepare-triggers';
import { createPool } from './http/create-pool';
import { realClock } from './timing/real-clock';
import { startClock } from './clock/start-clock';
import { createLogger } from './logging/create-logger';
import { announceStart } from './deployment/announce-start';
import { createNotifier } from './notify/create-notifier';
import { exitOnCrash } from './lifecycle/exit-on-crash';
import { readHandedDown } from './lifecycle/hand-down';
import { loadConfigOrExit } from './lifecycle/load-config-or-exit';
import { stopOnSignals } from './lifecycle/stop-on-signals';
import type { Logger } from './logging/create-logger';
import type { SharedStore } from './store/create-pg-store';
import { openSharedStore } from './store/open-shared-store';

/** The clock process: kicks the chain off on schedule. */
function main(): void {
  const config = loadConfigOrExit('clock');
  const log = createLogger('clock', config.logLevel, config.logFormat);
  exitOnCrash(log, 'clock');
  for (const notice of config.notices) log.warn(notice);
  const triggers = prepareTriggers(config, log);
  const notifyPool = createPool(config.retry.timeout);
  const notifier = createNotifier({
    url: config.notify.url,
    events: config.notify.events,
    repository:
      config.graph.file === null
        ? `${config.userName}/${config.repoName}`
        : basename(config.graph.file),
    log: log.child({ unit: 'notify' }),
    retry: config.retry,
    dispatcher: notifyPool,
    secrets: triggers.secrets,
    clock: realClock,
  });
  const shutdown = new AbortController();
  const shared = openSharedStore(config, log, realClock);
  const roots = config.graph.nodes.filter((node) => node.parents.length === 0);
  // Under foreman, a process that ends ends the dyno: stay up even when no kick-off is left.
  const keepAlive = setInterval(() => undefined, 2 ** 30);
  // Before the clock says it is up: a stop signal that came before the handler would kill it
  // unheard. No signal is handled before main() returns, so `job` is set by then.
  stopOnSignals(
    log,
    async (reason) => {
      clearInterval(keepAlive);
      job.stop();
      shutdown.abort();
      await notifier.close();
      await triggers.close();
      await notifyPool.close();
      await shared?.close();
      log.info({ reason }, `stopped (${reason})`);
    },
    { watchPid: readHandedDown(process.env).supervisorPid },
  );
  const job = startClock({
    schedule: config.schedule,
    timezone: config.timezone,
    roots,
    delay: config.propagationDelay,
    concurrency: config.buildConcurrency,
    signal: shutdown.signal,
    log,
    trigger: (tag) => triggers.trigger(tag, shutdown.signal),
    onEvent: (event) => notifier.notify(event),
    ...(shared === undefined
      ? {}
      : { claimTick: (at: Date) => claimTick(shared, at, log, shutdown.signal) }),
  });
  announceStart(log, 'clock', config, triggers.where, job.nextRun());
}

/** ms the clock keeps trying to claim a tick while the database does not answer */
const claimFor = 10 * 60_000;

/**
 * Claims one tick for this dyno: the first clock to claim it kicks off; the others stay still.
 * While the database does not answer, it is tried again for ten minutes, then given up: a
 * kick-off that cannot be claimed is not sent.
 */
async function claimTick(
  store: SharedStore,
  at: Date,
  log: Logger,
  signal: AbortSignal,
): Promise<boolean> {
  const key = `kickoff:${at.toISOString()}`;
  const until = realClock.now() + claimFor;
  for (;;) {
    try {
      // The schema is the web process's to make, but the clock may ask first.
      await store.migrate();
      // A tick's claim never passes to another clock: a second kick-off is worse than none.
      const answer = await store.claim(key, false, false);
      if (answer === 'granted') {
        store.markSent(key);
        return true;
      }
      log.info({ tick: at.toISOString() }, `the kick-off of ${at.toISOString()} is another dyno's`);
      return false;
    } catch {
      if (realClock.now() > until || signal.aborted) {
        log.error(
          { tick: at.toISOString() },
          `the kick-off of ${at.toISOString()} was not sent: the database did not answer for ${claimFor / 60_000} minutes`,
        );
        return false;
      }
      await realClock.sleep(2000, signal).catch(() => undefined);
    }
  }
}

if (require.main === module) main();
