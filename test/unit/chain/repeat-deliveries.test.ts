import { buildTestApp, delivery, flush } from '../../helpers/app';

const at = (seconds: number) => ({ push_data: { tag: 'init', pushed_at: seconds } });

describe('which deliveries are new pushes', () => {
  const start = () => {
    const t = buildTestApp({ RECONCILE_INTERVAL: '0', PROPAGATION_DELAY: '1' });
    t.web.start();
    const nowSeconds = () => Math.floor(t.timers.now() / 1000);
    return { ...t, nowSeconds };
  };

  it('keeps the push known when a repeat without pushed_at comes, so a later push is new', async () => {
    const t = start();
    const first = t.nowSeconds() - 10;
    expect((await t.post(delivery('init', at(first)))).json()).not.toHaveProperty('duplicate');
    t.timers.advance(1500);
    expect(t.triggered).toEqual(['step-1']);
    // a hand-made delivery while step-1 is awaited: a repeat, at the time it arrives
    expect((await t.post(delivery('init', { push_data: { tag: 'init' } }))).json()).toMatchObject({
      duplicate: true,
    });
    // Docker Hub's next push of init, stamped before that repeat arrived
    expect((await t.post(delivery('init', at(first + 2)))).json()).not.toHaveProperty('duplicate');
    t.timers.advance(1500);
    expect(t.triggered).toEqual(['step-1', 'step-1']);
    await t.web.close();
  });

  it('does not believe a pushed_at in the future, which would swallow every real push after it', async () => {
    const t = start();
    const future = Date.parse('2099-01-01T00:00:00Z') / 1000;
    expect((await t.post(delivery('init', at(future)))).statusCode).toBe(200);
    t.timers.advance(1500);
    expect(t.triggered).toEqual(['step-1']);
    t.timers.advance(3600_000);
    expect((await t.post(delivery('init', at(t.nowSeconds())))).json()).not.toHaveProperty(
      'duplicate',
    );
    t.timers.advance(1500);
    expect(t.triggered).toEqual(['step-1', 'step-1']);
    const status = (await t.app.inject('/status')).body;
    expect(status).not.toContain('2099');
    await t.web.close();
  });
});

describe('what a repeat leaves alone', () => {
  it('keeps waiting for a newer build of the tag when a late repeat of an older push comes', async () => {
    const t = buildTestApp({ RECONCILE_INTERVAL: '0', PROPAGATION_DELAY: '1' });
    t.web.start();
    const now = Math.floor(t.timers.now() / 1000);
    await t.post(delivery('step-1', { push_data: { tag: 'step-1', pushed_at: now - 3600 } }));
    await t.post(delivery('init', { push_data: { tag: 'init', pushed_at: now - 5 } }));
    t.timers.advance(1500);
    await flush();
    // step-2 waits for the new build of step-1, the one it is built from
    expect(t.triggered).toEqual(['step-1']);
    const awaited = async () =>
      ((await t.app.inject('/status')).json().awaiting as { tag: string }[]).map((a) => a.tag);
    expect(await awaited()).toContain('step-1');
    // Docker Hub delivers the old push of step-1 once more, late
    const late = delivery('step-1', { push_data: { tag: 'step-1', pushed_at: now - 3600 } });
    expect((await t.post(late)).json()).toMatchObject({ duplicate: true });
    expect(await awaited()).toContain('step-1');
    await t.web.close();
  });

  it('keeps no pushed_at in the future in the journal', async () => {
    const t = buildTestApp({ RECONCILE_INTERVAL: '0', PROPAGATION_DELAY: '100' });
    t.web.start();
    await t.post(delivery('init', { push_data: { tag: 'init', pushed_at: 4070908800 } }));
    const saved = t.journal.saved.at(-1) ?? [];
    expect(saved).toEqual([expect.objectContaining({ tag: 'step-1', after: 'init' })]);
    expect(saved[0]).not.toHaveProperty('pushedAt');
    await t.web.close();
  });
});
