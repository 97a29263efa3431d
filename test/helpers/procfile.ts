import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  parseLogLine,
  runProcfileCommand,
  type Running,
} from '../../webapp/simulation/run-procfile';

export { freePort, procfileCommand, type Running } from '../../webapp/simulation/run-procfile';

/** Runs a Procfile command as Heroku does, with a journal of its own. */
export function runCommand(command: string, env: Record<string, string>): Running {
  return runProcfileCommand(command, {
    HOME: process.env.HOME ?? '/tmp',
    // never the app's own journal: a test must leave nothing owed behind
    STATE_FILE: join(mkdtempSync(join(tmpdir(), 'dtp-state-')), 'pending.json'),
    // Docker Hub's API is read only where a test points it at a fake
    RECONCILE_INTERVAL: '0',
    ...env,
  });
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

/** The JSON log lines that the process `name` (web, clock, supervise) has written so far. */
export function logLinesOf(run: Running, name: string): Record<string, unknown>[] {
  return run
    .output()
    .split('\n')
    .filter((line) => line.includes(`"name":"${name}"`))
    .map(parseLogLine);
}
