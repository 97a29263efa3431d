import {
  freePort,
  parseLogLine,
  procfileCommand,
  runProcfileCommand,
  type Running,
} from './run-procfile';

export interface LocalDyno {
  web: Running;
  port: number;
  /** http://127.0.0.1:<port> */
  url: string;
}

/** A 6-field cron pattern for `at`, in UTC. */
export function patternAt(at: Date): string {
  return `${at.getUTCSeconds()} ${at.getUTCMinutes()} ${at.getUTCHours()} * * *`;
}

/**
 * Runs the Procfile's web command (supervisor, foreman, web and clock) on a free port, and
 * resolves once the web process listens and the clock has planned its next kick-off. With
 * `kickoff`, the clock kicks the chain off a moment after both are up: a kick-off planned for
 * a moment that passed while they started would never come, so then it starts again with a
 * longer lead rather than wait for tomorrow.
 */
export async function startLocalDyno(
  env: NodeJS.ProcessEnv,
  options: { kickoff?: boolean; timeout?: number } = {},
): Promise<LocalDyno> {
  for (let lead = 2; ; lead *= 2) {
    const port = await freePort();
    const kickoffAt = new Date(Math.ceil(Date.now() / 1000 + lead) * 1000);
    const web = runProcfileCommand(procfileCommand('web'), {
      ...env,
      PORT: String(port),
      // readiness is read from the processes' JSON lines
      LOG_FORMAT: 'json',
      ...(options.kickoff === true
        ? { TRIGGER_SCHEDULE: patternAt(kickoffAt), TRIGGER_TIMEZONE: 'UTC' }
        : {}),
    });
    let next: string;
    try {
      next = await waitForReady(web, options.timeout);
    } catch (err) {
      await web.stop('SIGTERM');
      throw new Error(`the web command did not start: ${(err as Error).message}`, { cause: err });
    }
    if (options.kickoff !== true || next === kickoffAt.toISOString()) {
      return { web, port, url: `http://127.0.0.1:${port}` };
    }
    await web.stop('SIGTERM');
    if (lead >= 16) throw new Error(`the clock was not up ${lead} s before its kick-off`);
  }
}

/** Resolves with the clock's next kick-off (ISO) once web listens and the clock has started. */
export async function waitForReady(web: Running, timeout = 30000): Promise<string> {
  const [, line] = await Promise.all([
    web.waitFor(/"name":"web".*listening on port/, timeout),
    web.waitFor(/"name":"clock".*next kick-off at/, timeout),
  ]);
  return String(parseLogLine(line).next);
}
