import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { appDir } from '../process/app-info';

/** The command of a process type in the app's Procfile, as Heroku reads it. */
export function procfileCommand(type = 'web', file = 'Procfile'): string {
  const line = readFileSync(join(appDir(), file), 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith(`${type}:`));
  if (line === undefined) throw new Error(`no ${type} line in ${file}`);
  return line.slice(type.length + 1).trim();
}

/**
 * Starts a Procfile command as Heroku does: `sh -c` in the app's directory, with the app's
 * node_modules/.bin on PATH. The environment is `env` alone, not this process's.
 */
export function startProcfileCommand(command: string, env: NodeJS.ProcessEnv): ChildProcess {
  const dir = appDir();
  return spawn('/bin/sh', ['-c', command], {
    cwd: dir,
    env: {
      ...env,
      PATH: [join(dir, 'node_modules', '.bin'), env.PATH ?? process.env.PATH].join(delimiter),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** A TCP port free on loopback now, for a process that must be told its port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
