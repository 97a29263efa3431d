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
  });
  announceStart(log, 'clock', config, triggers.where, job.nextRun());
}

if (require.main === module) main();
