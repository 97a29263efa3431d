import { ConfigError, loadConfig, type Config } from '../config';
import type { Logger } from './create-logger';

/** The configuration, or exit 1 with the one message that says what is wrong (no stack). */
export function loadConfigOrExit(processName: string): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${processName}: ${err.message}\n`);
    process.exit(1);
  }
}

/**
 * SIGTERM and SIGINT run `stop` once, then exit 0; a second signal, or a stop that hangs past
 * `grace` ms, exits at once. Heroku sends SIGTERM and SIGKILLs 30 s later:
 * https://devcenter.heroku.com/articles/dynos#shutdown
 */
export function stopOnSignals(log: Logger, stop: () => Promise<void>, grace = 8000): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'stopping');
    setTimeout(() => {
      log.error('stopping took too long: exiting now');
      process.exit(1);
    }, grace).unref();
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/** A crash is one fatal line naming the process and why, then exit 1. */
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
}
