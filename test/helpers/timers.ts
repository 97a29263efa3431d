import type { Timers } from '../../webapp/types';

/** Timers that move only when the test says so. */
export class ManualTimers implements Timers {
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
