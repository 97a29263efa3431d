import { join } from 'node:path';
import { createLogger } from './logging/create-logger';
import { loadConfigOrExit } from './process/lifecycle';
import { supervise } from './process/supervise';

/** The Procfile's `web:` process: foreman and what it runs, kept as one unit for the host. */
if (require.main === module) {
  const [command, ...args] = process.argv.slice(2);
  if (command === undefined) {
    process.stderr.write('usage: supervise <command> [args...]\n');
    process.exit(2);
  }
  // One message for a bad setting (PORT included), before foreman starts anything.
  const config = loadConfigOrExit('supervise');
  const log = createLogger('supervise', config.logLevel, undefined, config.logFormat);
  // foreman's processes write to pipes: tell them a person is watching this terminal.
  const env =
    process.stdout.isTTY && (process.env.LOG_FORMAT ?? 'auto') === 'auto'
      ? { ...process.env, LOG_FORMAT: 'pretty' }
      : process.env;
  // foreman's own entry, so that `nf` needs no node_modules/.bin on PATH (a plain shell, Docker).
  // foreman calls util._extend, which Node 22+ warns about at each start; its processes do not.
  const [file, argv] =
    command === 'nf'
      ? [process.execPath, ['--disable-warning=DEP0060', require.resolve('foreman/nf.js'), ...args]]
      : [command, args];
  const preload = command === 'nf' ? { preload: join(__dirname, 'hold-foreman.js') } : {};
  void supervise(file, argv, env, { log, port: config.port, ...preload }).then((code) =>
    process.exit(code),
  );
}
