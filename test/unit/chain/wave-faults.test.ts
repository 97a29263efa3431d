import { createPropagator } from '../../../webapp/chain/create-propagator';
import type { ChainNode } from '../../../webapp/types';
import { flush, memoryJournal } from '../../helpers/app';
import { captureLogs } from '../../helpers/logs';
import { ok, refused, startPlanner, type PlannerOptions } from '../../helpers/planner';
import { ManualTimers } from '../../helpers/timers';

const S = 1000;
const DELAY = 100 * S;
const node = (
  id: string,
  parents: string[] = [],
  upstream: string[] = [],
  hub?: string,
): ChainNode => ({
  id,
  parents,
  upstream,
  service: 'test',
  ...(hub ? { hubRepository: hub } : {}),
});
const diamond = [
  node('base'),
  node('svc-a', ['base']),
  node('svc-b', ['base']),
  node('app', ['svc-a', 'svc-b']),
];

/** The planner with this file's delay, on `timers` when a restart shares them. */
const plan = (nodes: ChainNode[], options: Omit<PlannerOptions, 'delay' | 'stallTimeout'> = {}) =>
  startPlanner(nodes, { delay: DELAY, stallTimeout: 5 * 3600 * S, ...options });

describe('the wave planner, in cases it once got wrong', () => {
  it('keeps a build awaited across a restart on the same disk, whatever older push the registry shows', async () => {
    const timers = new ManualTimers();
    const T0 = timers.now();
    // first process: base pushed, svc-a and svc-b triggered, svc-a pushed, then the process dies
    const first = plan(diamond, { timers });
    first.push('base');
    await first.advance(DELAY); // svc-a, svc-b triggered (no hub spacing here)
    expect(first.ids()).toEqual(['svc-a', 'svc-b']);
    await first.advance(10 * 60 * S);
    first.push('svc-a');
    const saved = first.journal.load();
    await first.propagator.close();
    // restart on the same disk, 2 minutes later
    await first.advance(2 * 60 * S);
    const second = plan(diamond, { timers, journal: saved });
    second.propagator.resume();
    expect(second.propagator.status().awaiting.map((a) => a.tag)).toEqual(['svc-b']);
    // the first look: base and svc-a as pushed above, svc-b and app from yesterday's wave
    second.look({
      base: T0,
      'svc-a': T0 + DELAY + 10 * 60 * S,
      'svc-b': T0 - 20 * 3600 * S,
      app: T0 - 20 * 3600 * S + 30 * 60 * S,
    });
    await second.advance(0);
    // expected: svc-b still awaited, app not triggered before svc-b's push
    expect(second.propagator.status().awaiting.map((a) => a.tag)).toEqual(['svc-b']);
    expect(second.ids()).toEqual([]);
  });

  it('then builds app once, after that build', async () => {
    const timers = new ManualTimers();
    const T0 = timers.now();
    const first = plan(diamond, { timers });
    first.push('base');
    await first.advance(DELAY);
    await first.advance(10 * 60 * S);
    first.push('svc-a');
    const saved = first.journal.load();
    await first.propagator.close();
    await first.advance(2 * 60 * S);
    const second = plan(diamond, { timers, journal: saved });
    second.propagator.resume();
    second.look({
      base: T0,
      'svc-a': T0 + DELAY + 10 * 60 * S,
      'svc-b': T0 - 20 * 3600 * S,
      app: T0 - 19 * 3600 * S,
    });
    await second.advance(0);
    await second.advance(10 * 60 * S);
    second.push('svc-b');
    await second.advance(DELAY);
    second.push('app');
    await second.advance(DELAY);
    expect(second.ids()).toEqual(['app']);
  });

  it('blocks a held trigger below a blocked parent, and ends the wave, rather than hold it for ever', async () => {
    const nodes = [...diamond, node('web', ['app'])];
    const t = plan(nodes, { answer: (id) => (id === 'svc-b' ? refused : ok) });
    t.push('app'); // web due +100
    await t.advance(10 * S);
    t.push('base'); // svc-a, svc-b due +110: app and web held back
    await t.advance(90 * S); // web's time: held
    await t.advance(10 * S); // svc-a sent, svc-b refused
    expect(t.ids()).toEqual(['svc-a', 'svc-b']);
    await t.advance(90 * S);
    t.push('svc-a');
    await t.advance(24 * 3600 * S);
    const status = t.propagator.status();
    expect(t.ids()).not.toContain('web');
    expect(status.blocked.web).toBe('svc-b');
    expect(status.wave).toBeNull();
    expect(status.pending).toEqual([]);
  });

  it('spaces triggers to one Docker Hub repository from the answer of a retried one, not its first attempt', async () => {
    const timers = new ManualTimers();
    const landed: { id: string; at: number }[] = [];
    const t0 = timers.now();
    const propagator = createPropagator({
      nodes: [
        node('base'),
        node('hub/a', ['base'], [], 'hub/one'),
        node('hub/b', ['base'], [], 'hub/one'),
      ],
      delay: DELAY,
      longestDelay: 86400 * S,
      log: captureLogs().log,
      trigger: (id) =>
        new Promise((resolve) => {
          // hub/a's first attempts fail with 502s; the retry that lands comes 95 s later
          const after = id === 'hub/a' ? 95 * S : 0;
          timers.setTimeout(() => {
            landed.push({ id, at: (timers.now() - t0) / S });
            resolve(ok);
          }, after);
        }),
      clock: timers,
      journal: memoryJournal(),
      stallTimeout: 0,
      stallRetrigger: false,
      concurrency: 4,
      graphName: 'g',
    });
    propagator.accept('base', String(Math.floor(timers.now() / 1000)));
    for (let i = 0; i < 400; i++) {
      timers.advance(S);
      await flush();
    }
    const [a, b] = landed;
    expect((b as { at: number }).at - (a as { at: number }).at).toBeGreaterThanOrEqual(DELAY / S);
  });

  it('drops a pending trigger when the registry shows the image built since, as its webhook would', async () => {
    const t = plan([node('p'), node('x', ['p']), node('c', ['x'])]);
    t.push('p'); // x due +100
    await t.advance(30 * S);
    const handPush = t.timers.now();
    await t.advance(65 * S); // x pushed by hand at +30 s; its webhook never came; look at +95 s
    t.look({ p: handPush - 30 * S, x: handPush });
    await t.advance(DELAY * 3);
    expect(t.ids().filter((id) => id === 'x')).toHaveLength(0);
  });
});
