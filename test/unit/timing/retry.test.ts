import { retry } from '../../../webapp/timing/retry';

const policy = { initialDelay: 1000, maxDelay: 4000, giveUpAfter: 10_000 };

/** Runs `retry` on a clock whose waits pass at once, moving its time by each wait. */
async function run<T>(attempts: Parameters<typeof retry<T>>[0], signal?: AbortSignal) {
  let now = 0;
  const waits: number[] = [];
  const result = await retry(attempts, {
    policy,
    clock: {
      now: () => now,
      random: () => 0.5,
      sleep: async (ms, aborted) => {
        if (aborted?.aborted) throw new Error('aborted');
        now += ms;
      },
    },
    ...(signal === undefined ? {} : { signal }),
    onRetry: (_attempt, wait) => waits.push(wait),
  });
  return { result, waits };
}

describe('retry, the one retry loop', () => {
  it('waits with doubling, capped backoff between attempts until one is done', async () => {
    let calls = 0;
    const { result, waits } = await run(async () =>
      ++calls < 4 ? { again: 'HTTP 503' } : { done: 'ok' },
    );
    expect(result).toEqual({ kind: 'done', value: 'ok', attempts: 4 });
    // random() is 0.5: three quarters of 1, 2 and 4 s
    expect(waits).toEqual([750, 1500, 3000]);
  });

  it('gives up when the next attempt would start past giveUpAfter, saying why', async () => {
    const { result, waits } = await run(async () => ({ again: 'HTTP 502' }));
    expect(result).toMatchObject({ kind: 'given-up', reason: 'HTTP 502' });
    expect(waits.reduce((sum, wait) => sum + wait, 0)).toBeLessThanOrEqual(10_000);
  });

  it('waits what the server asked, and names it when it is past the budget', async () => {
    const { result } = await run(async () => ({ again: 'HTTP 429', wait: 3_600_000 }));
    expect(result).toEqual({
      kind: 'given-up',
      reason: 'HTTP 429',
      attempts: 1,
      asked: 3_600_000,
    });
  });

  it('stops at once when shutdown aborts', async () => {
    const shutdown = new AbortController();
    const { result } = await run(async () => {
      shutdown.abort();
      return { again: 'HTTP 503' };
    }, shutdown.signal);
    expect(result).toEqual({ kind: 'aborted', attempts: 1 });
  });
});
