import { spawn } from 'node:child_process';

// foreman's line for a process that ended with a non-zero code or by a signal.
const failedExit = /Exited with exit code/;

/** ms to wait for the group to leave after a stop or foreman's exit, before SIGKILL */
const grace = 10_000;

/**
 * Runs foreman (`nf start`) as one unit for the host, resolving with the exit code. foreman exits
 * 0 even when a process it runs crashed, and on SIGTERM it exits at once and orphans its
 * processes (https://github.com/strongloop/node-foreman/blob/master/lib/proc.js). So foreman runs
 * in a process group of its own: this process exits only when the whole group has gone, and
 * non-zero when one of them failed.
 */
export function supervise(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<number> {
  const write = (chunk: Buffer) => process.stdout.write(chunk);
  const child = spawn(command, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
  let failed = false;
  let stopping = false;
  let pending = '';
  const scan = (chunk: Buffer) => {
    write(chunk);
    // Lines may be split across chunks: look at whole lines only.
    const lines = (pending + chunk.toString('utf8')).split('\n');
    pending = lines.pop() ?? '';
    if (!stopping && lines.some((line) => failedExit.test(line))) failed = true;
  };
  child.stdout.on('data', scan);
  child.stderr.on('data', scan);

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
  // foreman stops its processes gracefully, and keeps relaying their last lines, on SIGINT only.
  const onSignal = () => {
    stopping = true;
    try {
      child.kill('SIGINT');
    } catch {
      signalGroup('SIGTERM');
    }
  };
  // SIGHUP too: a closed terminal must not orphan the processes in their own group.
  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
  for (const signal of signals) process.on(signal, onSignal);

  return new Promise((resolve) => {
    const finish = (code: number) => {
      for (const signal of signals) process.off(signal, onSignal);
      resolve(code);
    };
    child.on('error', (err) => {
      write(Buffer.from(`cannot start ${command}: ${err.message}\n`));
      finish(1);
    });
    child.on('exit', (code) => {
      // foreman is gone; its processes may still be stopping, or orphaned.
      if (!stopping) signalGroup('SIGTERM');
      const deadline = Date.now() + grace;
      const wait = setInterval(() => {
        if (groupAlive() && Date.now() < deadline) return;
        clearInterval(wait);
        if (groupAlive()) {
          signalGroup('SIGKILL');
          failed = true;
        }
        finish(failed || (!stopping && code !== 0) ? 1 : 0);
      }, 25);
    });
  });
}
