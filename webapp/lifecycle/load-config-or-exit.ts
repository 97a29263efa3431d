import { ConfigError, loadConfig, type Config } from '../config';
import { exitWithConfigError } from './exit-with-config-error';
import { readHandedDown } from './hand-down';

/**
 * The configuration, or exit 1 with the one message that says what is wrong. Under the
 * supervisor, `PORT` is the one it was given: foreman's own is a stand-in.
 */
export function loadConfigOrExit(processName: string, env = process.env): Config {
  const { port } = readHandedDown(env);
  try {
    return loadConfig(port === undefined ? env : { ...env, PORT: port });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    exitWithConfigError(processName, err);
  }
}
