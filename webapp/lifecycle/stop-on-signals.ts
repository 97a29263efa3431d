import type { Logger } from '../logging/create-logger';

export interface StopOptions {
  /** stop, too, when this process is gone (the supervisor, SIGKILLed) */
  watchPid?: number | undefined;
}

/**
 * ms a stop may take before the process exits anyway: less than the 10 s that the supervisor
 * gives the dyno's processes before it kills them, so that a stuck stop is told in the process's
 * own line, and far below the 30 s after which Heroku kills every process.
 */
const stopDeadline = 8000;
/** ms between two looks at the supervisor, and what a stop may take once it is gone */
const watchEvery = 500;
const orphanGrace = 1000;

/**
 * SIGTERM and SIGINT run `stop` once, then exit 0; a stop that hangs past `stopDeadline` exits
 * at once. Heroku sends SIGTERM to every process and SIGKILLs 30 s later:
 * https://devcenter.heroku.com/articles/dynos#shutdown. A second signal exits at once, unless
 * the process runs under the supervisor: then the same stop comes from it and from foreman too.
 * With `watchPid`, the process also stops when that process has gone, within about 1.5 s.
 */
export function stopOnSignals(
  log: Logger,
  stop: (reason: string) => Promise<void>,
  options: StopOptions = {},
): void {
  const { watchPid } = options;
  let stopping = false;
  const stopOnce = (reason: string, deadline: number, fields: object) => {
    stopping = true;
    log.info(fields, `stopping (${reason})`);
    setTimeout(() => {
      log.error('stopping took too long: exiting now');
      process.exit(1);
    }, deadline).unref();
    stop(reason).then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping && watchPid !== undefined) return;
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopOnce(signal, stopDeadline, { signal });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  if (watchPid === undefined) return;
  const watch = setInterval(() => {
    if (stopping) return clearInterval(watch);
    if (isAlive(watchPid)) return;
    clearInterval(watch);
    stopOnce(`the supervisor, pid ${watchPid}, is gone`, orphanGrace, { supervisor: watchPid });
  }, watchEvery);
  watch.unref();
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
