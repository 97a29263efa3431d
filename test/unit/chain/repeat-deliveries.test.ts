import { buildTestApp, delivery } from '../../helpers/app';

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
