import { buildTestApp, delivery, flush } from '../../helpers/app';

describe('POST /propagate', () => {
  it('answers at once and triggers the next tag PROPAGATION_DELAY later', async () => {
    const t = buildTestApp();
    const response = await t.post(delivery('init'));
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      state: 'success',
      description: 'init pushed: step-1 will be triggered in 100 s',
      prev_tag: 'init',
      next_tag: 'step-1',
    });
    t.timers.advance(99_999);
    expect(t.triggered).toEqual([]);
    t.timers.advance(1);
    expect(t.triggered).toEqual(['step-1']);
    await flush();
    expect(t.logs.entries().filter((line) => line.unit === 'webhook')).toEqual([
      expect.objectContaining({ level: 30, tag: 'init', next: 'step-1', decision: 'queued' }),
    ]);
  });

  it('triggers nothing after the last tag', async () => {
    const t = buildTestApp();
    const response = await t.post(delivery('latest'));
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ state: 'success', prev_tag: 'latest', next_tag: null });
    t.timers.advance(1_000_000);
    expect(t.triggered).toEqual([]);
  });

  it('drops the pending trigger of a tag that is pushed meanwhile, and propagates from that push', async () => {
    const t = buildTestApp();
    await t.post(delivery('init'));
    t.timers.advance(40_000);
    // step-1 built by hand while its own trigger waits out its delay
    const response = await t.post(
      delivery('step-1', { push_data: { tag: 'step-1', pushed_at: 7 } }),
    );
    expect(response.json()).toMatchObject({ prev_tag: 'step-1', next_tag: 'step-2' });
    expect(t.logs.entries()).toContainEqual(
      expect.objectContaining({
        level: 30,
        tag: 'step-1',
        msg: 'step-1 was pushed before its pending trigger: dropped that trigger',
      }),
    );
    expect((await t.app.inject('/status')).json().pending).toEqual([
      expect.objectContaining({ tag: 'step-2', after: 'step-1' }),
    ]);
    t.timers.advance(1_000_000);
    expect(t.triggered).toEqual(['step-2']);
    await flush();
    // nothing owed: only the build of step-2, awaited
    expect(t.journal.load()).toEqual([expect.objectContaining({ tag: 'step-2', awaited: true })]);
  });

  it('follows the configured route and sequence', async () => {
    const t = buildTestApp({
      PROPAGATION_ROUTE: '/hub',
      TAG_SEQUENCE: 'a,b',
      PROPAGATION_DELAY: '0.5',
    });
    const response = await t.post(delivery('a'));
    expect(response.json()).toMatchObject({ next_tag: 'b' });
    t.timers.advance(500);
    expect(t.triggered).toEqual(['b']);
    expect(
      (await t.app.inject({ method: 'POST', url: '/propagate', payload: {} })).statusCode,
    ).toBe(404);
  });

  it.each([
    ['malformed JSON', '{"push_data": ', 400, /not valid JSON/],
    ['no push_data', { callback_url: 'x' }, 400, /push_data must be an object/],
    [
      'no tag',
      delivery('x', { push_data: { pushed_at: 1 } }),
      400,
      /push_data.tag must be a string/,
    ],
    [
      'a bad callback_url',
      delivery('init', { callback_url: 'https://evil.example/u/maddouri/void-docker/hook/a/' }),
      403,
      /callback_url/,
    ],
    ['an unknown tag', delivery('nope'), 422, /push_data.tag "nope" is not in the tag sequence/],
  ])(
    'rejects %s with a clear 4xx and triggers nothing',
    async (_name, body, status, description) => {
      const t = buildTestApp();
      const response = await t.post(body);
      expect(response.statusCode).toBe(status);
      expect(response.json()).toEqual({
        state: 'error',
        description: expect.stringMatching(description),
      });
      t.timers.advance(1_000_000);
      expect(t.triggered).toEqual([]);
    },
  );
});
