import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Writes `text` as the whole of `path`: to a temporary file beside it, then renamed over it, so
 * that a crash leaves the old file or the new one, never half of one. Throws what failed, with
 * nothing left behind.
 */
export function writeWholeFile(path: string, text: string): void {
  const temp = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(temp, text);
    renameSync(temp, path);
  } catch (err) {
    try {
      rmSync(temp, { force: true });
    } catch {
      // nothing was left behind to remove, or it cannot be: the error thrown says why
    }
    throw err;
  }
}
