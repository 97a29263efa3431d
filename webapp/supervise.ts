import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { supervise } from './lifecycle/supervise';
import { createLogger } from './logging/create-logger';
import type { LogFormat } from './types';

/** The Procfile's `web:` process: foreman, in this process, and what it runs, as one unit. */
if (require.main === module) {
  const [command, ...args] = process.argv.slice(2);
  if (command !== 'nf') {
    process.stderr.write('usage: supervise nf <foreman arguments...>\n');
    process.exit(2);
  }
  // One message for a bad setting (PORT included), before foreman starts anything, from a
  // process of its own: the settings' schemas would otherwise stay in this one for good.
  const checked = spawnSync(process.execPath, [join(__dirname, 'check-config.js')], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  if (checked.status !== 0) process.exit(checked.status ?? 1);
  const config = JSON.parse(checked.stdout) as {
    port: number;
    logLevel: string;
    logFormat: LogFormat;
  };
  const log = createLogger('supervise', config.logLevel, config.logFormat);
  // foreman's processes write to pipes: tell them a person is watching this terminal.
  const env =
    process.stdout.isTTY && (process.env.LOG_FORMAT ?? 'auto') === 'auto'
      ? { LOG_FORMAT: 'pretty' }
      : {};
  supervise(args, { log, port: config.port, env });
}
