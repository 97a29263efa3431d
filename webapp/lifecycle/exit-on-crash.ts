import type { Logger } from '../logging/create-logger';

/**
 * A crash is one fatal line naming the process and why, then exit 1. A non-zero exit, of any
 * cause, ends with a line giving its code, for whoever reads the process's output alone.
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
