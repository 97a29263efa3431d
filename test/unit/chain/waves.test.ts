import { createPropagator } from '../../../webapp/chain/create-propagator';
import type { ChainNode, TriggerOutcome } from '../../../webapp/types';
import { flush, memoryJournal } from '../../helpers/app';
import { captureLogs } from '../../helpers/logs';
import { ok, refused, startPlanner } from '../../helpers/planner';
import { ManualTimers } from '../../helpers/timers';

const S = 1000;
const DELAY = 10 * S;

/** A node of one build service; those named `hub/...` share one Docker Hub repository. */
const node = (id: string, parents: string[] = [], upstream: string[] = []): ChainNode => ({
  id,
  parents,
  upstream,
  service: 'test',
  ...(id.startsWith('hub/') ? { hubRepository: 'hub/one' } : {}),
});

/** The planner with this file's delay, every trigger answered as `answer` says. */
const plan = (nodes: ChainNode[], answer: (id: string) => TriggerOutcome = () => ok) =>
  startPlanner(nodes, { delay: DELAY, stallTimeout: 3600 * S, answer });

const diamond = [
  node('base'),
  node('svc-a', ['base']),
  node('svc-b', ['base']),
  node('app', ['svc-a', 'svc-b']),
];

describe('the wave planner', () => {
  it('fans out: every child of a push is triggered together, the delay after it', async () => {
    const t = plan([node('base'), node('a', ['base']), node('b', ['base']), node('c', ['base'])]);
    const decision = t.push('base');
    expect(decision).toMatchObject({ kind: 'queued', next: ['a', 'b', 'c'] });
    await t.advance(DELAY - 1);
    expect(t.ids()).toEqual([]);
    await t.advance(1);
    expect(t.sent).toEqual([
      { id: 'a', at: DELAY },
      { id: 'b', at: DELAY },
      { id: 'c', at: DELAY },
    ]);
  });

  it('fans in: a child waits for every parent the wave rebuilds, then the delay after the last', async () => {
    const t = plan([node('x'), node('y'), node('z', ['x', 'y'])]);
    t.propagator.rebuild('x', 'test');
    t.propagator.rebuild('y', 'test');
    await t.advance(0);
    expect(t.ids()).toEqual(['x', 'y']);
    await t.advance(5 * S);
    expect(t.push('x')).toMatchObject({
      kind: 'waiting',
      waiting: [{ node: 'z', waitsFor: ['y'] }],
    });
    await t.advance(20 * S);
    expect(t.ids()).toEqual(['x', 'y']);
    t.push('y');
    await t.advance(DELAY - 1);
    expect(t.ids()).toEqual(['x', 'y']);
    await t.advance(1);
    expect(t.ids()).toEqual(['x', 'y', 'z']);
  });

  it('builds a diamond once: each service after base, app once after both', async () => {
    const t = plan(diamond);
    t.push('base');
    await t.advance(DELAY);
    expect(t.ids()).toEqual(['svc-a', 'svc-b']);
    await t.advance(2 * S);
    t.push('svc-a');
    await t.advance(DELAY * 3);
    expect(t.ids()).toEqual(['svc-a', 'svc-b']);
    t.push('svc-b');
    await t.advance(DELAY);
    expect(t.ids()).toEqual(['svc-a', 'svc-b', 'app']);
    t.push('app');
    await t.advance(DELAY * 10);
    expect(t.ids()).toEqual(['svc-a', 'svc-b', 'app']);
    const done = t.events.filter((event) => event.kind === 'chain-complete');
    expect(done).toEqual([
      expect.objectContaining({
        tag: 'app',
        wave: expect.objectContaining({ built: 4, total: 4 }),
      }),
    ]);
  });

  it('keeps triggers to one Docker Hub repository the delay apart', async () => {
    const t = plan([node('base'), node('hub/a', ['base']), node('hub/b', ['base'])]);
    t.push('base');
    await t.advance(DELAY);
    expect(t.sent).toEqual([{ id: 'hub/a', at: DELAY }]);
    await t.advance(DELAY - 1);
    expect(t.ids()).toEqual(['hub/a']);
    await t.advance(1);
    expect(t.sent).toEqual([
      { id: 'hub/a', at: DELAY },
      { id: 'hub/b', at: 2 * DELAY },
    ]);
  });

  it('sends at most BUILD_CONCURRENCY triggers to one service at once', async () => {
    const children = Array.from({ length: 6 }, (_, i) => node(`c${i}`, ['base']));
    const answers: ((outcome: TriggerOutcome) => void)[] = [];
    const timers = new ManualTimers();
    let inFlight = 0;
    let most = 0;
    const propagator = createPropagator({
      nodes: [node('base'), ...children],
      delay: 0,
      longestDelay: 86400 * S,
      log: captureLogs().log,
      trigger: () => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        return new Promise((resolve) =>
          answers.push((outcome) => {
            inFlight -= 1;
            resolve(outcome);
          }),
        );
      },
      clock: timers,
      journal: memoryJournal(),
      stallTimeout: 0,
      stallRetrigger: false,
      concurrency: 4,
      graphName: 'chains.yml',
    });
    propagator.accept('base', undefined);
    timers.advance(0);
    await flush();
    expect(answers).toHaveLength(4);
    while (answers.length > 0) {
      answers.shift()?.(ok);
      await flush();
    }
    expect(most).toBe(4);
    expect(inFlight).toBe(0);
  });

  it('blocks what is built from a node whose trigger is given up, and goes on with the rest', async () => {
    const t = plan(
      [
        node('base'),
        node('bad', ['base']),
        node('good', ['base']),
        node('top', ['bad']),
        node('side', ['good']),
      ],
      (id) => (id === 'bad' ? refused : ok),
    );
    t.push('base');
    await t.advance(DELAY);
    expect(t.ids()).toEqual(['bad', 'good']);
    t.push('good');
    await t.advance(DELAY);
    expect(t.ids()).toEqual(['bad', 'good', 'side']);
    t.push('side');
    await t.advance(DELAY * 10);
    expect(t.ids()).toEqual(['bad', 'good', 'side']);
    const status = t.propagator.status();
    expect(status.blocked).toEqual({ top: 'bad' });
    expect(t.events).toContainEqual(
      expect.objectContaining({ kind: 'given-up', tag: 'bad', blocks: ['top'] }),
    );
    expect(status.lastWave).toMatchObject({ failed: ['bad'], blocked: { top: 'bad' } });
    // a later push of the failed node unblocks what it held back
    t.push('bad');
    await t.advance(DELAY);
    expect(t.ids()).toEqual(['bad', 'good', 'side', 'top']);
  });

  it("says a push's child is blocked when another of its parents failed, not a repeat", async () => {
    const t = plan(diamond, (id) => (id === 'svc-b' ? refused : ok));
    t.push('base');
    await t.advance(DELAY);
    expect(t.ids()).toEqual(['svc-a', 'svc-b']);
    expect(t.push('svc-a')).toMatchObject({
      kind: 'waiting',
      duplicate: false,
      waiting: [{ node: 'app', waitsFor: [], blockedBy: 'svc-b' }],
    });
    await t.advance(DELAY * 10);
    expect(t.ids()).toEqual(['svc-a', 'svc-b']);
    // the wave that ended keeps its count, whatever frees app later
    expect(t.propagator.status().lastWave).toMatchObject({ blocked: { app: 'svc-b' } });
    t.push('svc-b');
    expect(t.propagator.status().lastWave).toMatchObject({ blocked: { app: 'svc-b' } });
    await t.advance(DELAY);
    expect(t.ids()).toEqual(['svc-a', 'svc-b', 'app']);
  });

  it('lets a change that arrives during a wave join it: what is not yet triggered is built once', async () => {
    const t = plan([node('a'), node('b', ['a']), node('c', ['b'])]);
    t.push('a');
    await t.advance(DELAY);
    expect(t.ids()).toEqual(['b']);
    // a is pushed again while b builds: b is built again, c only once, after that
    await t.advance(S);
    t.push('a');
    t.push('b');
    await t.advance(DELAY);
    expect(t.ids()).toEqual(['b', 'b']);
    await t.advance(DELAY * 5);
    expect(t.ids()).toEqual(['b', 'b']);
    t.push('b');
    await t.advance(DELAY);
    expect(t.ids()).toEqual(['b', 'b', 'c']);
    t.push('c');
    await t.advance(DELAY * 5);
    expect(t.ids()).toEqual(['b', 'b', 'c']);
    expect(t.events.filter((event) => event.kind === 'wave-started')).toHaveLength(1);
  });

  it('builds an upstream change once, with everything below it, and the kick-off covers it', async () => {
    const t = plan([node('base', [], ['library/alpine:3.20']), node('app', ['base'])]);
    t.propagator.upstreamChanged(['library/alpine:3.20'], t.timers.now());
    await t.advance(0);
    expect(t.ids()).toEqual(['base']);
    t.push('base');
    await t.advance(DELAY);
    expect(t.ids()).toEqual(['base', 'app']);
    // the clock's kick-off after a change that was already queued: built once, by the clock
    t.propagator.upstreamChanged(['library/alpine:3.20'], t.timers.now());
    t.propagator.expect('base');
    await t.advance(DELAY * 5);
    expect(t.ids()).toEqual(['base', 'app']);
  });

  it('refuses a graph with a cycle', () => {
    expect(() => plan([node('a', ['c']), node('b', ['a']), node('c', ['b'])])).toThrow(
      'the graph has a cycle: a -> b -> c -> a',
    );
  });
});
