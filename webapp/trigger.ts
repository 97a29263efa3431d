import { setTimeout as sleepFor } from 'node:timers/promises';
import { Agent, request, type Dispatcher } from 'undici';
import type { Logger } from './logger';
import { redact } from './redact';
import type { Config } from './config';
import { loadConfigOrExit } from './lifecycle';
import { createLogger } from './logger';
import { createTarget, type BuildTarget, type Refusal } from './targets';

export interface RetryPolicy {
  /** first wait between attempts, in ms; it doubles after each failure */
  initialDelay: number;
  /** longest wait between attempts, in ms */
  maxDelay: number;
  /** no new attempt starts after this many ms since the first */
  giveUpAfter: number;
  /** connect, answer and body timeouts of one attempt, in ms */
  timeout: number;
}

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

export interface TriggerOutcome {
  ok: boolean;
  dryRun: boolean;
  attempts: number;
  status?: number;
  /** why it failed, with secrets scrubbed */
  reason?: string;
  /** the wait before a retry was cut short by shutdown: the trigger may still be owed */
  aborted?: boolean;
}

/** The connection pool for triggers, with the connect timeout that a pool owns. */
export function createDispatcher(timeout: number): Dispatcher {
  return new Agent({ connect: { timeout }, keepAliveTimeout: 4000 });
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
  const sleep = deps.sleep ?? defaultSleep;
  const random = deps.random ?? Math.random;
  const started = now();
  for (let attempt = 1; ; attempt++) {
    const answer = await sendOnce(tag, deps);
    if (deps.signal?.aborted) {
      log.warn({ tag, attempt, target: target.where }, `trigger of ${tag} cut short by shutdown`);
      return { ok: false, dryRun: false, attempts: attempt, aborted: true };
    }
    const fields = { tag, attempt, target: target.where, status: answer.status };
    const refusal: Refusal | undefined =
      answer.status === undefined
        ? { retry: true, reason: answer.error ?? 'no answer' }
        : target.refusal(answer.status);
    if (refusal === undefined) {
      log.info(fields, `triggered ${tag}`);
      return { ok: true, dryRun: false, attempts: attempt, ...status(answer.status) };
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
    const wait = backoffDelay(attempt, retry, random);
    if (now() + wait - started > retry.giveUpAfter) {
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

/** Exponential backoff with equal jitter: half the delay is fixed, half is random. */
export function backoffDelay(attempt: number, policy: RetryPolicy, random: () => number): number {
  const ceiling = Math.min(policy.maxDelay, policy.initialDelay * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

async function sendOnce(
  tag: string,
  deps: TriggerDeps,
): Promise<{ status?: number; error?: string }> {
  const { url, headers, body } = deps.target.request(tag);
  try {
    const response = await request(url, {
      method: 'POST',
      headers,
      body,
      dispatcher: deps.dispatcher,
      headersTimeout: deps.retry.timeout,
      bodyTimeout: deps.retry.timeout,
      ...(deps.signal === undefined ? {} : { signal: deps.signal }),
    });
    await response.body.dump();
    return { status: response.statusCode };
  } catch (err) {
    return { error: describeError(err, deps.target.secrets) };
  }
}

function describeError(err: unknown, secrets: string[]): string {
  if (!(err instanceof Error)) return 'request failed';
  const code = (err as { code?: unknown }).code;
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return redact(`${typeof code === 'string' ? `${code} ` : ''}${err.message}${cause}`, secrets);
}

function status(code: number | undefined): { status?: number } {
  return code === undefined ? {} : { status: code };
}

async function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  await sleepFor(ms, undefined, signal === undefined ? {} : { signal });
}

/** triggerTag wired to the configured target, with one connection pool for the process. */
export function prepareTriggers(
  config: Config,
  log: Logger,
): {
  trigger: (tag: string, signal?: AbortSignal) => Promise<TriggerOutcome>;
  /** where triggers go, secrets replaced by *** */
  where: string;
  close(): Promise<void>;
} {
  const target = createTarget(config);
  const dispatcher = createDispatcher(config.retry.timeout);
  const triggerLog = log.child({ unit: 'trigger' });
  return {
    trigger: (tag, signal) =>
      triggerTag(tag, {
        target,
        log: triggerLog,
        dryRun: config.dryRun,
        retry: config.retry,
        dispatcher,
        ...(signal === undefined ? {} : { signal }),
      }),
    where: target.where,
    close: () => dispatcher.close(),
  };
}

/** `node dist/webapp/trigger.js [tag]`: triggers one tag now (default: the first). */
async function main(argv: string[]): Promise<void> {
  const config = loadConfigOrExit('trigger');
  const log = createLogger('trigger', config.logLevel, undefined, config.logFormat);
  const tag = argv[0] ?? (config.tagSequence[0] as string);
  if (argv.length > 1 || !config.tagSequence.includes(tag)) {
    process.stderr.write(
      `usage: trigger [tag]\n'${argv.join(' ')}' is not one tag of TAG_SEQUENCE (${config.tagSequence.join(', ')})\n`,
    );
    process.exit(2);
  }
  const triggers = prepareTriggers(config, log);
  const outcome = await triggers.trigger(tag);
  await triggers.close();
  const { where } = triggers;
  process.stdout.write(
    outcome.dryRun
      ? `dry run: would have triggered ${tag} at ${where} (${config.tokenVariable} is not set)\n`
      : outcome.ok
        ? `triggered ${tag} at ${where} (HTTP ${outcome.status})\n`
        : `failed to trigger ${tag} at ${where}: ${outcome.reason}\n`,
  );
  process.exit(outcome.ok ? 0 : 1);
}

if (require.main === module) void main(process.argv.slice(2));
