import type { RetryPolicy } from '../types';

/** Exponential backoff with equal jitter: half the delay is fixed, half is random. */
export function backoffDelay(
  attempt: number,
  policy: Pick<RetryPolicy, 'initialDelay' | 'maxDelay'>,
  random: () => number,
): number {
  const ceiling = Math.min(policy.maxDelay, policy.initialDelay * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * How long to wait before attempt `attempt + 1` of something first tried at `started`, or
 * undefined when that wait would end past `giveUpAfter`: the one retry rule of triggers,
 * notifications and Docker Hub's API. `asked` is a wait the server named (429's Retry-After).
 */
export function nextRetryWait(
  attempt: number,
  started: number,
  policy: Pick<RetryPolicy, 'initialDelay' | 'maxDelay' | 'giveUpAfter'>,
  now: () => number,
  random: () => number,
  asked?: number,
): number | undefined {
  // A server that asks for no wait at all (Retry-After: 0, a date passed) still gets the
  // backoff's: otherwise the retries would spin.
  const backoff = backoffDelay(attempt, policy, random);
  const wait = asked === undefined ? backoff : Math.max(asked, backoff);
  return now() + wait - started > policy.giveUpAfter ? undefined : wait;
}
