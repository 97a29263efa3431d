import type { IncomingHttpHeaders } from 'node:http';
import { readRateLimitWait } from '../http/read-rate-limit-wait';
import type { Dispatcher } from 'undici';
import { sendRequest } from '../http/send-request';
import type { Logger } from '../logging/create-logger';
import { realClock } from '../timing/real-clock';
import { retry } from '../timing/retry';
import type { Clock, RetryPolicy, TriggerOutcome } from '../types';
import { redact } from '../secrets/redact';
import type { BuildTarget, Refusal } from './targets/build-target';

export interface TriggerDeps {
  target: BuildTarget;
  log: Logger;
  dryRun: boolean;
  retry: RetryPolicy;
  dispatcher: Dispatcher;
  /** aborts the attempt under way and the waits between attempts (shutdown) */
  signal?: AbortSignal;
  /** the real clock when left out */
  clock?: Pick<Clock, 'now' | 'sleep' | 'random'>;
  /** what the lines name: the node's image in a graph (the tag when left out) */
  name?: string;
}

/**
 * Starts the build of `tag` on the target, retrying network errors, timeouts, 429 and 5xx with
 * exponential backoff and jitter. Logs one line per attempt; never throws.
 */
export async function triggerTag(sent: string, deps: TriggerDeps): Promise<TriggerOutcome> {
  const { target, log } = deps;
  const tag = deps.name ?? sent;
  if (deps.dryRun) {
    log.warn({ tag, target: target.where }, `dry run: would trigger ${tag}`);
    return { ok: true, dryRun: true, attempts: 0 };
  }
  let last: { status?: number; reason: string } = { reason: 'no answer' };
  const fieldsOf = (attempt: number) => ({
    tag,
    attempt,
    target: target.where,
    status: last.status,
  });
  const result = await retry<TriggerOutcome>(
    async (attempt) => {
      let answer = await sendOnce(sent, deps);
      // A server that refuses the option to name the run is asked again at once, without it.
      if (answer.status !== undefined && target.askPlainer?.(answer.status) === true) {
        log.warn(
          { ...fieldsOf(attempt), status: answer.status },
          `trigger of ${tag}: the server refused to name the run it starts (${answer.status}), asking again without that`,
        );
        answer = await sendOnce(sent, deps);
      }
      // A 2xx that came before shutdown is a build started: it is reported, never owed again.
      const taken = answer.status !== undefined && answer.status >= 200 && answer.status < 300;
      if (deps.signal?.aborted && !taken) return { again: 'cut short by shutdown' };
      const limited = answer.status !== undefined && isRateLimited(answer.status, answer.headers);
      const refusal: Refusal | undefined =
        answer.status === undefined
          ? { retry: answer.final !== true, reason: answer.error ?? 'no answer' }
          : limited
            ? {
                retry: true,
                reason: `the build service is rate limiting triggers (${answer.status})`,
              }
            : target.refusal(answer.status);
      last = { ...status(answer.status), reason: refusal?.reason ?? '' };
      const fields = fieldsOf(attempt);
      if (refusal === undefined) {
        const run = answer.body === undefined ? undefined : target.startedRun?.(answer.body);
        log.info(
          run === undefined ? fields : { ...fields, run: run.url ?? run.id },
          `triggered ${tag}`,
        );
        return {
          done: {
            ok: true,
            dryRun: false,
            attempts: attempt,
            ...status(answer.status),
            ...(run === undefined ? {} : { run }),
          },
        };
      }
      if (refusal.retry) {
        // A wait the service asked for is waited, never less (the retry's own backoff may be more).
        const asked =
          answer.status === 429 || limited
            ? readRateLimitWait(answer.headers ?? {}, (deps.clock ?? realClock).now())
            : undefined;
        return { again: refusal.reason, ...(asked === undefined ? {} : { wait: asked }) };
      }
      log.error(fields, `trigger of ${tag} refused, not retried: ${refusal.reason}`);
      return { done: failure(attempt) };
    },
    {
      policy: deps.retry,
      clock: deps.clock ?? realClock,
      ...(deps.signal === undefined ? {} : { signal: deps.signal }),
      onRetry: (attempt, wait, reason) =>
        log.warn(
          { ...fieldsOf(attempt), retryIn: wait },
          `trigger of ${tag} failed, retrying: ${reason}`,
        ),
    },
  );
  function failure(attempts: number): TriggerOutcome {
    return { ok: false, dryRun: false, attempts, reason: last.reason, ...status(last.status) };
  }
  if (result.kind === 'done') return result.value;
  if (result.kind === 'aborted') {
    log.warn(
      { tag, attempt: result.attempts, target: target.where },
      `trigger of ${tag} cut short by shutdown`,
    );
    return { ...failure(result.attempts), aborted: true };
  }
  log.error(
    fieldsOf(result.attempts),
    `trigger of ${tag} failed, giving up after ${result.attempts} attempt(s): ${result.reason}`,
  );
  return failure(result.attempts);
}

/** The most of a target's answer that is read: a dispatch's run details are a few hundred bytes. */
export const triggerAnswerLimit = 64 * 1024;

async function sendOnce(
  tag: string,
  deps: TriggerDeps,
): Promise<{
  status?: number;
  headers?: IncomingHttpHeaders;
  error?: string;
  body?: string;
  final?: boolean;
}> {
  try {
    const { url, headers, body } = await deps.target.request(tag);
    const answer = await sendRequest(
      url,
      {
        method: 'POST',
        headers,
        body,
        dispatcher: deps.dispatcher,
        keepBody: deps.target.startedRun !== undefined,
      },
      {
        deadline: deps.retry.timeout,
        maxBytes: triggerAnswerLimit,
        ...(deps.signal === undefined ? {} : { signal: deps.signal }),
      },
    );
    // A status that came means the target took the request, whatever became of its body: a
    // build it started is never sent again for a body cut off by the deadline or by shutdown.
    if (answer.bodyProblem !== undefined && answer.status >= 200 && answer.status < 300) {
      deps.log.warn(
        { tag, status: answer.status, problem: answer.bodyProblem },
        `the answer to the trigger of ${tag} came without its whole body (${answer.bodyProblem}): its run is not known`,
      );
    }
    return {
      status: answer.status,
      headers: answer.headers,
      ...(answer.body === undefined ? {} : { body: answer.body }),
    };
  } catch (err) {
    return {
      error: redact(err instanceof Error ? err.message : 'request failed', deps.target.secrets),
      // What the request needed could not be had, and asking again will not change that: a
      // GitHub App not installed on the repository, say.
      ...((err as { retryable?: unknown }).retryable === false ? { final: true } : {}),
    };
  }
}

/**
 * Whether a refusal is a rate limit rather than a lack of permission: GitHub answers its limits
 * with 403 and Retry-After or no requests left
 * (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api).
 */
function isRateLimited(status: number, headers: IncomingHttpHeaders | undefined): boolean {
  if (status !== 403 || headers === undefined) return false;
  return headers['retry-after'] !== undefined || headers['x-ratelimit-remaining'] === '0';
}

function status(code: number | undefined): { status?: number } {
  return code === undefined ? {} : { status: code };
}
