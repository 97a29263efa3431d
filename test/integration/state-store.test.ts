import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFileStore } from '../../webapp/store/create-file-store';
import { createPgStore } from '../../webapp/store/create-pg-store';
import type { StateStore } from '../../webapp/store/state-store';
import { realClock } from '../../webapp/timing/real-clock';
import { captureLogs } from '../helpers/logs';
import { startPostgres, type RunningPostgres } from '../helpers/start-postgres';

// The same promises from both stores: what one keeps across a restart, the other keeps too.
let postgres: RunningPostgres;
let folder: string;
let databases = 0;

beforeAll(async () => {
  postgres = await startPostgres();
  folder = mkdtempSync(join(tmpdir(), 'dtp-store-'));
});
afterAll(async () => {
  await postgres?.stop();
  rmSync(folder, { recursive: true, force: true });
});

interface Kind {
  name: string;
  /** a place for one test's state: every store opened on it sees the same */
  place(): Promise<string>;
  open(place: string): Promise<StateStore>;
}

const kinds: Kind[] = [
  {
    name: 'the file store',
    place: async () => join(folder, `state-${++databases}`, 'pending.json'),
    open: async (place) => createFileStore(place, captureLogs().log),
  },
  {
    name: 'the PostgreSQL store',
    place: () => postgres.createDatabase(`store_${++databases}`),
    open: async (place) => {
      // Its state is written by the lease's holder: every store opened on one place is the same
      // dyno, restarted.
      const store = createPgStore({
        url: place,
        log: captureLogs().log,
        clock: realClock,
        holder: `dyno-of-${place}`,
        leaseTime: 60_000,
      });
      await store.migrate();
      await store.holdLease();
      return store;
    },
  },
];

describe.each(kinds)('$name', (kind) => {
  it('starts empty', async () => {
    const store = await kind.open(await kind.place());
    expect(await store.load()).toEqual({ journal: [], pushes: {}, upstream: {}, digests: {} });
    await store.close();
  });

  it('gives back every part after a restart, the latest of each', async () => {
    const place = await kind.place();
    const first = await kind.open(place);
    first.save('journal', [{ id: 'one', tag: 'b', dueAt: 1000, after: 'a', pushedAt: '1' }]);
    first.save('journal', [
      { id: 'two', tag: 'c', dueAt: 2000, after: 'b' },
      { tag: 'd', dueAt: 1500, after: 'd', awaited: true },
    ]);
    first.save('pushes', { a: 1000, b: 2000 });
    first.save('upstream', { 'library/alpine:3.20': 'sha256:' + 'a'.repeat(64) });
    first.save('digests', { 'ghcr.io/acme/svc:a': ['sha256:' + 'b'.repeat(64)] });
    await first.flush();
    await first.close();
    const second = await kind.open(place);
    expect(await second.load()).toEqual({
      journal: [
        { id: 'two', tag: 'c', dueAt: 2000, after: 'b' },
        { tag: 'd', dueAt: 1500, after: 'd', awaited: true },
      ],
      pushes: { a: 1000, b: 2000 },
      upstream: { 'library/alpine:3.20': 'sha256:' + 'a'.repeat(64) },
      digests: { 'ghcr.io/acme/svc:a': ['sha256:' + 'b'.repeat(64)] },
    });
    await second.close();
  });

  it('writes what is saved before close without a flush', async () => {
    const place = await kind.place();
    const first = await kind.open(place);
    first.save('pushes', { a: 5 });
    await first.close();
    const second = await kind.open(place);
    expect((await second.load()).pushes).toEqual({ a: 5 });
    await second.close();
  });
});

describe('the file store', () => {
  it('reads the journal an older release wrote', async () => {
    const path = join(folder, 'older', 'pending.json');
    const store = createFileStore(path, captureLogs().log);
    store.save('journal', []);
    writeFileSync(path, JSON.stringify([{ tag: 'b', dueAt: 1000, after: 'a' }]));
    expect((await store.load()).journal).toEqual([{ tag: 'b', dueAt: 1000, after: 'a' }]);
  });
});
