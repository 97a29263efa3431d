import { request, type Dispatcher } from 'undici';
import type { Logger } from '../process/create-logger';
import type { ChainEvent, RetryPolicy } from '../types';
import { nextRetryWait, sleepUnlessAborted } from '../process/next-retry-wait';
import { maskUrl } from '../builds/mask-url';
import { redact } from '../builds/redact';
import { describeEvent } from './describe-event';

/** What can be notified, by the names NOTIFY_ON takes. */
export const notifyEvents = ['given-up', 'build-failed', 'stalled', 'chain-complete'] as const;

export type NotifyEvent = ChainEvent['kind'];

/** One notification that was delivered. */
export interface SentNotification {
  /** ISO time it was delivered */
  at: string;
  event: NotifyEvent;
  text: string;
}

export interface NotifierDeps {
  /** user/repo, named in each notification */
  repository: string;
  /** the incoming webhook (NOTIFY_URL); nothing is sent without one */
  url: string | undefined;
  /** the events that are sent; the others are dropped */
  events: readonly NotifyEvent[];
  log: Logger;
  retry: RetryPolicy;
  dispatcher: Dispatcher;
  /** strings that must never be sent: scrubbed from each text */
  secrets: readonly string[];
  now: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
}

export interface Notifier {
  /**
   * Sends one line about `event` in the background, once per event (the same event seen again
   * is dropped); returns at once and never throws.
   */
  notify(event: ChainEvent): void;
  /** the last ten notifications delivered, newest last */
  recent(): SentNotification[];
  /** Stops retrying and waits for the request under way. */
  close(): Promise<void>;
}

const kept = 10;
// Keys are remembered for this many events: far more than any chain repeats.
const remembered = 1000;

/**
 * Posts `{"text": ...}` to an incoming webhook (Slack, Mattermost, Discord's `/slack`, Teams
 * workflows), one at a time in order, retried like a trigger. A failure is logged, never thrown.
 */
export function createNotifier(deps: NotifierDeps): Notifier {
  const { log, retry } = deps;
  const sleep = deps.sleep ?? sleepUnlessAborted;
  const random = deps.random ?? Math.random;
  const masked = deps.url === undefined ? undefined : maskWholePath(deps.url);
  const secrets = [...deps.secrets, ...(masked?.secrets ?? [])];
  const seen = new Set<string>();
  const sent: SentNotification[] = [];
  const shutdown = new AbortController();
  let tail: Promise<void> = Promise.resolve();

  const postOnce = async (
    url: string,
    text: string,
  ): Promise<{ status?: number; error?: string }> => {
    try {
      const response = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text }),
        dispatcher: deps.dispatcher,
        headersTimeout: retry.timeout,
        bodyTimeout: retry.timeout,
        signal: shutdown.signal,
      });
      await response.body.dump();
      return { status: response.statusCode };
    } catch (err) {
      return { error: redact(err instanceof Error ? err.message : 'request failed', secrets) };
    }
  };

  const deliver = async (url: string, where: string, event: NotifyEvent, text: string) => {
    const started = deps.now();
    for (let attempt = 1; ; attempt++) {
      const answer = await postOnce(url, text);
      if (shutdown.signal.aborted) return;
      const fields = { event, attempt, notify: where, status: answer.status };
      if (answer.status !== undefined && answer.status >= 200 && answer.status < 300) {
        log.info(fields, `notified ${event}`);
        sent.push({ at: new Date(deps.now()).toISOString(), event, text });
        sent.splice(0, Math.max(0, sent.length - kept));
        return;
      }
      const reason =
        answer.status === undefined ? (answer.error ?? 'no answer') : `answered ${answer.status}`;
      const retryable =
        answer.status === undefined || answer.status === 429 || answer.status >= 500;
      if (!retryable) {
        log.error(fields, `notification of ${event} refused, not retried: ${where} ${reason}`);
        return;
      }
      const wait = nextRetryWait(attempt, started, retry, deps.now, random);
      if (wait === undefined) {
        log.error(
          fields,
          `notification of ${event} failed, giving up after ${attempt} attempt(s): ${where} ${reason}`,
        );
        return;
      }
      log.warn(
        { ...fields, retryIn: wait },
        `notification of ${event} failed, retrying: ${reason}`,
      );
      try {
        await sleep(wait, shutdown.signal);
      } catch {
        return;
      }
    }
  };

  return {
    notify(happened) {
      if (deps.url === undefined || masked === undefined) return;
      const { event, key, text } = describeEvent(deps.repository, happened);
      if (!deps.events.includes(event) || shutdown.signal.aborted || seen.has(key)) return;
      seen.add(key);
      if (seen.size > remembered) seen.delete(seen.values().next().value as string);
      const url = deps.url;
      const clean = redact(text, secrets);
      tail = tail.then(() => deliver(url, masked.shown, event, clean));
    },
    recent: () => [...sent],
    async close() {
      shutdown.abort();
      await tail;
    },
  };
}

/**
 * An incoming webhook's URL as it may be shown: its host. Its whole path and query are secret
 * (a Slack webhook's key is in its path).
 */
function maskWholePath(url: string): { shown: string; secrets: string[] } {
  const parts = maskUrl(url, true);
  let shown = '***';
  const secrets = [url, ...parts.secrets];
  try {
    const parsed = new URL(url);
    const rest = `${parsed.pathname}${parsed.search}`;
    shown = `${parsed.protocol}//${parsed.host}${rest.length > 1 ? '/***' : ''}`;
    if (rest.length > 1) secrets.push(rest, decodeURIComponent(rest));
  } catch {
    // A URL that does not parse, or a path that does not decode, is hidden as written above.
  }
  return { shown, secrets: [...new Set(secrets)].filter((secret) => secret.length > 1) };
}
