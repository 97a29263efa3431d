import { readFileSync } from 'node:fs';
import { createJournal } from '../chain/create-journal';
import type { Logger } from '../logging/create-logger';
import { readKnownParts } from './read-known-parts';
import { writeWholeFile } from './write-whole-file';
import { emptyState, type SavedState, type StateStore } from './state-store';

/** The file beside the journal that keeps the rest of the state: `pending.json` → `pending.known.json`. */
export const knownPathOf = (journalPath: string): string =>
  journalPath.endsWith('.json')
    ? `${journalPath.slice(0, -'.json'.length)}.known.json`
    : `${journalPath}.known.json`;

/**
 * The state on this machine's disk: the journal at `path`, as it always was, and what else is
 * known beside it. Each file is written whole to a temporary file then renamed over the old one,
 * so a crash leaves one or the other. One process writes it: what it claims is its own.
 */
export function createFileStore(path: string, log: Logger): StateStore {
  const journal = createJournal(path, log);
  const knownPath = knownPathOf(path);
  let rest: Omit<SavedState, 'journal'> = { pushes: {}, upstream: {}, digests: {} };
  const writeRest = () => {
    try {
      writeWholeFile(knownPath, JSON.stringify(rest));
    } catch (err) {
      log.error({ err, path: knownPath }, 'cannot write what the app knows of pushes and digests');
    }
  };
  const read = (): SavedState => {
    const state = emptyState();
    state.journal = journal.load();
    let text: string | undefined;
    try {
      text = readFileSync(knownPath, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        log.error({ err, path: knownPath }, 'cannot read what the app knows; starting without it');
      }
    }
    if (text !== undefined) {
      let parsed: Omit<SavedState, 'journal'> | undefined;
      try {
        parsed = readKnownParts(JSON.parse(text));
      } catch {
        parsed = undefined;
      }
      if (parsed !== undefined) rest = parsed;
      else {
        log.error(
          { path: knownPath },
          'what the app knows of pushes and digests is corrupt; starting without it',
        );
      }
    }
    return { ...state, ...rest };
  };
  return {
    kind: 'file',
    load: async () => read(),
    read: () => read(),
    save(part, value) {
      if (part === 'journal') {
        journal.save(value as SavedState['journal']);
        return;
      }
      rest = { ...rest, [part]: value };
      writeRest();
    },
    async flush() {},
    async close() {},
  };
}
