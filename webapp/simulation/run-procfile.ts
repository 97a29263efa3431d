import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { appDir } from '../deployment/app-info';

/** The command of a process type in the app's Procfile, as Heroku reads it. */
export function procfileCommand(type = 'web', file = 'Procfile'): string {
  const line = readFileSync(join(appDir(), file), 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith(`${type}:`));
  if (line === undefined) throw new Error(`no ${type} line in ${file}`);
  return line.slice(type.length + 1).trim();
}

export interface Running {
  child: ChildProcess;
  /** everything it printed so far, stdout and stderr */
  output(): string;
  /** resolves with the first output line that matches; rejects at the deadline or its exit */
  waitFor(pattern: RegExp, timeout?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Runs a Procfile command as Heroku does: `sh -c` in the app's directory (or `dir`), with its
 * node_modules/.bin on PATH, and follows what it prints. The environment is `env` alone, not
 * this process's.
 */
export function runProcfileCommand(
  command: string,
  env: NodeJS.ProcessEnv,
  dir = appDir(),
): Running {
  const child = spawn('/bin/sh', ['-c', command], {
    cwd: dir,
    env: {
      ...env,
      PATH: [join(dir, 'node_modules', '.bin'), env.PATH ?? process.env.PATH].join(delimiter),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const waiters: {
    pattern: RegExp;
    resolve: (line: string) => void;
    reject: (err: Error) => void;
  }[] = [];
  const onData = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    for (const waiter of [...waiters]) {
      const line = output.split('\n').find((entry) => waiter.pattern.test(entry));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    // 'close' comes after the last output, unlike 'exit'.
    child.on('close', (code, signal) => {
      for (const waiter of waiters.splice(0)) {
        waiter.reject(new Error(`exited (${code ?? signal}) before printing ${waiter.pattern}`));
      }
      resolve({ code, signal });
    }),
  );
  return {
    child,
    output: () => output,
    exited,
    waitFor(pattern, timeout = 15000) {
      const line = output.split('\n').find((entry) => pattern.test(entry));
      if (line !== undefined) return Promise.resolve(line);
      if (child.exitCode !== null || child.signalCode !== null) {
        return Promise.reject(new Error(`exited before printing ${pattern}`));
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`no output matching ${pattern} within ${timeout} ms`));
        }, timeout);
        const waiter = {
          pattern,
          resolve: (found: string) => {
            clearTimeout(timer);
            resolve(found);
          },
          reject: (err: Error) => {
            clearTimeout(timer);
            reject(err);
          },
        };
        waiters.push(waiter);
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
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

/** One JSON log line of a process under foreman, without foreman's prefix. */
export function parseLogLine(line: string): Record<string, unknown> {
  return JSON.parse(line.slice(line.indexOf('{'))) as Record<string, unknown>;
}
