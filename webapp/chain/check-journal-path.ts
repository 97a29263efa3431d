import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Why the journal cannot be kept at `path`, or undefined when it can: its folder can be made
 * and written to, and the path is not a folder. Checked once at start, so that a bad STATE_FILE
 * stops the web process with one message rather than failing at every write.
 */
export function checkJournalPath(path: string): string | undefined {
  try {
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory() === true) {
      return `${path} is a folder, not a file`;
    }
    mkdirSync(dirname(path), { recursive: true });
    accessSync(dirname(path), constants.W_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return `cannot keep the journal at ${path}${code === undefined ? '' : ` (${code})`}`;
  }
}
