import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkJournalPath } from '../../../webapp/chain/check-journal-path';

describe('checkJournalPath', () => {
  const dir = () => mkdtempSync(join(tmpdir(), 'dtp-journal-path-'));

  it('accepts a file in a folder it can make', () => {
    const path = join(dir(), 'state', 'pending.json');
    expect(checkJournalPath(path)).toBeUndefined();
    expect(existsSync(join(path, '..'))).toBe(true);
  });

  it('refuses a path under a file, saying why', () => {
    const file = join(dir(), 'plain-file');
    writeFileSync(file, 'x');
    expect(checkJournalPath(join(file, 'pending.json'))).toMatch(
      /^cannot keep the journal at .*plain-file\/pending\.json \(E[A-Z]+\)$/,
    );
  });

  it('refuses a folder', () => {
    const folder = dir();
    expect(checkJournalPath(folder)).toBe(`${folder} is a folder, not a file`);
  });
});
