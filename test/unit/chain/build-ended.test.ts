import type { ChainNode } from '../../../webapp/types';
import { startPlanner } from '../../helpers/planner';

const S = 1000;
const DELAY = 100 * S;
const node = (id: string, parents: string[] = []): ChainNode => ({
  id,
  parents,
  upstream: [],
  service: 'test',
});
const line = [node('a'), node('b', ['a']), node('c', ['b'])];

/** a pushed and b triggered: b's build is awaited. */
async function buildingB() {
  const p = startPlanner(line, { delay: DELAY, stallTimeout: 3600 * S });
  p.push('a');
  await p.advance(DELAY);
  expect(p.ids()).toEqual(['b']);
  expect(p.propagator.status().awaiting.map((entry) => entry.tag)).toEqual(['b']);
  /** Docker Hub's pushed_at (whole seconds) for a push `ms` after now */
  const stamp = (ms = 0) => String(Math.floor((p.timers.now() + ms) / 1000));
  return { ...p, stamp };
}

describe("buildEnded: a CI run's success as the node's push", () => {
  it('counts as the push of the node: its wait ends and what is built from it is queued', async () => {
    const p = await buildingB();
    const ended = p.timers.now();
    const decision = p.propagator.buildEnded('b');
    expect(decision).toMatchObject({
      kind: 'queued',
      duplicate: false,
      next: ['c'],
      dueAt: ended + DELAY,
    });
    const status = p.propagator.status();
    expect(status.awaiting).toEqual([]);
    expect(status.lastPush.b).toBe(new Date(ended).toISOString());
    expect(status.pending).toEqual([
      { tag: 'c', after: 'b', dueAt: new Date(ended + DELAY).toISOString() },
    ]);
    await p.advance(DELAY);
    expect(p.ids()).toEqual(['b', 'c']);
  });

  it.each([
    ['the same second', 0],
    ['30 s after', 30 * S],
    ['a minute after', 60 * S],
  ])(
    'takes a push stamped %s, announced later (its webhook), as the same push',
    async (_when, after) => {
      const p = await buildingB();
      p.propagator.buildEnded('b');
      const queued = p.propagator.status().pending;
      // The webhook comes a little later, stamped when the registry took the push.
      await p.advance(after);
      const decision = p.propagator.accept('b', p.stamp());
      expect(decision).toMatchObject({ kind: 'duplicate', duplicate: true, next: ['c'] });
      expect(p.propagator.status().pending).toEqual(queued);
      await p.advance(DELAY);
      expect(p.ids()).toEqual(['b', 'c']);
      await p.advance(10 * DELAY);
      expect(p.ids()).toEqual(['b', 'c']);
    },
  );

  it('takes the same push read from the registry as the same push', async () => {
    const p = await buildingB();
    const ended = p.timers.now();
    p.propagator.buildEnded('b');
    await p.advance(DELAY);
    expect(p.ids()).toEqual(['b', 'c']);
    // The tags API shows b pushed 20 s after the run's end was heard: the same build.
    p.look({ a: ended - DELAY, b: ended + 20 * S });
    await p.advance(10 * DELAY);
    expect(p.ids()).toEqual(['b', 'c']);
  });

  it('takes a second end of the same build within the minute (a read and a delivery) as one', async () => {
    const p = await buildingB();
    p.propagator.buildEnded('b');
    await p.advance(5 * S);
    expect(p.propagator.buildEnded('b')).toMatchObject({ kind: 'duplicate', duplicate: true });
    await p.advance(10 * DELAY);
    expect(p.ids()).toEqual(['b', 'c']);
  });

  it('counts a push stamped more than a minute after as a new push, which builds the child again', async () => {
    const p = await buildingB();
    const ended = p.timers.now();
    p.propagator.buildEnded('b');
    await p.advance(DELAY);
    expect(p.ids()).toEqual(['b', 'c']);
    // Someone pushes b by hand two minutes after the build ended.
    await p.advance(ended + 120 * S - p.timers.now());
    const decision = p.propagator.accept('b', p.stamp());
    expect(decision).toMatchObject({ kind: 'queued', duplicate: false, next: ['c'] });
    await p.advance(DELAY);
    expect(p.ids()).toEqual(['b', 'c', 'c']);
  });

  it('counts a push stamped 61 s after, once the clock got there, as a new push', async () => {
    const p = await buildingB();
    const ended = p.timers.now();
    p.propagator.buildEnded('b');
    await p.advance(61 * S);
    expect(p.propagator.accept('b', String(Math.floor(ended / 1000) + 61))).toMatchObject({
      duplicate: false,
    });
  });
});

describe('buildEnded and imageChanged: a new build within the minute after one', () => {
  it("counts a second build's end 20 s after the first, when the app triggered it", async () => {
    const line2 = [node('a'), node('b', ['a'])];
    const p = startPlanner(line2, { delay: 10 * S, stallTimeout: 3600 * S });
    p.propagator.rebuild('a', 'test');
    await p.advance(0);
    expect(p.ids()).toEqual(['a']);
    p.propagator.buildEnded('a');
    await p.advance(10 * S);
    expect(p.ids()).toEqual(['a', 'b']);
    p.propagator.buildEnded('b');
    // a is built again 20 s after its first build ended: that end is a new push too.
    p.propagator.rebuild('a', 'test');
    await p.advance(0);
    expect(p.ids()).toEqual(['a', 'b', 'a']);
    await p.advance(10 * S);
    expect(p.propagator.buildEnded('a')).toMatchObject({ duplicate: false, next: ['b'] });
    await p.advance(10 * S);
    expect(p.ids()).toEqual(['a', 'b', 'a', 'b']);
  });

  it('counts a new digest seen 20 s after a build ended as a push', async () => {
    const p = await buildingB();
    p.propagator.buildEnded('b');
    await p.advance(20 * S);
    expect(p.propagator.imageChanged('b')).toMatchObject({ duplicate: false });
  });
});
