import type { Clock, RetryPolicy } from '../types';
import { nextRetryWait } from './next-retry-wait';

/** What one attempt came to: an end (success or a failure not worth retrying), or another try. */
export type Attempt<T> =
  | { done: T }
  /** `wait`: the wait the server asked for (429's Retry-After); `quiet`: no retry line */
  | { again: string; wait?: number; quiet?: boolean };

/** How a retried request ended. */
export type Retried<T> =
  | { kind: 'done'; value: T; attempts: number }
  /** no new attempt would start before `giveUpAfter`: `asked` is a wait the server named */
  | { kind: 'given-up'; reason: string; attempts: number; asked?: number }
  /** shutdown, during an attempt or a wait */
  | { kind: 'aborted'; attempts: number };

export interface RetryDeps {
  policy: Pick<RetryPolicy, 'initialDelay' | 'maxDelay' | 'giveUpAfter'>;
  clock: Pick<Clock, 'now' | 'sleep' | 'random'>;
  signal?: AbortSignal;
  /** hears each retry before its wait: the attempt's number, the wait and why */
  onRetry?: (attempt: number, wait: number, reason: string) => void;
}

/**
 * The one retry loop of triggers, notifications and Docker Hub's API: runs `attempt` until it
 * is done, waiting with exponential backoff and jitter (or what the server asked) in between,
 * and gives up when the next attempt would start past the policy's give-up time.
 */
export async function retry<T>(
  attempt: (number: number) => Promise<Attempt<T>>,
  deps: RetryDeps,
): Promise<Retried<T>> {
  const { clock, signal } = deps;
  const started = clock.now();
  for (let number = 1; ; number++) {
    if (signal?.aborted) return { kind: 'aborted', attempts: number - 1 };
    const result = await attempt(number);
    if ('done' in result) return { kind: 'done', value: result.done, attempts: number };
    if (signal?.aborted) return { kind: 'aborted', attempts: number };
    const wait = nextRetryWait(
      number,
      started,
      deps.policy,
      () => clock.now(),
      () => clock.random(),
      result.wait,
    );
    if (wait === undefined) {
      return {
        kind: 'given-up',
        reason: result.again,
        attempts: number,
        ...(result.wait === undefined ? {} : { asked: result.wait }),
      };
    }
    if (result.quiet !== true) deps.onRetry?.(number, wait, result.again);
    try {
      await clock.sleep(wait, signal);
    } catch {
      return { kind: 'aborted', attempts: number };
    }
  }
}
