import { readFileSync, renameSync } from 'node:fs';
import { writeWholeFile } from '../store/write-whole-file';
import { z } from 'zod';
import type { Logger } from '../logging/create-logger';

/** A trigger that is owed: `tag` is built at `dueAt` (ms since the epoch). */
export interface PendingTrigger {
  /**
   * This trigger's own name, kept as long as it is owed: what claims it, so that a dyno that
   * takes over after a crash knows whether it was sent.
   */
  id?: string;
  tag: string;
  dueAt: number;
  /** the tag whose push queued it */
  after: string;
  /** that push's pushed_at, to know its repeated deliveries after a restart */
  pushedAt?: string;
  /**
   * Not a trigger owed but a build awaited: `tag` was triggered at `dueAt` and its push has not
   * come, so what is built from it waits, after a restart too.
   */
  awaited?: true;
}

export interface Journal {
  load(): PendingTrigger[];
  save(pending: readonly PendingTrigger[]): void;
}

// The range of a JavaScript Date: a time outside it cannot be scheduled, logged or shown.
const latestDate = 8.64e15;

const entries = z.array(
  z.object({
    id: z.string().max(100).optional(),
    tag: z.string(),
    dueAt: z.number().refine((ms) => Math.abs(ms) <= latestDate),
    after: z.string(),
    pushedAt: z.string().optional(),
    awaited: z.literal(true).optional(),
  }),
);

/**
 * Pending triggers on disk, so that a restart on the same filesystem owes nothing. Written
 * whole to a temporary file then renamed over the old one, so a crash leaves one or the other.
 */
export function createJournal(path: string, log: Logger): Journal {
  return {
    load() {
      let text: string;
      try {
        text = readFileSync(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
          log.error({ err, path }, 'cannot read the journal of pending triggers; starting empty');
        }
        return [];
      }
      let parsed: PendingTrigger[] | undefined;
      try {
        parsed = readJournalEntries(JSON.parse(text));
      } catch {
        parsed = undefined;
      }
      if (parsed !== undefined) return parsed;
      const aside = `${path}.corrupt-${Date.now()}`;
      try {
        renameSync(path, aside);
        log.error({ path, aside }, 'the journal of pending triggers is corrupt; moved it aside');
      } catch (err) {
        log.error({ err, path }, 'the journal of pending triggers is corrupt and cannot be moved');
      }
      return [];
    },
    save(pending) {
      try {
        writeWholeFile(path, JSON.stringify(pending));
      } catch (err) {
        log.error({ err, path }, 'cannot write the journal of pending triggers');
      }
    },
  };
}

/** The journal's entries in `value`, or undefined when it is not a journal this app wrote. */
export function readJournalEntries(value: unknown): PendingTrigger[] | undefined {
  const read = entries.safeParse(value);
  if (!read.success) return undefined;
  return read.data.map((entry) => ({
    ...(entry.id === undefined ? {} : { id: entry.id }),
    tag: entry.tag,
    dueAt: entry.dueAt,
    after: entry.after,
    ...(entry.pushedAt === undefined ? {} : { pushedAt: entry.pushedAt }),
    ...(entry.awaited === true ? { awaited: true as const } : {}),
  }));
}
