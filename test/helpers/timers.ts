import type { Clock } from '../../webapp/types';

/** Clock that move only when the test says so. */
export class ManualTimers implements Clock {
  private current: number;
  private queue: { at: number; run: () => void; id: number }[] = [];
  private ids = 0;

  constructor(start = Date.UTC(2026, 10, 26, 12)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(run: () => void, ms: number): unknown {
    const id = ++this.ids;
    this.queue.push({ at: this.current + Math.max(0, ms), run, id });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.queue = this.queue.filter((entry) => entry.id !== handle);
  }

  /** A wait that ends when the clock is moved past it, or at once when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new Error('aborted'));
      const id = this.setTimeout(resolve, ms);
      signal?.addEventListener('abort', () => {
        this.clearTimeout(id);
        reject(new Error('aborted'));
      });
    });
  }

  /** The middle of every jitter: waits are what the policy says, halfway. */
  random(): number {
    return 0.5;
  }

  /** How many timers are set. */
  get count(): number {
    return this.queue.length;
  }

  /** Moves the clock forward, running every timer that comes due, in order. */
  advance(ms: number): void {
    const end = this.current + ms;
    for (;;) {
      this.queue.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.queue[0];
      if (next === undefined || next.at > end) break;
      this.queue.shift();
      this.current = next.at;
      next.run();
    }
    this.current = end;
  }
}
