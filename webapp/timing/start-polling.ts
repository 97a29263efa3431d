import type { Timers } from '../types';

/**
 * Runs `look` now and then `every` ms after each look has ended, so that two never overlap.
 * `look` must not throw; the returned stop() ends the loop.
 */
export function startPolling(
  look: () => Promise<unknown>,
  every: number,
  timers: Timers,
): { stop(): void } {
  let stopped = false;
  let timer: unknown;
  const run = () => {
    timer = undefined;
    void look().finally(() => {
      if (!stopped) timer = timers.setTimeout(run, every);
    });
  };
  run();
  return {
    stop() {
      stopped = true;
      if (timer !== undefined) timers.clearTimeout(timer);
    },
  };
}
