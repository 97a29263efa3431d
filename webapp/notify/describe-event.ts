import type { ChainEvent } from '../types';

/**
 * One event as a notification: the NOTIFY_ON name it goes by, the key that makes a repeat of
 * it the same notification, and one short line that names the repository and the tag.
 */
export function describeEvent(
  repository: string,
  event: ChainEvent,
): { event: ChainEvent['kind']; key: string; text: string } {
  const iso = (ms: number) => new Date(ms).toISOString();
  switch (event.kind) {
    case 'given-up':
      return {
        event: event.kind,
        key: `given-up:${event.tag}:${event.at}`,
        text: `${repository}: trigger of ${event.tag} given up: ${event.reason}`,
      };
    case 'build-failed': {
      const what = event.run.state === 'cancelled' ? 'was cancelled' : 'failed';
      return {
        event: event.kind,
        key: `build-failed:${event.tag}:${event.run.id}`,
        text: `${repository}: build of ${event.tag} ${what}: ${event.run.url ?? `run ${event.run.id}`}`,
      };
    }
    case 'stalled':
      return {
        event: event.kind,
        key: `stalled:${event.tag}:${event.since}`,
        text: `${repository}: chain stalled: no push of ${event.tag} since its trigger at ${iso(event.since)}`,
      };
    case 'chain-complete':
      return {
        event: event.kind,
        key: `chain-complete:${event.tag}:${event.at}`,
        text: `${repository}: chain complete: ${event.tag} pushed at ${iso(event.at)}`,
      };
  }
}
