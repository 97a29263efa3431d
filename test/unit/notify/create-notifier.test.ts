import { MockAgent } from 'undici';
import { ConfigError, loadConfig } from '../../../webapp/config';
import { createNotifier } from '../../../webapp/notify/create-notifier';
import { buildTestApp, delivery, flush } from '../../helpers/app';
import { eventually, eventuallyRead } from '../../helpers/eventually';
import { captureLogs } from '../../helpers/logs';

const origin = 'https://hooks.slack.com';
const path = '/services/T0001/B0001/slackSecretKey123';
const url = `${origin}${path}`;

function setUp(events = ['given-up', 'build-failed', 'stalled', 'chain-complete'] as const) {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const logs = captureLogs('web');
  const bodies: unknown[] = [];
  const notifier = createNotifier({
    url,
    events,
    repository: 'acme/app',
    log: logs.log,
    // giving up counts on the real clock (now): far enough that a busy machine never gets there
    retry: { initialDelay: 10, maxDelay: 10, giveUpAfter: 60_000, timeout: 1000 },
    dispatcher: agent,
    secrets: ['targetToken42'],
    now: Date.now,
    sleep: async () => undefined,
  });
  const answer = (status: number, times = 1) =>
    agent
      .get(origin)
      .intercept({ path, method: 'POST' })
      .reply(status, (request) => {
        bodies.push(JSON.parse(String(request.body)));
        return 'ok';
      })
      .times(times);
  return { agent, logs, notifier, bodies, answer };
}

describe('createNotifier', () => {
  it('posts {"text"} once per event, however often the event is told', async () => {
    const t = setUp();
    t.answer(200, 5);
    const event = {
      kind: 'given-up',
      tag: 'step-2',
      at: 1,
      reason: 'GitHub answered 401',
    } as const;
    t.notifier.notify(event);
    t.notifier.notify(event);
    t.notifier.notify({ kind: 'chain-complete', tag: 'latest', at: 0 });
    await eventually(() => t.notifier.recent().length === 2, 'two notifications sent');
    await t.notifier.close();
    expect(t.bodies).toEqual([
      { text: 'acme/app: trigger of step-2 given up: GitHub answered 401' },
      { text: 'acme/app: chain complete: latest pushed at 1970-01-01T00:00:00.000Z' },
    ]);
    expect(t.notifier.recent().map((sent) => sent.event)).toEqual(['given-up', 'chain-complete']);
  });

  it('sends only the events of NOTIFY_ON', async () => {
    const t = setUp(['stalled'] as never);
    t.answer(200, 2);
    t.notifier.notify({ kind: 'chain-complete', tag: 'latest', at: 0 });
    t.notifier.notify({ kind: 'stalled', tag: 'step-1', since: 0 });
    await eventually(() => t.notifier.recent().length === 1, 'the stall notification sent');
    await t.notifier.close();
    expect(t.bodies).toEqual([{ text: expect.stringContaining('no push of step-1') }]);
  });

  it('retries 503, gives up a 404 at once, and never shows the URL nor a secret', async () => {
    const t = setUp();
    t.answer(503, 2);
    t.answer(200);
    t.answer(404);
    t.notifier.notify({ kind: 'given-up', tag: 'init', at: 1, reason: 'token targetToken42 bad' });
    t.notifier.notify({ kind: 'stalled', tag: 'step-1', since: 0 });
    await eventually(() => t.logs.entries().length === 4, 'three tries of one, one of the other');
    await t.notifier.close();
    expect(t.bodies).toHaveLength(4);
    expect(t.bodies[2]).toEqual({ text: 'acme/app: trigger of init given up: token *** bad' });
    const lines = t.logs.entries();
    expect(lines.map((line) => line.level)).toEqual([40, 40, 30, 50]);
    expect(lines[3]).toMatchObject({
      msg: 'notification of stalled refused, not retried: https://hooks.slack.com/*** answered 404',
    });
    expect(t.logs.text()).not.toMatch(/slackSecretKey|T0001|targetToken42/);
    expect(t.notifier.recent()).toHaveLength(1);
  });

  it('keeps the last ten notifications sent, newest last', async () => {
    const t = setUp();
    t.answer(200, 12);
    for (let i = 0; i < 12; i++) t.notifier.notify({ kind: 'stalled', tag: `t${i}`, since: i });
    await eventually(
      () => t.notifier.recent().at(-1)?.text.includes('t11') === true,
      'the twelfth notification sent',
    );
    await t.notifier.close();
    const recent = t.notifier.recent();
    expect(recent).toHaveLength(10);
    expect(recent[9]?.text).toContain('no push of t11');
    expect(recent[0]?.at).toMatch(/^\d{4}-\d\d-\d\dT/);
  });
});

describe('NOTIFY_ON and NOTIFY_URL', () => {
  it('names an unknown event, and never shows NOTIFY_URL', () => {
    expect(() =>
      loadConfig({ NOTIFY_ON: 'stalled,failed', NOTIFY_URL: 'not a url/secretPart' }),
    ).toThrow(ConfigError);
    try {
      loadConfig({ NOTIFY_ON: 'stalled,failed', NOTIFY_URL: 'not a url/secretPart' });
    } catch (err) {
      const message = (err as Error).message;
      expect(message).toContain("NOTIFY_ON: 'failed' is not an event");
      expect(message).toContain('NOTIFY_URL: must be an http(s) URL');
      expect(message).not.toContain('secretPart');
    }
  });
});

describe('the chain notifies', () => {
  it('a stall once, and nothing more for the same stall', async () => {
    const t = buildTestApp({ NOTIFY_URL: url, STALL_TIMEOUT: '60' });
    const bodies: unknown[] = [];
    t.registry
      .get(origin)
      .intercept({ path, method: 'POST' })
      .reply(200, (request) => {
        bodies.push(JSON.parse(String(request.body)));
        return 'ok';
      })
      .persist();
    await t.post(delivery('init'));
    t.timers.advance(100_000);
    await flush();
    t.timers.advance(60_000);
    await eventually(() => bodies.length === 1, 'the stall notification');
    t.timers.advance(600_000);
    await flush();
    expect(bodies).toEqual([
      {
        text: 'maddouri/void-docker: chain stalled: no push of step-1 since its trigger at 2026-11-26T12:01:40.000Z',
      },
    ]);
    // The receiver sees the notification before the app has its answer and lists it.
    const status = await eventuallyRead(
      async () => (await t.app.inject('/status')).json(),
      (read) => read.notifications.length > 0,
      'the stall notification to be listed in /status',
    );
    expect(status.notifications).toEqual([
      { at: expect.any(String), event: 'stalled', text: expect.stringContaining('step-1') },
    ]);
    expect(JSON.stringify(status)).not.toContain('slackSecretKey');
    await t.web.close();
  });
});
