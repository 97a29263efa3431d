import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createJournal } from '../../../webapp/chain/create-journal';
import { buildTestApp, delivery, flush, memoryJournal } from '../../helpers/app';
import { captureLogs } from '../../helpers/logs';

describe('the journal of pending triggers', () => {
  const dir = () => mkdtempSync(join(tmpdir(), 'dtp-journal-'));

  it('holds a queued trigger until it is sent', async () => {
    const path = join(dir(), 'state', 'pending.json');
    const app = buildTestApp({}, createJournal(path, captureLogs().log));
    await app.post(delivery('init'));
    // Named, so that the dyno that sends it can claim it, after a restart too.
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual([
      {
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        tag: 'step-1',
        after: 'init',
        dueAt: app.timers.now() + 100_000,
        pushedAt: '1764158400',
      },
    ]);
    app.timers.advance(100_000);
    await flush();
    // sent: no longer owed, its build awaited (what is built from it waits, after a restart too)
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual([
      { tag: 'step-1', after: 'step-1', dueAt: app.timers.now(), awaited: true },
    ]);
    expect(readdirSync(join(path, '..'))).toEqual(['pending.json']);
    expect(app.triggered).toEqual(['step-1']);
  });

  it('is read back on start: an overdue trigger is sent at once, a later one when due', async () => {
    const start = Date.UTC(2026, 10, 26, 12);
    const journal = memoryJournal([
      { tag: 'step-2', after: 'step-1', dueAt: start - 60_000, pushedAt: '5' },
      { tag: 'latest', after: 'step-3', dueAt: start + 30_000 },
      { tag: 'gone-from-sequence', after: 'x', dueAt: start },
    ]);
    const t = buildTestApp({}, journal);
    expect(t.propagator.resume()).toBe(2);
    t.timers.advance(0);
    expect(t.triggered).toEqual(['step-2']);
    t.timers.advance(30_000);
    // latest is built from step-3, built from step-2, which is being built: it waits for them
    expect(t.triggered).toEqual(['step-2']);
    expect(t.propagator.status().pending).toContainEqual(
      expect.objectContaining({ tag: 'latest' }),
    );
    await flush();
    // the delivery that queued step-2 is still known after the restart
    const repeat = delivery('step-1', { push_data: { tag: 'step-1', pushed_at: 5 } });
    expect((await t.post(repeat)).json()).toMatchObject({ duplicate: true });
  });

  it('still awaits after a restart a build that was awaited, and holds what is built from it', async () => {
    const start = Date.UTC(2026, 10, 26, 12);
    const journal = memoryJournal([
      { tag: 'step-1', after: 'step-1', dueAt: start - 60_000, awaited: true },
    ]);
    const t = buildTestApp({}, journal);
    expect(t.propagator.resume()).toBe(0);
    expect(t.propagator.status().awaiting).toEqual([
      { tag: 'step-1', since: new Date(start - 60_000).toISOString() },
    ]);
    // a push of init meanwhile: step-1 is rebuilt after its awaited build, step-2 only after that
    await t.post(delivery('init', { push_data: { tag: 'init', pushed_at: 1764158401 } }));
    t.timers.advance(100_000);
    await flush();
    expect(t.triggered).toEqual(['step-1']);
  });

  it('keeps what is owed when the process stops', async () => {
    const journal = memoryJournal();
    const t = buildTestApp({}, journal);
    await t.post(delivery('init'));
    await t.propagator.close();
    t.timers.advance(1_000_000);
    expect(t.triggered).toEqual([]);
    expect(journal.load()).toEqual([expect.objectContaining({ tag: 'step-1' })]);
  });

  it('moves a corrupt journal aside and starts empty', () => {
    const folder = dir();
    const path = join(folder, 'pending.json');
    writeFileSync(path, '{"tag": "step-1", dueAt');
    const logs = captureLogs();
    expect(createJournal(path, logs.log).load()).toEqual([]);
    expect(readdirSync(folder)).toEqual([expect.stringMatching(/^pending\.json\.corrupt-\d+$/)]);
    expect(logs.entries()).toEqual([
      expect.objectContaining({ level: 50, msg: expect.stringMatching(/corrupt; moved it aside/) }),
    ]);
  });

  it('treats a journal of the wrong shape as corrupt', () => {
    const folder = dir();
    const path = join(folder, 'pending.json');
    writeFileSync(path, '[{"tag": 1}]');
    expect(createJournal(path, captureLogs().log).load()).toEqual([]);
    expect(readdirSync(folder)[0]).toMatch(/corrupt/);
  });

  it.each([1e300, -1e300, 8.65e15])(
    'moves a journal with an entry due at %d (no date) aside, and starts',
    async (dueAt) => {
      const folder = dir();
      const path = join(folder, 'pending.json');
      writeFileSync(path, JSON.stringify([{ tag: 'step-1', after: 'init', dueAt }]));
      const t = buildTestApp({}, createJournal(path, captureLogs().log));
      expect(t.propagator.resume()).toBe(0);
      t.timers.advance(0);
      expect(t.triggered).toEqual([]);
      expect((await t.app.inject('/status')).json()).toMatchObject({ pending: [] });
      expect(readdirSync(folder).sort()).toEqual([
        'pending.json',
        expect.stringMatching(/^pending\.json\.corrupt-\d+$/),
      ]);
      // the next start finds the journal that was written anew, not the damaged one
      expect(buildTestApp({}, createJournal(path, captureLogs().log)).propagator.resume()).toBe(0);
    },
  );

  it('drops an entry due later than any delay allows, rather than firing it', () => {
    const start = Date.UTC(2026, 10, 26, 12);
    const journal = memoryJournal([
      { tag: 'step-1', after: 'init', dueAt: start + 30 * 86400_000 },
      { tag: 'step-3', after: 'step-2', dueAt: start + 86400_000 },
    ]);
    const t = buildTestApp({}, journal);
    expect(t.propagator.resume()).toBe(1);
    t.timers.advance(86400_000 - 1);
    expect(t.triggered).toEqual([]);
    t.timers.advance(60 * 86400_000);
    expect(t.triggered).toEqual(['step-3']);
    expect(t.logs.entries()).toContainEqual(
      expect.objectContaining({
        level: 50,
        tag: 'step-1',
        msg: expect.stringMatching(/dropped the pending trigger of step-1: due at 2026-12-26T/),
      }),
    );
  });

  it('says why it drops an entry for a tag no longer in the sequence', () => {
    const journal = memoryJournal([{ tag: 'retired', after: 'init', dueAt: Date.now() }]);
    const t = buildTestApp({}, journal);
    expect(t.propagator.resume()).toBe(0);
    expect(t.logs.entries()).toContainEqual(
      expect.objectContaining({
        level: 40,
        tag: 'retired',
        msg: 'dropped the pending trigger of retired: the tag is no longer in TAG_SEQUENCE',
      }),
    );
    expect(journal.load()).toEqual([]);
  });

  it('leaves no temporary file behind when STATE_FILE is a directory', () => {
    const folder = dir();
    const path = join(folder, 'pending.json');
    mkdirSync(path);
    const logs = captureLogs();
    createJournal(path, logs.log).save([{ tag: 'a', after: 'b', dueAt: 1 }]);
    expect(readdirSync(folder)).toEqual(['pending.json']);
    expect(logs.entries()).toEqual([
      expect.objectContaining({ level: 50, msg: 'cannot write the journal of pending triggers' }),
    ]);
  });

  it('logs an unwritable journal and goes on', () => {
    const blocker = join(dir(), 'a-file');
    writeFileSync(blocker, '');
    const logs = captureLogs();
    const journal = createJournal(join(blocker, 'sub', 'pending.json'), logs.log);
    expect(() => journal.save([{ tag: 'a', after: 'b', dueAt: 1 }])).not.toThrow();
    expect(logs.entries()).toEqual([
      expect.objectContaining({ level: 50, msg: 'cannot write the journal of pending triggers' }),
    ]);
  });
});

describe('stalled chains', () => {
  const hours = 3600_000;

  it('logs an error naming the tag and since when, when its push does not come', async () => {
    const t = buildTestApp();
    await t.post(delivery('init'));
    t.timers.advance(100_000);
    await flush();
    const triggeredAt = new Date(t.timers.now()).toISOString();
    t.timers.advance(5 * hours - 1);
    expect(t.logs.entries().filter((line) => line.level === 50)).toEqual([]);
    t.timers.advance(1);
    expect(t.logs.entries().filter((line) => line.level === 50)).toEqual([
      expect.objectContaining({
        tag: 'step-1',
        since: triggeredAt,
        msg: `chain stalled: no push of step-1 since its trigger at ${triggeredAt} (failed or ignored build?)`,
      }),
    ]);
    const status = (await t.app.inject('/status')).json();
    expect(status.stalled).toEqual([{ tag: 'step-1', since: triggeredAt }]);
    expect(t.triggered).toEqual(['step-1']);
    // the push comes in the end: the chain goes on and the stall is cleared
    await t.post(delivery('step-1'));
    expect((await t.app.inject('/status')).json().stalled).toEqual([]);
  });

  it('does not count a tag whose push came back in time', async () => {
    const t = buildTestApp();
    await t.post(delivery('init'));
    t.timers.advance(100_000);
    await flush();
    t.timers.advance(hours);
    await t.post(delivery('step-1'));
    t.timers.advance(10 * hours);
    expect(t.logs.entries().filter((line) => line.level === 50 && line.tag === 'step-1')).toEqual(
      [],
    );
  });

  it('triggers a stalled tag once more with STALL_RETRIGGER=1', async () => {
    const t = buildTestApp({ STALL_RETRIGGER: '1', STALL_TIMEOUT: '3600' });
    await t.post(delivery('step-2'));
    t.timers.advance(100_000);
    await flush();
    t.timers.advance(hours);
    await Promise.resolve();
    await new Promise((resolve) => setImmediate(resolve));
    expect(t.triggered).toEqual(['step-3', 'step-3']);
    t.timers.advance(10 * hours);
    expect(t.triggered).toEqual(['step-3', 'step-3']);
    expect(t.logs.entries().filter((line) => line.level === 50)).toHaveLength(2);
  });

  it('expects the first tag after each kick-off', () => {
    const t = buildTestApp({ STALL_TIMEOUT: '60' });
    t.propagator.expect('init');
    t.timers.advance(60_000);
    expect(t.logs.entries().filter((line) => line.level === 50)).toEqual([
      expect.objectContaining({ tag: 'init' }),
    ]);
  });

  it('marks a tag whose trigger failed for good as stalled at once', async () => {
    const t = buildTestApp();
    t.failTriggers({ ok: false, dryRun: false, attempts: 3, reason: 'Docker Hub answered 500' });
    await t.post(delivery('init'));
    t.timers.advance(100_000);
    await flush();
    expect((await t.app.inject('/status')).json()).toMatchObject({
      pending: [],
      stalled: [{ tag: 'step-1' }],
    });
  });
});

describe('health and status', () => {
  it('answers /healthz with {"ok":true}', async () => {
    const t = buildTestApp();
    const response = await t.app.inject('/healthz');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ ok: true });
  });

  it('answers /status with the chain, never a secret', async () => {
    const t = buildTestApp({ WEBHOOK_SECRET: 'status-secret-0123456789' });
    await t.post(delivery('init'), '?token=status-secret-0123456789');
    const response = await t.app.inject('/status?token=status-secret-0123456789');
    expect(response.statusCode).toBe(200);
    const at = new Date(t.timers.now()).toISOString();
    expect(response.json()).toEqual({
      version: '9.9.9',
      dryRun: false,
      repository: 'maddouri/void-docker',
      target: { name: 'dockerhub', where: expect.stringContaining('/trigger/***/') },
      tagSequence: ['init', 'step-1', 'step-2', 'step-3', 'latest'],
      nextKickoff: '2026-11-27T00:00:00.000Z',
      lastPush: { init: at },
      pending: [
        { tag: 'step-1', after: 'init', dueAt: new Date(t.timers.now() + 100_000).toISOString() },
      ],
      awaiting: [],
      stalled: [],
      failed: [],
      tags: [
        { tag: 'init', registryPush: null, appPush: at, state: null, build: null },
        { tag: 'step-1', registryPush: null, appPush: null, state: 'pending', build: null },
        // built once step-1 is: the wave that init's push started holds them
        { tag: 'step-2', registryPush: null, appPush: null, state: 'waiting', build: null },
        { tag: 'step-3', registryPush: null, appPush: null, state: 'waiting', build: null },
        { tag: 'latest', registryPush: null, appPush: null, state: 'waiting', build: null },
      ],
      reconciliation: { every: 600, lastLook: null, outcome: null },
      upstream: [],
      notifications: [],
    });
    expect(response.body).not.toMatch(/status-secret|tok/);
  });
});
