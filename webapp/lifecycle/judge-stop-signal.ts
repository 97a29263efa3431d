/** ms within which another stop signal is taken as a repeat of the first */
const repeatWindow = 1000;

/**
 * What a stop signal means, given when the stop began (ms on a monotonic clock, or undefined):
 * the first starts a graceful stop; another within a second is the same request (`timeout` and
 * `kill -- -PGID` after a plain kill signal the command and then its group; systemd may send
 * SIGHUP with SIGTERM); one later insists, and kills at once.
 */
export function judgeStopSignal(
  stoppingSince: number | undefined,
  now: number,
): 'stop' | 'repeat' | 'insist' {
  if (stoppingSince === undefined) return 'stop';
  return now - stoppingSince < repeatWindow ? 'repeat' : 'insist';
}
