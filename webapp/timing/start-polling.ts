import type { Clock } from '../types';

/**
 * Runs `look` now and then `every` ms after each look has ended, so that two never overlap.
 * `look` must not throw; the returned stop() ends the loop.
 */
export function startPolling(
  look: () => Promise<unknown>,
  every: number,
  clock: Clock,
): { stop(): void } {
  let stopped = false;
  let timer: unknown;
  const run = () => {
    timer = undefined;
    void look().finally(() => {
      if (!stopped) timer = clock.setTimeout(run, every);
    });
  };
  run();
  return {
    stop() {
      stopped = true;
      if (timer !== undefined) clock.clearTimeout(timer);
    },
  };
}
