import type { IncomingHttpHeaders } from 'node:http';

/** The wait an answer's Retry-After names, in ms: a number of seconds, or a date. */
export function readRetryAfter(headers: IncomingHttpHeaders, now: number): number | undefined {
  const header = headers['retry-after'];
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (value === undefined || value === '') return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
