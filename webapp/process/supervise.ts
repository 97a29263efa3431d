import { spawn } from 'node:child_process';
import type { Logger } from '../logging/create-logger';
import { judgeStopSignal } from './judge-stop-signal';

/** Set by the supervisor for the processes under it: its pid, which they watch. */
export const supervisorPidVariable = 'SUPERVISOR_PID';
/** Set by the supervisor for the processes under it: the `PORT` it was given. */
export const supervisorPortVariable = 'SUPERVISOR_PORT';
/** Set by the supervisor for foreman: the NODE_OPTIONS it was given, without the preload. */
export const supervisorNodeOptionsVariable = 'SUPERVISOR_NODE_OPTIONS';

/**
 * The base port foreman is given: it refuses a base below 1024 and hands the next process type
 * the base + 100, so the real port goes past it, in `SUPERVISOR_PORT`.
 */
const foremanBasePort = '5000';

/** ms to wait for the group to leave after a stop or foreman's exit, before SIGKILL */
const grace = 10_000;

// foreman's line when one of its processes ends, e.g. `12:00:00 clock.1   Exited with exit code SIGTERM`.
const foremanExit = / (\w[\w-]*)\.\d+ +Exited (?:Successfully|with exit code (\S+))\s*$/;
// A process's own last line when it exits non-zero (see lifecycle.ts), e.g. `clock.1 | ... exiting with code 1`.
const memberExit = / (\w[\w-]*)\.\d+ +\| .*exiting with code (\d+)/;
const ansi = /\x1b\[[\d;]*[A-Za-z]/g;

export interface SuperviseOptions {
  /** the supervisor's own logger */
  log: Logger;
  /** the `PORT` the web process must listen on, already checked */
  port: number;
  /** a file that node loads into foreman first (hold-foreman.js), or none */
  preload?: string;
}

/**
 * Runs foreman (`nf start`) as one unit for the host, resolving with the exit code: 0 only when
 * this process was asked to stop and everything stopped. foreman exits 0 even when a process it
 * runs crashed, names a non-zero exit code `null`, and on SIGTERM exits at once and orphans its
 * processes (https://github.com/strongloop/node-foreman/blob/master/lib/proc.js). So foreman
 * runs in a process group of its own, kept up on SIGTERM by `preload` until its processes have
 * written their last lines; its processes watch this one's pid and stop when it is gone.
 */
export function supervise(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  options: SuperviseOptions,
): Promise<number> {
  const { log } = options;
  const child = spawn(command, args, {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...env,
      PORT: foremanBasePort,
      [supervisorPortVariable]: String(options.port),
      [supervisorPidVariable]: String(process.pid),
      ...(options.preload === undefined ? {} : preloadOptions(env, options.preload)),
    },
  });
  let stopping: NodeJS.Signals | undefined;
  let stoppingSince: number | undefined;
  // set when the processes were killed rather than stopped: the command then exits 1
  let killed = false;
  // the processes that ended unasked, and foreman's word for how
  const endings: { name: string; how: string }[] = [];
  const codes = new Map<string, string>();

  const relay = (stream: NodeJS.WriteStream) => {
    let pending = '';
    const writeLine = (line: string) => {
      const plain = line.replace(ansi, '');
      const exited = memberExit.exec(plain);
      if (exited !== null) codes.set(exited[1] as string, exited[2] as string);
      const over = foremanExit.exec(plain);
      if (over === null) {
        stream.write(`${line}\n`);
        return;
      }
      const name = over[1] as string;
      const how = over[2];
      // foreman writes `Exited with exit code null` for any non-zero code: say which.
      const code = codes.get(name);
      stream.write(`${how === 'null' ? line.replace(/null\s*$/, code ?? 'not 0') : line}\n`);
      if (stopping === undefined) endings.push({ name, how: how ?? '0' });
    };
    return (chunk: Buffer) => {
      // Lines may be split across chunks: look at whole lines only.
      const lines = (pending + chunk.toString('utf8')).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) writeLine(line);
    };
  };
  child.stdout.on('data', relay(process.stdout));
  child.stderr.on('data', relay(process.stderr));

  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, signal);
    } catch {
      // the group has already gone
    }
  };
  const groupAlive = () => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const onSignal = (signal: NodeJS.Signals) => {
    const meaning = judgeStopSignal(stoppingSince, performance.now());
    if (meaning === 'repeat') {
      log.debug({ signal }, `${signal} while stopping: taken as the same request`);
      return;
    }
    if (meaning === 'insist') {
      log.warn({ signal }, `second signal (${signal}): killing the dyno's processes now`);
      killed = true;
      signalGroup('SIGKILL');
      return;
    }
    stopping = signal;
    stoppingSince = performance.now();
    log.info({ signal }, `${signal}: stopping the dyno's processes`);
    // foreman (kept up by the preload) passes SIGTERM on to its processes; SIGINT it handles
    // itself; its processes have no SIGHUP handler, so a closed terminal becomes a SIGTERM.
    try {
      child.kill(signal === 'SIGINT' ? 'SIGINT' : 'SIGTERM');
    } catch {
      signalGroup('SIGTERM');
    }
  };
  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
  for (const signal of signals) process.on(signal, onSignal);

  return new Promise((resolve) => {
    const finish = (code: number) => {
      for (const signal of signals) process.off(signal, onSignal);
      resolve(code);
    };
    child.on('error', (err) => {
      log.error({ err }, `cannot start ${command}: ${err.message}`);
      finish(1);
    });
    child.on('close', (code, signal) => {
      // foreman is gone; its processes may still be stopping, or orphaned.
      // Both of foreman's streams are read to their end by now: the exit code is known.
      if (stopping === undefined) {
        // foreman's two streams are read apart: a failure explains the clean stops after it.
        const first = endings.find((ending) => ending.how !== '0') ?? endings[0];
        const why =
          first === undefined
            ? signal === null
              ? `foreman exited with code ${code} with nothing asking it to`
              : `foreman was killed by ${signal}`
            : /^SIG/.test(first.how)
              ? `${first.name} was killed by ${first.how}`
              : `${first.name} exited with code ${first.how === 'null' ? (codes.get(first.name) ?? 'other than 0') : first.how}`;
        log.error(
          { process: first?.name ?? 'foreman' },
          `${why}, unasked: the dyno stopped, exiting 1`,
        );
      }
      if (stopping === undefined) signalGroup('SIGTERM');
      const deadline = Date.now() + grace;
      const wait = setInterval(() => {
        if (groupAlive() && Date.now() < deadline) return;
        clearInterval(wait);
        if (groupAlive()) {
          signalGroup('SIGKILL');
          killed = true;
          log.error(`the dyno's processes did not stop within ${grace / 1000} s: killed`);
        }
        finish(stopping !== undefined && !killed ? 0 : 1);
      }, 25);
    });
  });
}

/** Has node load `preload` into foreman; hold-foreman.js puts the user's NODE_OPTIONS back. */
function preloadOptions(env: NodeJS.ProcessEnv, preload: string): NodeJS.ProcessEnv {
  const own = env.NODE_OPTIONS ?? '';
  return {
    NODE_OPTIONS: `${own} --require ${JSON.stringify(preload)}`.trim(),
    [supervisorNodeOptionsVariable]: own,
  };
}
