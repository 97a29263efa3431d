import {
  planReconciliation,
  type ChainView,
  type ReconcileDecision,
} from '../../../webapp/chain/plan-reconciliation';

const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;
const NOW = Date.parse('2026-11-26T12:00:00Z');
const TAGS = ['init', 'step-1', 'step-2', 'latest'];

function view(overrides: Partial<ChainView> = {}): ChainView {
  return {
    nodes: line(TAGS),
    now: NOW,
    startedAt: NOW - 2 * H,
    delay: 5 * MIN,
    window: 24 * H,
    tolerance: 60 * S,
    knownPush: new Map(),
    triggeredAt: new Map(),
    pending: new Set(),
    awaiting: new Set(),
    ...overrides,
  };
}

/** The tags as a graph: each built from the one before. */
function line(tags: readonly string[]) {
  return tags.map((id, index) => ({ id, parents: index === 0 ? [] : [tags[index - 1] as string] }));
}

function pushes(entries: Record<string, number>): Map<string, { pushedAt: number }> {
  return new Map(Object.entries(entries).map(([tag, pushedAt]) => [tag, { pushedAt }]));
}

function kinds(decisions: ReconcileDecision[]): string[] {
  return decisions.map((d) => `${d.tag}:${d.kind}`);
}

describe('planReconciliation', () => {
  it('decides once per tag the registry shows, in sequence order, ignoring other tags', () => {
    const registry = pushes({ latest: NOW - 30 * H, other: NOW - MIN, init: NOW - 30 * H });
    expect(kinds(planReconciliation(view(), registry))).toEqual(['init:old', 'latest:old']);
  });

  it('does nothing on a first deployment on an old repository (every push older than 24 h)', () => {
    const registry = pushes({
      init: NOW - 72 * H,
      'step-1': NOW - 71 * H,
      'step-2': NOW - 70 * H,
      latest: NOW - 25 * H,
    });
    const decisions = planReconciliation(view({ startedAt: NOW - S }), registry);
    expect(decisions.map((d) => d.kind)).toEqual(['old', 'old', 'old', 'old']);
    expect(decisions[3]?.why).toBe(
      'registry shows latest pushed at 2026-11-25T11:00:00.000Z (25h ago): older than 24h, ignored',
    );
  });

  it('counts a push the app knows, within the tolerance, as known', () => {
    const registry = pushes({ init: NOW - 10 * MIN, 'step-1': NOW - 3 * MIN });
    const decisions = planReconciliation(
      view({
        knownPush: new Map([
          ['init', NOW - 10 * MIN - 59 * S],
          ['step-1', NOW - 2 * MIN],
        ]),
        triggeredAt: new Map([['step-2', NOW - 2 * MIN]]),
      }),
      registry,
    );
    expect(decisions).toEqual([
      {
        kind: 'known',
        tag: 'init',
        pushedAt: NOW - 10 * MIN,
        why: 'registry shows init pushed at 2026-11-26T11:50:00.000Z (10min ago): the app knew this push, nothing to do',
      },
      expect.objectContaining({ kind: 'known', tag: 'step-1' }),
    ]);
  });

  it('treats a known push older than the tolerance as another push', () => {
    const registry = pushes({ 'step-2': NOW - 10 * MIN });
    const [decision] = planReconciliation(
      view({ knownPush: new Map([['step-2', NOW - 11 * MIN - S]]) }),
      registry,
    );
    expect(decision).toMatchObject({ kind: 'propagate', next: 'latest' });
  });

  it('records an unknown push of the last tag and triggers nothing', () => {
    const [decision] = planReconciliation(view(), pushes({ latest: NOW - MIN }));
    expect(decision).toEqual({
      kind: 'record',
      tag: 'latest',
      pushedAt: NOW - MIN,
      why: 'registry shows latest pushed at 2026-11-26T11:59:00.000Z (60s ago), a push the app did not know: recorded, nothing to trigger after the last tag',
    });
  });

  it('propagates a push whose webhook was dropped while the app was running', () => {
    const pushedAt = NOW - 2 * MIN;
    const [decision] = planReconciliation(view(), pushes({ init: pushedAt }));
    expect(decision).toEqual({
      kind: 'propagate',
      tag: 'init',
      pushedAt,
      next: 'step-1',
      dueAt: pushedAt + 5 * MIN,
      why: 'registry shows init pushed at 2026-11-26T11:58:00.000Z (2min ago) while the app was up, its webhook never came: triggering step-1 at 2026-11-26T12:03:00.000Z (in 3min)',
    });
  });

  it('leaves a push whose webhook may still be on its way for the next look', () => {
    const pushedAt = NOW - 20 * S;
    const [decision] = planReconciliation(view(), pushes({ init: pushedAt }));
    expect(decision).toMatchObject({ kind: 'recent', tag: 'init' });
    const [later] = planReconciliation(view({ now: NOW + 40 * S }), pushes({ init: pushedAt }));
    expect(later).toMatchObject({ kind: 'propagate', dueAt: pushedAt + 5 * MIN });
  });

  it('propagates at once (dueAt in the past) a dropped webhook found after the delay', () => {
    const pushedAt = NOW - 40 * MIN;
    const [decision] = planReconciliation(view(), pushes({ 'step-1': pushedAt }));
    expect(decision).toMatchObject({
      kind: 'propagate',
      next: 'step-2',
      dueAt: pushedAt + 5 * MIN,
    });
    expect(decision?.why).toContain('triggering step-2 now (it was due)');
  });

  it('propagates a push that came just at the start of this process', () => {
    const startedAt = NOW - 10 * MIN;
    const [decision] = planReconciliation(view({ startedAt }), pushes({ init: startedAt }));
    expect(decision).toMatchObject({ kind: 'propagate', dueAt: startedAt + 5 * MIN });
  });

  it('after a restart while a trigger was pending, propagates at its original due time', () => {
    const startedAt = NOW - 30 * S;
    const pushedAt = NOW - 2 * MIN;
    const [decision] = planReconciliation(view({ startedAt }), pushes({ 'step-1': pushedAt }));
    expect(decision).toMatchObject({
      kind: 'propagate',
      tag: 'step-1',
      next: 'step-2',
      dueAt: pushedAt + 5 * MIN,
    });
    expect(decision?.why).toContain('before this process started, its trigger was still pending');
  });

  it('after a restart past the delay, awaits next rather than risk triggering it twice', () => {
    const startedAt = NOW - 30 * S;
    const pushedAt = NOW - 20 * MIN;
    const [decision] = planReconciliation(view({ startedAt }), pushes({ 'step-1': pushedAt }));
    expect(decision).toEqual({
      kind: 'await',
      tag: 'step-1',
      pushedAt,
      next: 'step-2',
      since: pushedAt + 5 * MIN,
      why: 'registry shows step-1 pushed at 2026-11-26T11:40:00.000Z (20min ago) before this process started and its trigger was due at 2026-11-26T11:45:00.000Z, before this process started, so it may have been sent: awaiting step-2 as if triggered then',
    });
  });

  it('sends at once a trigger that fell due after this process started, on a late first look', () => {
    // The registry could not be read until after the due time: the process before this one
    // died before that time, so it never sent the trigger.
    const pushedAt = NOW - 5 * MIN - 5 * S;
    const [decision] = planReconciliation(
      view({ startedAt: NOW - 5 * MIN }),
      pushes({ init: pushedAt }),
    );
    expect(decision).toMatchObject({ kind: 'propagate', next: 'step-1', dueAt: NOW - 5 * S });
    expect(decision?.why).toContain('its trigger fell due after this process started');
    expect(decision?.why).toContain('triggering step-1 now (it was due)');
  });

  it('awaits when the trigger fell due just before this process started', () => {
    const pushedAt = NOW - 5 * MIN - 2 * S;
    const [decision] = planReconciliation(view({ startedAt: NOW - S }), pushes({ init: pushedAt }));
    expect(decision).toMatchObject({ kind: 'await', since: NOW - 2 * S });
  });

  it('never fights a pending trigger of next', () => {
    const [decision] = planReconciliation(
      view({ pending: new Set(['step-1']) }),
      pushes({ init: NOW - MIN }),
    );
    expect(decision).toMatchObject({ kind: 'record', tag: 'init' });
    expect(decision?.why).toContain('not triggering step-1: its trigger is already pending');
  });

  it('never fights a running build of next triggered for this push', () => {
    const [decision] = planReconciliation(
      view({
        awaiting: new Set(['step-1']),
        triggeredAt: new Map([['step-1', NOW - 5 * MIN]]),
      }),
      pushes({ init: NOW - 10 * MIN }),
    );
    expect(decision).toMatchObject({ kind: 'record' });
    expect(decision?.why).toContain(
      'step-1 was triggered at 2026-11-26T11:55:00.000Z after this push, its build is awaited',
    );
  });

  it('never triggers next twice for the same push, even when no longer awaited', () => {
    const [decision] = planReconciliation(
      view({ triggeredAt: new Map([['step-1', NOW - 10 * MIN - 30 * S]]) }),
      pushes({ init: NOW - 10 * MIN }),
    );
    expect(decision).toMatchObject({ kind: 'record' });
    expect(decision?.why).toContain('not triggering it twice');
  });

  it('propagates when next is awaited for a trigger older than this push', () => {
    const [decision] = planReconciliation(
      view({
        awaiting: new Set(['step-1']),
        triggeredAt: new Map([['step-1', NOW - 3 * H]]),
      }),
      pushes({ init: NOW - 10 * MIN }),
    );
    expect(decision).toMatchObject({ kind: 'propagate', next: 'step-1' });
  });

  it('records a push when the registry shows next pushed after it', () => {
    const registry = pushes({ init: NOW - 20 * MIN, 'step-1': NOW - 10 * MIN });
    const decisions = planReconciliation(view(), registry);
    expect(kinds(decisions)).toEqual(['init:record', 'step-1:propagate']);
    expect(decisions[0]?.why).toContain(
      'step-1 was pushed since (2026-11-26T11:50:00.000Z), not triggering it',
    );
  });

  it('propagates when next was pushed before this push (an earlier chain)', () => {
    const registry = pushes({ init: NOW - 10 * MIN, 'step-1': NOW - H });
    // step-1 is rebuilt after init's push: step-2 waits for that build, not for the old one
    expect(kinds(planReconciliation(view(), registry))).toEqual([
      'init:propagate',
      'step-1:record',
    ]);
  });

  it('plans a whole chain after a restart: known, in flight, and one owed', () => {
    const startedAt = NOW - MIN;
    const registry = pushes({
      init: NOW - 40 * MIN,
      'step-1': NOW - 30 * MIN,
      'step-2': NOW - 3 * MIN,
      latest: NOW - 26 * H,
    });
    const decisions = planReconciliation(
      view({ startedAt, knownPush: new Map([['init', NOW - 40 * MIN]]) }),
      registry,
    );
    expect(decisions.map((d) => [d.tag, d.kind])).toEqual([
      ['init', 'known'],
      ['step-1', 'record'],
      ['step-2', 'propagate'],
      ['latest', 'old'],
    ]);
  });

  it('is pure: the same input gives the same output and nothing is changed', () => {
    const v = view({ pending: new Set(['step-2']) });
    const registry = pushes({ init: NOW - MIN, 'step-1': NOW - MIN });
    const first = planReconciliation(v, registry);
    expect(planReconciliation(v, registry)).toEqual(first);
    expect([...v.pending]).toEqual(['step-2']);
    expect(v.knownPush.size).toBe(0);
  });
});
