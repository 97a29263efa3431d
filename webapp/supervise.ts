import { loadConfigOrExit } from './lifecycle/load-config-or-exit';
import { supervise } from './lifecycle/supervise';
import { createLogger } from './logging/create-logger';

/** The Procfile's `web:` process: foreman, in this process, and what it runs, as one unit. */
if (require.main === module) {
  const [command, ...args] = process.argv.slice(2);
  if (command !== 'nf') {
    process.stderr.write('usage: supervise nf <foreman arguments...>\n');
    process.exit(2);
  }
  // One message for a bad setting (PORT included), before foreman starts anything.
  const config = loadConfigOrExit('supervise');
  const log = createLogger('supervise', config.logLevel, config.logFormat);
  // foreman's processes write to pipes: tell them a person is watching this terminal.
  const env =
    process.stdout.isTTY && (process.env.LOG_FORMAT ?? 'auto') === 'auto'
      ? { LOG_FORMAT: 'pretty' }
      : {};
  supervise(args, { log, port: config.port, env });
}
