import { setTimeout as sleepFor } from 'node:timers/promises';
import type { Clock } from '../types';

// Node runs a timer of more than 2^31 - 1 ms after 1 ms instead (TimeoutOverflowWarning):
// https://nodejs.org/api/timers.html#settimeoutcallback-delay-args
const longestTimeout = 2 ** 31 - 1;

/** The real clock: Date.now and the process's timers, a long wait taken in steps. */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (run, ms) => {
    const handle: { timer?: NodeJS.Timeout } = {};
    const wait = (left: number) => {
      handle.timer =
        left > longestTimeout
          ? setTimeout(() => wait(left - longestTimeout), longestTimeout)
          : setTimeout(run, Math.max(0, left));
    };
    wait(ms);
    return handle;
  },
  clearTimeout: (handle) => clearTimeout((handle as { timer?: NodeJS.Timeout }).timer),
  sleep: async (ms, signal) => {
    await sleepFor(ms, undefined, signal === undefined ? {} : { signal });
  },
  random: () => Math.random(),
};
