import { Agent, MockAgent } from 'undici';
import { ConfigError, loadConfig } from '../../../webapp/config';
import {
  createNotifier,
  notifyQueueBound,
  notifySpacing,
} from '../../../webapp/notify/create-notifier';
import { buildTestApp, delivery, flush } from '../../helpers/app';
import { eventually, eventuallyRead } from '../../helpers/eventually';
import { startHostileServer } from '../../helpers/hostile-server';
import { captureLogs } from '../../helpers/logs';
import { realClock } from '../../../webapp/timing/real-clock';

const origin = 'https://hooks.slack.com';
const path = '/services/T0001/B0001/slackSecretKey123';
const url = `${origin}${path}`;

function setUp(events = ['given-up', 'build-failed', 'stalled', 'chain-complete'] as const) {
  const agent = new MockAgent();
  agent.disableNetConnect();
  const logs = captureLogs('web');
  const bodies: unknown[] = [];
  // A clock that only the notifier's own waits move: each wait passes at once.
  const clock = { now: Date.UTC(2026, 10, 26, 12) };
  const posts: { at: number; status: number; text: string }[] = [];
  const notifier = createNotifier({
    url,
    events,
    repository: 'acme/app',
    log: logs.log,
    retry: { initialDelay: 10, maxDelay: 10, giveUpAfter: 3_600_000, timeout: 1000 },
    dispatcher: agent,
    secrets: ['targetToken42'],
    clock: {
      now: () => clock.now,
      random: () => 0.5,
      sleep: async (ms, signal) => {
        if (signal?.aborted) throw new Error('aborted');
        clock.now += ms;
        await new Promise((resolve) => setImmediate(resolve));
      },
    },
  });
  const answer = (status: number, times = 1, headers: Record<string, string> = {}) =>
    agent
      .get(origin)
      .intercept({ path, method: 'POST' })
      .reply(
        status,
        (request) => {
          const body = JSON.parse(String(request.body)) as { text: string };
          bodies.push(body);
          posts.push({ at: clock.now, status, text: body.text });
          return 'ok';
        },
        { headers },
      )
      .times(times);
  const notified = () => logs.entries().filter((line) => /^notified /.test(String(line.msg)));
  /** The receiver answers 500 to every POST until `up` is set, then 200; each POST is recorded. */
  const answerDownUntilUp = () => {
    const receiver = { up: false };
    agent
      .get(origin)
      .intercept({ path, method: 'POST' })
      .reply((request) => {
        const status = receiver.up ? 200 : 500;
        const body = JSON.parse(String(request.body)) as { text: string };
        posts.push({ at: clock.now, status, text: body.text });
        return { statusCode: status, data: 'ok' };
      })
      .persist();
    return receiver;
  };
  return { agent, logs, notifier, bodies, posts, clock, answer, notified, answerDownUntilUp };
}

type SetUp = ReturnType<typeof setUp>;

/** How many events one sent text stands for: one, or the count a folded line starts with. */
function countOf(text: string): number {
  return Number(/^acme\/app: (?:chain \w+ )?(\d+) /.exec(text)?.[1] ?? 1);
}

/**
 * The receiver is up again: resolves, once the queue is empty and `count` messages were sent, with
 * the texts it took.
 */
async function recover(t: SetUp, receiver: { up: boolean }, count: number): Promise<string[]> {
  receiver.up = true;
  await eventually(() => t.notifier.waiting() === 0, 'the queue to empty');
  await eventually(() => t.notified().length === count, 'every message sent');
  await t.notifier.close();
  return t.posts.filter((post) => post.status === 200).map((post) => post.text);
}

/**
 * 1,000 events, the four kinds in turn, one a second, told while the receiver answers 500; it
 * answers 200 once they have all been told. Resolves when everything waiting was sent.
 */
async function flood(t: SetUp, each: (i: number) => void = () => undefined) {
  const receiver = t.answerDownUntilUp();
  const kinds = ['given-up', 'build-failed', 'stalled', 'chain-complete'] as const;
  for (let i = 0; i < 1000; i++) {
    const at = t.clock.now;
    const tag = `tag-${i}`;
    const kind = kinds[i % 4];
    if (kind === 'given-up') t.notifier.notify({ kind, tag, at, reason: 'GitHub answered 500' });
    if (kind === 'build-failed') {
      t.notifier.notify({
        kind,
        tag,
        run: { id: String(i), state: 'failure', url: `https://ci/runs/${i}` },
      });
    }
    if (kind === 'stalled') t.notifier.notify({ kind, tag, since: at });
    if (kind === 'chain-complete') t.notifier.notify({ kind, tag, at });
    each(i);
    t.clock.now += 1000;
    await new Promise((resolve) => setImmediate(resolve));
  }
  expect(t.posts.some((post) => post.status === 500)).toBe(true);
  const recovery = t.posts.length;
  receiver.up = true;
  const delivered = () => t.posts.filter((post) => post.status === 200).length;
  await eventually(
    () => t.notifier.waiting() === 0 && delivered() > 0 && t.notified().length === delivered(),
    'everything waiting to be sent',
  );
  return t.posts.slice(recovery);
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
    // A minute apart, each stall is a message of its own.
    for (let i = 0; i < 12; i++) {
      t.notifier.notify({ kind: 'stalled', tag: `t${i}`, since: i });
      t.clock.now += 61_000;
    }
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

describe('a flood of events', () => {
  it('1,000 events during an outage give at most the queue bound and one POSTs, one a second', async () => {
    const t = setUp();
    const after = await flood(t);
    await t.notifier.close();
    expect(after.length).toBeGreaterThan(4);
    expect(after.length).toBeLessThanOrEqual(notifyQueueBound + 1);
    expect(after.every((post) => post.status === 200)).toBe(true);
    const gaps = t.posts.slice(1).map((post, i) => post.at - (t.posts[i]?.at ?? 0));
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(notifySpacing);
    // Told once, when the queue emptied, with what it cost.
    const said = t.logs.entries().filter((line) => /overflowed/.test(String(line.msg)));
    expect(said).toEqual([
      expect.objectContaining({
        level: 40,
        dropped: expect.any(Number),
        folded: expect.any(Number),
        msg: expect.stringMatching(
          /^notifications overflowed the queue of 30 messages: \d+ chain-complete event\(s\) dropped, \d+ event\(s\) folded into waiting messages$/,
        ),
      }),
    ]);
  });

  it('never holds more messages than its bound, however long the outage', async () => {
    const t = setUp();
    let most = 0;
    await flood(t, () => (most = Math.max(most, t.notifier.waiting())));
    await t.notifier.close();
    expect(most).toBe(notifyQueueBound);
  });

  it('sends the important kinds before chain-complete, and loses none of their events', async () => {
    const t = setUp();
    const after = await flood(t);
    await t.notifier.close();
    const kindOf = (text: string) =>
      /trigger|triggers given up/.test(text)
        ? 'given-up'
        : /build/.test(text)
          ? 'build-failed'
          : /stalled/.test(text)
            ? 'stalled'
            : 'chain-complete';
    const kinds = after.map((post) => kindOf(post.text));
    // The first may be the message that was being retried when the receiver came back.
    const firstComplete = kinds.indexOf('chain-complete', 1);
    expect(firstComplete).toBeGreaterThan(0);
    expect(kinds.slice(firstComplete).every((kind) => kind === 'chain-complete')).toBe(true);
    const counted = (kind: string) =>
      t.posts
        .filter((post) => post.status === 200 && kindOf(post.text) === kind)
        .reduce((sum, post) => sum + countOf(post.text), 0);
    // Each kind always had a waiting message to fold into: every event is counted.
    expect(['given-up', 'build-failed', 'stalled', 'chain-complete'].map(counted)).toEqual([
      250, 250, 250, 250,
    ]);
  });

  it('drops a waiting chain-complete, never a given-up, when the queue is full', async () => {
    const t = setUp();
    const receiver = t.answerDownUntilUp();
    // One completion sent and retried, then a minute apart enough to fill the queue.
    for (let i = 0; i <= notifyQueueBound; i++) {
      t.notifier.notify({ kind: 'chain-complete', tag: 'latest', at: i });
      t.clock.now += 61_000;
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(t.notifier.waiting()).toBe(notifyQueueBound);
    t.notifier.notify({ kind: 'given-up', tag: 'step-1', at: 0, reason: 'GitHub answered 401' });
    expect(t.notifier.waiting()).toBe(notifyQueueBound);
    const sent = await recover(t, receiver, notifyQueueBound + 1);
    expect(sent[1]).toContain('trigger of step-1 given up');
    expect(sent.filter((text) => /chain complete/.test(text))).toHaveLength(notifyQueueBound);
    expect(t.logs.entries().filter((line) => /overflowed/.test(String(line.msg)))).toEqual([
      expect.objectContaining({
        dropped: 1,
        folded: 0,
        msg: 'notifications overflowed the queue of 30 messages: 1 chain-complete event(s) dropped, 0 event(s) folded into waiting messages',
      }),
    ]);
  });

  it('folds two waiting messages of one kind to make room for another important kind', async () => {
    const t = setUp();
    const receiver = t.answerDownUntilUp();
    for (let i = 0; i <= notifyQueueBound; i++) {
      t.notifier.notify({ kind: 'stalled', tag: `t${i}`, since: i });
      t.clock.now += 61_000;
      await new Promise((resolve) => setImmediate(resolve));
    }
    const failed = { id: '9', state: 'failure', url: 'https://ci/9' } as const;
    t.notifier.notify({ kind: 'build-failed', tag: 'step-2', run: failed });
    t.notifier.notify({ kind: 'chain-complete', tag: 'latest', at: 0 });
    expect(t.notifier.waiting()).toBe(notifyQueueBound);
    const sent = await recover(t, receiver, notifyQueueBound + 1);
    expect(
      sent.filter((text) => /stalled/.test(text)).reduce((n, text) => n + countOf(text), 0),
    ).toBe(notifyQueueBound + 1);
    expect(sent).toContain('acme/app: chain stalled 2 times: no push of t1, t2');
    expect(sent).toContain('acme/app: build of step-2 failed: https://ci/9');
    expect(sent.some((text) => /chain complete/.test(text))).toBe(false);
    expect(t.logs.entries().filter((line) => /overflowed/.test(String(line.msg)))).toEqual([
      expect.objectContaining({ dropped: 1, folded: 1 }),
    ]);
  });

  it('sends a given-up that comes while chain-complete messages wait before them', async () => {
    const t = setUp();
    t.answer(200, 10);
    for (let i = 0; i < 4; i++) {
      t.notifier.notify({ kind: 'chain-complete', tag: 'latest', at: i });
      t.clock.now += 61_000;
    }
    t.notifier.notify({ kind: 'given-up', tag: 'step-1', at: 5, reason: 'GitHub answered 401' });
    await eventually(() => t.notified().length === 5, 'five notifications sent');
    await t.notifier.close();
    expect(t.posts.map((post) => post.text.replace(/ pushed at .*/, ''))).toEqual([
      'acme/app: trigger of step-1 given up: GitHub answered 401',
      'acme/app: chain complete: latest',
      'acme/app: chain complete: latest',
      'acme/app: chain complete: latest',
      'acme/app: chain complete: latest',
    ]);
  });
});

describe('folding', () => {
  const failed = (tag: string, state: 'failure' | 'cancelled' = 'failure') =>
    ({ kind: 'build-failed', tag, run: { id: tag, state, url: `https://ci/${tag}` } }) as const;

  it('folds the events of one kind within a minute into one message that counts them', async () => {
    const t = setUp();
    t.answer(200, 10);
    t.notifier.notify(failed('step-1'));
    t.notifier.notify(failed('step-2', 'cancelled'));
    t.notifier.notify({ kind: 'chain-complete', tag: 'latest', at: 0 });
    t.clock.now += 59_000;
    t.notifier.notify(failed('latest'));
    t.clock.now += 2_000;
    t.notifier.notify(failed('init'));
    await eventually(() => t.notified().length === 3, 'three notifications sent');
    await t.notifier.close();
    expect(t.posts.map((post) => post.text)).toEqual([
      'acme/app: 3 builds failed: step-1, step-2 (cancelled), latest',
      'acme/app: build of init failed: https://ci/init',
      'acme/app: chain complete: latest pushed at 1970-01-01T00:00:00.000Z',
    ]);
    expect(t.notifier.recent()[0]).toMatchObject({
      event: 'build-failed',
      text: 'acme/app: 3 builds failed: step-1, step-2 (cancelled), latest',
    });
  });

  it('lists ten tags at most, and counts every event', async () => {
    const t = setUp();
    t.answer(200, 10);
    for (let i = 0; i < 25; i++)
      t.notifier.notify({ kind: 'stalled', tag: `t${i % 15}`, since: i });
    await eventually(() => t.notified().length === 1, 'the notification sent');
    await t.notifier.close();
    expect(t.posts.map((post) => post.text)).toEqual([
      'acme/app: chain stalled 25 times: no push of t0, t1, t2, t3, t4, t5, t6, t7, t8, t9 and others',
    ]);
  });
});

describe('what is sent', () => {
  it('escapes &, < and > as Slack asks, so that a hostile run URL is only text', async () => {
    const t = setUp();
    t.answer(200);
    t.notifier.notify({
      kind: 'build-failed',
      tag: 'step-1',
      run: { id: '1', state: 'failure', url: 'https://x/<!channel>&' },
    });
    await eventually(() => t.notified().length === 1, 'the notification sent');
    await t.notifier.close();
    expect(t.bodies).toEqual([
      { text: 'acme/app: build of step-1 failed: https://x/&lt;!channel&gt;&amp;' },
    ]);
    // The status page escapes for itself what it shows.
    expect(t.notifier.recent()[0]?.text).toBe(
      'acme/app: build of step-1 failed: https://x/<!channel>&',
    );
  });

  it('waits as long as a 429 Retry-After asks before it tries again', async () => {
    const t = setUp();
    t.answer(429, 1, { 'retry-after': '7' });
    t.answer(200);
    t.notifier.notify({ kind: 'stalled', tag: 'step-1', since: 0 });
    await eventually(() => t.notified().length === 1, 'the notification sent');
    await t.notifier.close();
    expect(t.posts.map((post) => post.status)).toEqual([429, 200]);
    expect((t.posts[1]?.at ?? 0) - (t.posts[0]?.at ?? 0)).toBe(7000);
  });

  it('stops retrying at close, promptly, and sends nothing more', async () => {
    const agent = new MockAgent();
    agent.disableNetConnect();
    let posts = 0;
    agent
      .get(origin)
      .intercept({ path, method: 'POST' })
      .reply(() => {
        posts += 1;
        return { statusCode: 503, data: 'no' };
      })
      .persist();
    const notifier = createNotifier({
      url,
      events: ['stalled'],
      repository: 'acme/app',
      log: captureLogs('web').log,
      retry: { initialDelay: 60_000, maxDelay: 60_000, giveUpAfter: 600_000, timeout: 1000 },
      dispatcher: agent,
      secrets: [],
      clock: realClock,
    });
    for (let i = 0; i < 5; i++)
      notifier.notify({ kind: 'stalled', tag: `t${i}`, since: i * 61_000 });
    await eventually(() => posts === 1, 'the first attempt');
    const started = Date.now();
    await notifier.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(posts).toBe(1);
    expect(notifier.waiting()).toBe(0);
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

describe('createNotifier against a receiver whose answer trickles in', () => {
  it('ends each POST within its timeout, so the next event is not held behind it', async () => {
    const receiver = await startHostileServer({ kind: 'trickle', status: 200, every: 100 });
    const dispatcher = new Agent();
    const logs = captureLogs('web');
    const notifier = createNotifier({
      url: `${receiver.url}/hook/secretPart`,
      events: ['given-up', 'stalled'],
      repository: 'acme/app',
      log: logs.log,
      retry: { initialDelay: 10, maxDelay: 10, giveUpAfter: 60_000, timeout: 500 },
      dispatcher,
      secrets: [],
      clock: realClock,
    });
    try {
      const started = Date.now();
      notifier.notify({ kind: 'given-up', tag: 'a', at: started, reason: 'refused' });
      await eventually(() => receiver.requests.length >= 1, 'the first POST');
      notifier.notify({ kind: 'stalled', tag: 'b', since: started });
      await eventually(() => receiver.requests.length >= 2, 'the second POST', 5000);
      // the first answer's 500 ms, the one-a-second pacing, and a second for a busy machine
      expect(Date.now() - started).toBeLessThan(500 + notifySpacing + 1500);
    } finally {
      await notifier.close();
      await dispatcher.destroy();
      await receiver.close();
    }
  });
});
