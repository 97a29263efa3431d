import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProcfileCommand } from '../../webapp/simulation/run-procfile';

export { freePort, procfileCommand } from '../../webapp/simulation/run-procfile';

export interface Running {
  child: ChildProcess;
  output(): string;
  /** resolves with the first output line that matches */
  waitFor(pattern: RegExp, timeout?: number): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs a Procfile command as Heroku does, and follows what it prints. */
export function runCommand(command: string, env: Record<string, string>): Running {
  const child = startProcfileCommand(command, {
    HOME: process.env.HOME ?? '/tmp',
    // never the app's own journal: a test must leave nothing owed behind
    STATE_FILE: join(mkdtempSync(join(tmpdir(), 'dtp-state-')), 'pending.json'),
    ...env,
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
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      // Nothing more will be printed: a waiter need not wait out its deadline.
      for (const waiter of waiters.splice(0)) {
        waiter.reject(
          new Error(`exited (${code ?? signal}) before printing ${waiter.pattern}:\n${output}`),
        );
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
        return Promise.reject(new Error(`exited before printing ${pattern}:\n${output}`));
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no output matching ${pattern} within ${timeout} ms:\n${output}`)),
          timeout,
        );
        waiters.push({
          pattern,
          resolve: (found) => {
            clearTimeout(timer);
            resolve(found);
          },
          reject: (err) => {
            clearTimeout(timer);
            reject(err);
          },
        });
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** The processes, still running, whose environment holds `NAME=value`: a run's whole tree. */
export function processesWith(name: string, value: string): { pid: number; command: string }[] {
  const found: { pid: number; command: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      if (!environ.includes(`${name}=${value}`)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (/^\d+ \(.*\) Z/.test(stat)) continue; // a zombie is gone, only not yet reaped
      const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      found.push({ pid: Number(entry), command });
    } catch {
      // it ended while we looked
    }
  }
  return found;
}
