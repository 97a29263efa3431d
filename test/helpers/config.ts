import { ConfigError, loadConfig } from '../../webapp/config';

/** The problems loadConfig names for `env`; fails when it takes the configuration. */
export function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}
