import type { IncomingHttpHeaders } from 'node:http';
import { readRetryAfter } from './read-retry-after';

/**
 * How long a rate-limited answer asks to wait, in ms: its Retry-After, else its
 * X-RateLimit-Reset (epoch seconds), which Docker Hub and GitHub send instead.
 */
export function readRateLimitWait(headers: IncomingHttpHeaders, now: number): number | undefined {
  const asked = readRetryAfter(headers, now);
  if (asked !== undefined) return asked;
  const reset = headers['x-ratelimit-reset'];
  const value = typeof reset === 'string' ? reset.trim() : undefined;
  if (value !== undefined && /^\d+$/.test(value)) return Math.max(0, Number(value) * 1000 - now);
  return undefined;
}
