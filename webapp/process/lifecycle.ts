import { ConfigError, loadConfig, type Config } from '../config';
import type { Logger } from '../logging/create-logger';
import { supervisorPidVariable, supervisorPortVariable } from './supervise';

/**
 * The configuration, or exit 1 with the one message that says what is wrong (no stack). Under
 * the supervisor, `PORT` is the one it was given: foreman's own is a stand-in.
 */
export function loadConfigOrExit(processName: string): Config {
  const port = process.env[supervisorPortVariable];
  try {
    return loadConfig(port === undefined ? process.env : { ...process.env, PORT: port });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${processName}: ${err.message}\n`);
    process.exit(1);
  }
}

/** The supervisor's pid, when this process runs under it. */
export function supervisorPid(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const pid = Number(env[supervisorPidVariable]);
  return Number.isInteger(pid) && pid > 1 ? pid : undefined;
}

export interface StopOptions {
  /** ms a stop may take before the process exits anyway */
  grace?: number;
  /** stop, too, when this process is gone (the supervisor, SIGKILLed) */
  watchPid?: number | undefined;
}

/** ms between two looks at the supervisor, and what a stop may take once it is gone */
const watchEvery = 500;
const orphanGrace = 1000;

/**
 * SIGTERM and SIGINT run `stop` once, then exit 0; a stop that hangs past `grace` ms exits at
 * once. Heroku sends SIGTERM to every process and SIGKILLs 30 s later:
 * https://devcenter.heroku.com/articles/dynos#shutdown. A second signal exits at once, unless
 * the process runs under the supervisor: then foreman passes the same stop on again. With
 * `watchPid`, the process also stops when that process has gone, within about 1.5 s.
 */
export function stopOnSignals(
  log: Logger,
  stop: (reason: string) => Promise<void>,
  options: StopOptions = {},
): void {
  const { watchPid } = options;
  let stopping = false;
  const stopOnce = (reason: string, grace: number, fields: object) => {
    stopping = true;
    log.info(fields, `stopping (${reason})`);
    setTimeout(() => {
      log.error('stopping took too long: exiting now');
      process.exit(1);
    }, grace).unref();
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
    stopOnce(signal, options.grace ?? 8000, { signal });
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

/**
 * A crash is one fatal line naming the process and why, then exit 1. A non-zero exit, of any
 * cause, ends with a line giving its code: foreman does not tell it.
 */
export function exitOnCrash(log: Logger, processName: string): void {
  const crash = (err: unknown) => {
    log.fatal(
      { err },
      `${processName} process died: ${err instanceof Error ? err.message : String(err)}`,
    );
    process.exit(1);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  process.on('exit', (code) => {
    if (code !== 0) log.error({ code }, `${processName} process exiting with code ${code}`);
  });
}
