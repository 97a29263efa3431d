import type { Dispatcher } from 'undici';
import { sendRequest } from '../http/send-request';
import type { Logger } from '../logging/create-logger';
import { nextRetryWait, sleepUnlessAborted } from '../timing/next-retry-wait';
import type { RetryPolicy, TriggerOutcome } from '../types';
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
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
  random?: () => number;
}

/**
 * Starts the build of `tag` on the target, retrying network errors, timeouts, 429 and 5xx with
 * exponential backoff and jitter. Logs one line per attempt; never throws.
 */
export async function triggerTag(tag: string, deps: TriggerDeps): Promise<TriggerOutcome> {
  const { target, log, retry } = deps;
  if (deps.dryRun) {
    log.warn({ tag, target: target.where }, `dry run: would trigger ${tag}`);
    return { ok: true, dryRun: true, attempts: 0 };
  }
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? sleepUnlessAborted;
  const random = deps.random ?? Math.random;
  const started = now();
  for (let attempt = 1; ; attempt++) {
    const answer = await sendOnce(tag, deps);
    // A 2xx that came before shutdown is a build started: it is reported, never owed again.
    const taken = answer.status !== undefined && answer.status >= 200 && answer.status < 300;
    if (deps.signal?.aborted && !taken) {
      log.warn({ tag, attempt, target: target.where }, `trigger of ${tag} cut short by shutdown`);
      return { ok: false, dryRun: false, attempts: attempt, aborted: true };
    }
    const fields = { tag, attempt, target: target.where, status: answer.status };
    if (answer.status !== undefined && target.askPlainer?.(answer.status) === true) {
      log.warn(
        fields,
        `trigger of ${tag}: the server refused to name the run it starts (${answer.status}), asking again without that`,
      );
      continue;
    }
    const refusal: Refusal | undefined =
      answer.status === undefined
        ? { retry: true, reason: answer.error ?? 'no answer' }
        : target.refusal(answer.status);
    if (refusal === undefined) {
      const run = answer.body === undefined ? undefined : target.startedRun?.(answer.body);
      log.info(
        run === undefined ? fields : { ...fields, run: run.url ?? run.id },
        `triggered ${tag}`,
      );
      return {
        ok: true,
        dryRun: false,
        attempts: attempt,
        ...status(answer.status),
        ...(run === undefined ? {} : { run }),
      };
    }
    const failed = {
      ok: false,
      dryRun: false,
      attempts: attempt,
      reason: refusal.reason,
      ...status(answer.status),
    };
    if (!refusal.retry) {
      log.error(fields, `trigger of ${tag} refused, not retried: ${refusal.reason}`);
      return failed;
    }
    const wait = nextRetryWait(attempt, started, retry, now, random);
    if (wait === undefined) {
      log.error(
        fields,
        `trigger of ${tag} failed, giving up after ${attempt} attempt(s): ${refusal.reason}`,
      );
      return failed;
    }
    log.warn({ ...fields, retryIn: wait }, `trigger of ${tag} failed, retrying: ${refusal.reason}`);
    try {
      await sleep(wait, deps.signal);
    } catch {
      return { ...failed, aborted: true };
    }
  }
}

/** The most of a target's answer that is read: a dispatch's run details are a few hundred bytes. */
export const triggerAnswerLimit = 64 * 1024;

async function sendOnce(
  tag: string,
  deps: TriggerDeps,
): Promise<{ status?: number; error?: string; body?: string }> {
  const { url, headers, body } = deps.target.request(tag);
  try {
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
    return { status: answer.status, ...(answer.body === undefined ? {} : { body: answer.body }) };
  } catch (err) {
    return {
      error: redact(err instanceof Error ? err.message : 'request failed', deps.target.secrets),
    };
  }
}

function status(code: number | undefined): { status?: number } {
  return code === undefined ? {} : { status: code };
}
