import childProcess, { type ChildProcess } from 'node:child_process';
import type { Logger } from '../logging/create-logger';
import { handDown } from './hand-down';
import { judgeStopSignal } from './judge-stop-signal';

/**
 * The base port foreman is given: it refuses a base below 1024 and hands the next process type
 * the base + 100, so the real port is handed down beside it.
 */
const foremanBasePort = '5000';

/** ms the dyno's processes may take to stop, after a stop or an unasked end, before SIGKILL */
const grace = 10_000;

export interface SuperviseOptions {
  /** this process's own logger */
  log: Logger;
  /** the `PORT` the web process must listen on, already checked */
  port: number;
  /** the environment foreman and its processes get, before what is handed down */
  env: NodeJS.ProcessEnv;
}

/** foreman's display, which writes each process's lines and the line of its end */
interface ForemanConsole {
  info(key: string, proc: { env?: object } | undefined, text: string): void;
  error(key: string, proc: { env?: object } | undefined, text: string): void;
}

interface Member {
  child: ChildProcess;
  /** the environment foreman built for it: foreman passes the same object to its display */
  env: object | undefined;
  ended: boolean;
}

/**
 * Runs foreman (`nf`, with `args`) in this process, as one unit for the host, and exits 0 only
 * when this process was asked to stop and everything stopped, otherwise 1. foreman on its own
 * exits 0 even when a process it runs crashed, names a non-zero exit code `null`, and dies on
 * SIGTERM, leaving its processes behind with no one to relay their last lines
 * (https://github.com/strongloop/node-foreman/blob/master/lib/proc.js). Here the processes
 * foreman starts are known as it starts them: a stop signal goes to each, foreman stays up to
 * relay their lines until they have ended, and the end of one, unasked, stops the dyno with a
 * line that names it. They watch this process's pid and stop when it is gone.
 */
export function supervise(args: string[], options: SuperviseOptions): void {
  const { log } = options;
  Object.assign(process.env, options.env, {
    PORT: foremanBasePort,
    ...handDown(options.port, process.pid),
  });

  const members: Member[] = [];
  let stopping: NodeJS.Signals | undefined;
  let stoppingSince: number | undefined;
  // set when the processes were killed rather than stopped: the command then exits 1
  let killed = false;
  // the processes that ended unasked, and how
  const endings: { name: string; how: string }[] = [];
  let deadline: NodeJS.Timeout | undefined;

  const signalMembers = (signal: NodeJS.Signals) => {
    for (const member of members) {
      if (member.child.exitCode !== null || member.child.signalCode !== null) continue;
      try {
        member.child.kill(signal);
      } catch {
        // it has just gone
      }
    }
  };
  const startDeadline = () => {
    deadline ??= setTimeout(() => {
      killed = true;
      log.error(`the dyno's processes did not stop within ${grace / 1000} s: killed`);
      signalMembers('SIGKILL');
    }, grace).unref();
  };
  const finish = () => {
    if (stopping === undefined) {
      // foreman reads each process's two streams apart: a failure explains the clean stops after it.
      const first = endings.find((ending) => ending.how !== '0') ?? endings[0];
      const why =
        first === undefined
          ? 'foreman ended'
          : /^SIG/.test(first.how)
            ? `${first.name} was killed by ${first.how}`
            : `${first.name} exited with code ${first.how}`;
      log.error(
        { process: first?.name ?? 'foreman' },
        `${why}, unasked: the dyno stopped, exiting 1`,
      );
    }
    process.exit(stopping !== undefined && !killed ? 0 : 1);
  };

  // foreman's line for an end, e.g. `12:00:00 clock.1   Exited with exit code SIGTERM`, comes
  // once the process's output has all been written: the process has ended for the dyno then.
  const display = require('foreman/lib/console').Console as ForemanConsole;
  const onEndLine = (original: ForemanConsole['info']) =>
    function (this: ForemanConsole, key: string, proc: { env?: object } | undefined, text: string) {
      const member = members.find((entry) => entry.env !== undefined && entry.env === proc?.env);
      if (member === undefined || !/^Exited/.test(text))
        return original.call(this, key, proc, text);
      const { exitCode, signalCode } = member.child;
      // foreman writes `Exited with exit code null` for any non-zero code: say which.
      original.call(this, key, proc, text.replace(/null$/, String(exitCode)));
      member.ended = true;
      if (stopping === undefined) {
        endings.push({ name: key.replace(/\.\d+$/, ''), how: signalCode ?? String(exitCode) });
        startDeadline();
      }
      if (members.every((entry) => entry.ended)) finish();
    };
  display.info = onEndLine(display.info);
  display.error = onEndLine(display.error);

  const onSignal = (signal: NodeJS.Signals) => {
    const meaning = judgeStopSignal(stoppingSince, performance.now());
    if (meaning === 'repeat') {
      log.debug({ signal }, `${signal} while stopping: taken as the same request`);
      return;
    }
    if (meaning === 'insist') {
      log.warn({ signal }, `second signal (${signal}): killing the dyno's processes now`);
      killed = true;
      signalMembers('SIGKILL');
      return;
    }
    stopping = signal;
    stoppingSince = performance.now();
    log.info({ signal }, `${signal}: stopping the dyno's processes`);
    // foreman stops its processes with SIGINT itself on SIGINT; its processes have no SIGHUP
    // handler, so a closed terminal becomes a SIGTERM.
    signalMembers(signal === 'SIGINT' ? 'SIGINT' : 'SIGTERM');
    startDeadline();
  };
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, onSignal);
  // foreman ends with nothing started when its Procfile has no process to run.
  process.once('beforeExit', finish);

  // foreman starts every process while it parses its arguments: each spawn is one of them.
  const spawn = childProcess.spawn;
  childProcess.spawn = function (...spawnArgs: Parameters<typeof spawn>) {
    const child = spawn(...spawnArgs);
    const spawnOptions = spawnArgs[2] as { env?: object } | undefined;
    members.push({ child, env: spawnOptions?.env, ended: false });
    return child;
  } as typeof spawn;
  // foreman calls util._extend, which Node 22+ warns about at each start.
  process.noDeprecation = true;
  const nf = require.resolve('foreman/nf.js');
  process.argv = [process.execPath, nf, ...args];
  try {
    require(nf);
  } finally {
    childProcess.spawn = spawn;
  }
}
