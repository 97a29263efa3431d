import type { Dispatcher } from 'undici';
import { readRetryAfter } from '../http/read-retry-after';
import { sendRequest } from '../http/send-request';
import type { Logger } from '../logging/create-logger';
import type { ChainEvent, Clock, RetryPolicy } from '../types';
import { retry } from '../timing/retry';
import { maskUrl } from '../secrets/mask-url';
import { redact } from '../secrets/redact';
import { describeEvent, describeFolded, type FoldedEvents } from './describe-event';

/** What can be notified, by the names NOTIFY_ON takes. */
export const notifyEvents = [
  'given-up',
  'build-failed',
  'stalled',
  'chain-complete',
  'wave-started',
  'database-down',
] as const;

/** What NOTIFY_ON names when it is not set: a wave's start is heard only when asked for. */
export const defaultNotifyEvents: NotifyEvent[] = notifyEvents.filter(
  (event) => event !== 'wave-started',
);

export type NotifyEvent = ChainEvent['kind'];

/** One notification that was delivered. */
export interface SentNotification {
  /** ISO time it was delivered */
  at: string;
  event: NotifyEvent;
  text: string;
}

/** A receiver answers `ok` or a short error: nothing more of it is read. */
const receiverAnswerLimit = 16 * 1024;

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
  clock: Pick<Clock, 'now' | 'sleep' | 'random'>;
}

export interface Notifier {
  /**
   * Sends one line about `event` in the background, once per event (the same event seen again
   * is dropped); returns at once and never throws.
   */
  notify(event: ChainEvent): void;
  /** the last ten notifications delivered, newest last */
  recent(): SentNotification[];
  /** how many messages wait to be sent; never more than notifyQueueBound */
  waiting(): number;
  /** Stops retrying and waits for the request under way. */
  close(): Promise<void>;
}

const kept = 10;
// Keys are remembered for this many events: far more than any chain repeats.
const remembered = 1000;
/** Messages that may wait to be sent; each can stand for many events of one kind. */
export const notifyQueueBound = 30;
/** A waiting message takes in the events of its kind told this long after its first. */
export const notifyFoldWindow = 60_000;
/** The least time between two POSTs: Slack takes about one message a second per webhook. */
export const notifySpacing = 1000;
// A folded message lists this many tags by name and counts the rest.
const listed = 10;

interface Waiting extends FoldedEvents {
  /** when its first event was told */
  firstAt: number;
  /** the line of its first event, sent as it is while it stands for one event */
  text: string;
}

/**
 * Posts `{"text": ...}` to an incoming webhook (Slack, Mattermost, Discord's `/slack`, Teams
 * workflows), one at a time and at most one a second, retried like a trigger. Events of one
 * kind fold into one waiting message; the important kinds go first, and only `chain-complete`
 * is ever dropped. A failure is logged, never thrown.
 */
export function createNotifier(deps: NotifierDeps): Notifier {
  const { log, clock } = deps;
  const masked = deps.url === undefined ? undefined : maskWholePath(deps.url);
  const secrets = [...deps.secrets, ...(masked?.secrets ?? [])];
  const seen = new Set<string>();
  const sent: SentNotification[] = [];
  const waiting: Waiting[] = [];
  const overflow = { dropped: 0, folded: 0 };
  const shutdown = new AbortController();
  let lastPost = -Infinity;
  let pumping = false;
  let running: Promise<void> = Promise.resolve();

  const postOnce = async (
    url: string,
    text: string,
  ): Promise<{ status?: number; error?: string; asked?: number }> => {
    try {
      const response = await sendRequest(
        url,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ text }),
          dispatcher: deps.dispatcher,
        },
        { deadline: deps.retry.timeout, maxBytes: receiverAnswerLimit, signal: shutdown.signal },
      );
      const asked =
        response.status === 429 ? readRetryAfter(response.headers, clock.now()) : undefined;
      return { status: response.status, ...(asked === undefined ? {} : { asked }) };
    } catch (err) {
      return { error: redact(err instanceof Error ? err.message : 'request failed', secrets) };
    }
  };

  // Waits until a POST may go out, one at most every notifySpacing; false on shutdown.
  const waitTurn = async (): Promise<boolean> => {
    const gap = lastPost + notifySpacing - clock.now();
    if (gap > 0) {
      try {
        await clock.sleep(gap, shutdown.signal);
      } catch {
        return false;
      }
    }
    return !shutdown.signal.aborted;
  };

  const deliver = async (url: string, where: string, event: NotifyEvent, text: string) => {
    let last: { status?: number; reason: string } = { reason: 'no answer' };
    const fieldsOf = (attempt: number) => ({ event, attempt, notify: where, status: last.status });
    const result = await retry<boolean>(
      async (attempt) => {
        if (!(await waitTurn())) return { again: 'stopped', quiet: true };
        lastPost = clock.now();
        const answer = await postOnce(url, escapeText(text));
        if (shutdown.signal.aborted) return { again: 'stopped', quiet: true };
        const reason =
          answer.status === undefined ? (answer.error ?? 'no answer') : `answered ${answer.status}`;
        last = { ...(answer.status === undefined ? {} : { status: answer.status }), reason };
        if (answer.status !== undefined && answer.status >= 200 && answer.status < 300) {
          log.info(fieldsOf(attempt), `notified ${event}`);
          sent.push({ at: new Date(clock.now()).toISOString(), event, text });
          sent.splice(0, Math.max(0, sent.length - kept));
          return { done: true };
        }
        const retryable =
          answer.status === undefined || answer.status === 429 || answer.status >= 500;
        if (retryable)
          return { again: reason, ...(answer.asked === undefined ? {} : { wait: answer.asked }) };
        log.error(
          fieldsOf(attempt),
          `notification of ${event} refused, not retried: ${where} ${reason}`,
        );
        return { done: false };
      },
      {
        policy: deps.retry,
        clock,
        signal: shutdown.signal,
        onRetry: (attempt, wait, reason) =>
          log.warn(
            { ...fieldsOf(attempt), retryIn: wait },
            `notification of ${event} failed, retrying: ${reason}`,
          ),
      },
    );
    if (result.kind === 'given-up') {
      log.error(
        fieldsOf(result.attempts),
        `notification of ${event} failed, giving up after ${result.attempts} attempt(s): ${where} ${result.reason}`,
      );
    }
  };

  const reportOverflow = () => {
    if (overflow.dropped === 0 && overflow.folded === 0) return;
    log.warn(
      { dropped: overflow.dropped, folded: overflow.folded, bound: notifyQueueBound },
      `notifications overflowed the queue of ${notifyQueueBound} messages: ` +
        `${overflow.dropped} chain-complete event(s) dropped, ` +
        `${overflow.folded} event(s) folded into waiting messages`,
    );
    overflow.dropped = 0;
    overflow.folded = 0;
  };

  const pump = async (url: string, where: string) => {
    // The turn is awaited before a message is chosen: meanwhile, new events fold into the
    // waiting ones, and an important one that comes goes first.
    while (waiting.length > 0 && (await waitTurn())) {
      const important = waiting.findIndex((message) => message.event !== 'chain-complete');
      const [message] = waiting.splice(Math.max(0, important), 1);
      if (message === undefined) break;
      if (waiting.length === 0) reportOverflow();
      const text = redact(
        message.count === 1 ? message.text : describeFolded(deps.repository, message),
        secrets,
      );
      await deliver(url, where, message.event, text);
    }
    // Set in the same turn as the last look at the queue: a later event starts a new pump.
    pumping = false;
  };

  const enqueue = (event: NotifyEvent, name: string, text: string) => {
    const now = clock.now();
    const single: Waiting = { event, count: 1, names: [name], unlisted: false, firstAt: now, text };
    const newest = waiting.findLast((message) => message.event === event);
    if (newest !== undefined && now - newest.firstAt < notifyFoldWindow) {
      fold(newest, single);
      return;
    }
    if (waiting.length < notifyQueueBound) {
      waiting.push(single);
      return;
    }
    if (newest !== undefined) {
      fold(newest, single);
      overflow.folded += 1;
      return;
    }
    if (event === 'chain-complete') {
      overflow.dropped += 1;
      return;
    }
    const cheap = waiting.findIndex((message) => message.event === 'chain-complete');
    if (cheap >= 0) {
      overflow.dropped += waiting[cheap]?.count ?? 0;
      waiting.splice(cheap, 1);
    } else {
      // Every waiting message is of an important kind, and there are more of them than
      // kinds: two are of one kind, and the later one joins the earlier one.
      const later = waiting.findIndex((message, index) =>
        waiting.slice(0, index).some((earlier) => earlier.event === message.event),
      );
      const message = waiting[later] as Waiting;
      fold(waiting.find((earlier) => earlier.event === message.event) as Waiting, message);
      overflow.folded += message.count;
      waiting.splice(later, 1);
    }
    waiting.push(single);
  };

  return {
    notify(happened) {
      if (deps.url === undefined || masked === undefined) return;
      const { event, key, name, text } = describeEvent(deps.repository, happened);
      if (!deps.events.includes(event) || shutdown.signal.aborted || seen.has(key)) return;
      seen.add(key);
      if (seen.size > remembered) seen.delete(seen.values().next().value as string);
      enqueue(event, name, text);
      if (pumping) return;
      pumping = true;
      running = pump(deps.url, masked.shown);
    },
    recent: () => [...sent],
    waiting: () => waiting.length,
    async close() {
      shutdown.abort();
      await running;
      waiting.length = 0;
      reportOverflow();
    },
  };
}

/** Adds the events of `from` to `into`, its list of names kept short. */
function fold(into: Waiting, from: FoldedEvents): void {
  into.count += from.count;
  const names = [...into.names];
  for (const name of from.names) {
    if (names.includes(name)) continue;
    if (names.length < listed) names.push(name);
    else into.unlisted = true;
  }
  into.names = names;
  into.unlisted ||= from.unlisted;
}

/** Slack's escaping of message text: its markup (`<!channel>`, `<url|label>`) then stays text. */
function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
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
