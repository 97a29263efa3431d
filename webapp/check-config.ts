import { loadConfigOrExit } from './lifecycle/load-config-or-exit';

/**
 * Run by the supervisor before foreman starts anything: checks every setting, with one message
 * for all that are wrong, and tells the supervisor the few it needs. The supervisor's own process
 * lives as long as the dyno; the settings' schemas need not live in it.
 */
if (require.main === module) {
  const config = loadConfigOrExit('supervise');
  const needed = { port: config.port, logLevel: config.logLevel, logFormat: config.logFormat };
  process.stdout.write(JSON.stringify(needed));
}
