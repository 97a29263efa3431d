/** Set by the supervisor for the processes under it: the `PORT` it was given. */
const portVariable = 'SUPERVISOR_PORT';
/** Set by the supervisor for the processes under it: its pid, which they watch. */
const pidVariable = 'SUPERVISOR_PID';

/**
 * What the supervisor hands down to the processes that foreman runs for it: foreman gives each
 * process a `PORT` of its own counting (a base of 1024 or more, the clock's 100 above it), so
 * the real one goes beside it, with the pid that they watch.
 */
export function handDown(port: number, pid: number): Record<string, string> {
  return { [portVariable]: String(port), [pidVariable]: String(pid) };
}

/** What the supervisor handed down, when this process runs under it. */
export function readHandedDown(env: NodeJS.ProcessEnv): {
  port?: string;
  supervisorPid?: number;
} {
  const port = env[portVariable];
  const pid = Number(env[pidVariable]);
  return {
    ...(port === undefined ? {} : { port }),
    ...(Number.isInteger(pid) && pid > 1 ? { supervisorPid: pid } : {}),
  };
}
