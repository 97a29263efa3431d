import type { ChainEvent } from '../types';

/**
 * One event as a notification: the NOTIFY_ON name it goes by, the key that makes a repeat of
 * it the same notification, the name it is listed by when several are folded into one line,
 * and one short line that names the repository and the tag.
 */
export function describeEvent(
  repository: string,
  event: ChainEvent,
): { event: ChainEvent['kind']; key: string; name: string; text: string } {
  const iso = (ms: number) => new Date(ms).toISOString();
  switch (event.kind) {
    case 'given-up':
      return {
        event: event.kind,
        key: `given-up:${event.tag}:${event.at}`,
        name: event.tag,
        text: `${repository}: trigger of ${event.tag} given up: ${event.reason}`,
      };
    case 'build-failed': {
      const cancelled = event.run.state === 'cancelled';
      return {
        event: event.kind,
        key: `build-failed:${event.tag}:${event.run.id}`,
        name: cancelled ? `${event.tag} (cancelled)` : event.tag,
        text: `${repository}: build of ${event.tag} ${cancelled ? 'was cancelled' : 'failed'}: ${event.run.url ?? `run ${event.run.id}`}`,
      };
    }
    case 'stalled':
      return {
        event: event.kind,
        key: `stalled:${event.tag}:${event.since}`,
        name: event.tag,
        text: `${repository}: chain stalled: no push of ${event.tag} since its trigger at ${iso(event.since)}`,
      };
    case 'chain-complete':
      return {
        event: event.kind,
        key: `chain-complete:${event.tag}:${event.at}`,
        name: event.tag,
        text: `${repository}: chain complete: ${event.tag} pushed at ${iso(event.at)}`,
      };
  }
}

/** Several events of one kind, as the notifier keeps them to send as one line. */
export interface FoldedEvents {
  event: ChainEvent['kind'];
  /** how many events, every one counted */
  count: number;
  /** the names of their tags, each once, in the order they came; a bounded list */
  names: readonly string[];
  /** some names were left out of `names` */
  unlisted: boolean;
}

/** Events of one kind as one line that counts them: `acme/app: 3 builds failed: a, b, c`. */
export function describeFolded(repository: string, folded: FoldedEvents): string {
  const list = `${folded.names.join(', ')}${folded.unlisted ? ' and others' : ''}`;
  switch (folded.event) {
    case 'given-up':
      return `${repository}: ${folded.count} triggers given up: ${list}`;
    case 'build-failed':
      return `${repository}: ${folded.count} builds failed: ${list}`;
    case 'stalled':
      return `${repository}: chain stalled ${folded.count} times: no push of ${list}`;
    case 'chain-complete':
      return `${repository}: chain complete ${folded.count} times: ${list} pushed`;
  }
}
