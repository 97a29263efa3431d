import type { ConfigError } from '../config';

/** Exits 1 with the one message that says what is wrong with the configuration (no stack). */
export function exitWithConfigError(processName: string, err: ConfigError): never {
  process.stderr.write(`${processName}: ${err.message}\n`);
  process.exit(1);
}
