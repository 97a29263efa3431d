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
  const blocks =
    'blocks' in event && event.blocks !== undefined && event.blocks.length > 0
      ? `; blocks ${listed(event.blocks)}`
      : '';
  switch (event.kind) {
    case 'given-up':
      return {
        event: event.kind,
        key: `given-up:${event.tag}:${event.at}`,
        name: event.tag,
        text: `${repository}: trigger of ${event.tag} given up: ${event.reason}${blocks}`,
      };
    case 'build-failed': {
      const cancelled = event.run.state === 'cancelled';
      return {
        event: event.kind,
        key: `build-failed:${event.tag}:${event.run.id}`,
        name: cancelled ? `${event.tag} (cancelled)` : event.tag,
        text: `${repository}: build of ${event.tag} ${cancelled ? 'was cancelled' : 'failed'}: ${event.run.url ?? `run ${event.run.id}`}${blocks}`,
      };
    }
    case 'stalled':
      return {
        event: event.kind,
        key: `stalled:${event.tag}:${event.since}`,
        name: event.tag,
        text: `${repository}: chain stalled: no push of ${event.tag} since its trigger at ${iso(event.since)}${blocks}`,
      };
    case 'wave-started':
      return {
        event: event.kind,
        key: `wave-started:${event.at}`,
        name: event.by,
        text: `${repository}: wave started by ${event.by}: ${event.total} image(s) to build`,
      };
    case 'chain-complete':
      return {
        event: event.kind,
        key: `chain-complete:${event.tag}:${event.at}`,
        name: event.tag,
        text: `${repository}: ${describeWave(event, iso)}`,
      };
    case 'database-down':
      return {
        event: event.kind,
        key: `database-down:${event.since}`,
        name: 'the database',
        text: `${repository}: the database has not answered since ${iso(event.since)}: deliveries are kept in memory, and nothing is sent until it answers`,
      };
  }
}

/** A wave's end: the last push for a wave of one, else its counts and how long it took. */
function describeWave(
  event: Extract<ChainEvent, { kind: 'chain-complete' }>,
  iso: (ms: number) => string,
): string {
  const wave = event.wave;
  const pushed = `${event.tag} pushed at ${iso(event.at)}`;
  if (wave === undefined || (wave.total <= 1 && wave.failed + wave.blocked === 0)) {
    return `chain complete: ${pushed}`;
  }
  const took = duration(Math.max(0, event.at - wave.startedAt));
  if (wave.failed + wave.blocked > 0) {
    return `wave ended: ${wave.built} of ${wave.total} built, ${wave.failed} failed, ${wave.blocked} blocked, in ${took} (started by ${wave.by})`;
  }
  return `wave complete: ${wave.total} built in ${took} (started by ${wave.by}), the last ${pushed}`;
}

function duration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 120) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  return minutes < 120 ? `${minutes} min` : `${Math.round(minutes / 60)} h`;
}

/** A few names, the rest counted: a notification is one short line. */
function listed(names: readonly string[]): string {
  const shown = names.slice(0, 5).join(', ');
  return names.length > 5 ? `${shown} and ${names.length - 5} more` : shown;
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
    case 'wave-started':
      return `${repository}: ${folded.count} waves started: by ${list}`;
    case 'chain-complete':
      return `${repository}: chain complete ${folded.count} times: ${list} pushed`;
    case 'database-down':
      return `${repository}: the database stopped answering ${folded.count} times`;
  }
}
