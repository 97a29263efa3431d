import type { RegistryTag, SkippedTag } from '../../../webapp/registry/create-hub-api';
import { HubApiError } from '../../../webapp/registry/create-hub-api';
import { createReconciler } from '../../../webapp/registry/create-reconciler';
import type { ChainKnowledge } from '../../../webapp/chain/create-propagator';
import { captureLogs } from '../../helpers/logs';
import { ManualTimers } from '../../helpers/timers';

const TAGS = ['init', 'step-1', 'step-2'];
const DELAY = 100_000;

function setup(answers: (() => { tags: RegistryTag[]; skipped: SkippedTag[] })[]) {
  const timers = new ManualTimers();
  const logs = captureLogs();
  const propagated: string[] = [];
  const knowledge: ChainKnowledge = {
    knownPush: new Map(),
    triggeredAt: new Map(),
    pending: new Set(),
    awaiting: new Set(),
  };
  let call = 0;
  const reconciler = createReconciler({
    nodes: TAGS.map((tag, index) => ({
      id: tag,
      parents: index === 0 ? [] : [TAGS[index - 1] as string],
      hub: { namespace: 'acme', repository: 'app', tag },
    })),
    api: {
      listTags: async () => {
        const answer = answers[Math.min(call++, answers.length - 1)] as () => {
          tags: RegistryTag[];
          skipped: SkippedTag[];
        };
        return answer();
      },
    },
    chain: {
      knowledge: () => knowledge,
      reconcile: (decisions) => {
        for (const decision of decisions) {
          if (['known', 'old', 'recent'].includes(decision.kind)) continue;
          (knowledge.knownPush as Map<string, number>).set(decision.tag, decision.pushedAt);
          if (decision.kind !== 'propagate') continue;
          propagated.push(`${decision.tag}@${decision.dueAt - timers.now()}`);
          (knowledge.pending as Set<string>).add(decision.next);
        }
      },
    },
    log: logs.log,
    clock: timers,
    delay: DELAY,
    startedAt: timers.now() - 3600_000,
  });
  const warnings = () => logs.entries().filter((line) => line.level === 40);
  return { timers, reconciler, propagated, warnings };
}

describe('createReconciler judges what the registry says', () => {
  it('uses the readable tags when one record cannot be read, and says so once', async () => {
    const now = new ManualTimers().now();
    const answer = () => ({
      tags: [{ name: 'init', pushedAt: now - 2 * 60_000, digest: undefined }],
      skipped: [{ name: 'nightly', reason: 'tag_last_pushed: not a date' }],
    });
    const r = setup([answer]);
    await r.reconciler.look();
    await r.reconciler.look();
    // pushed two minutes ago while the app was up, its webhook lost: due 20 s ago, sent at once
    expect(r.propagated).toEqual(['init@-20000']);
    expect(r.reconciler.status().outcome).toBe('ok');
    expect(r.warnings()).toEqual([
      expect.objectContaining({
        msg: 'skipped a tag of acme/app that cannot be read (nightly: tag_last_pushed: not a date); the others are used',
      }),
    ]);
  });

  it('takes no push in the future, and still recovers the earlier tag', async () => {
    const now = new ManualTimers().now();
    const answer = {
      tags: [
        { name: 'init', pushedAt: now - 2 * 60_000, digest: undefined },
        { name: 'step-2', pushedAt: Date.parse('2099-01-01T00:00:00Z'), digest: undefined },
      ],
      skipped: [],
    };
    const s = setup([() => answer]);
    await s.reconciler.look();
    await s.reconciler.look();
    expect(s.propagated).toEqual(['init@-20000']);
    expect(s.reconciler.status().registry).toEqual({
      init: new Date(now - 2 * 60_000).toISOString(),
      'step-1': null,
      'step-2': null,
    });
    expect(s.warnings()).toEqual([
      expect.objectContaining({
        msg: expect.stringContaining('in the future: not taken as a push'),
      }),
    ]);
  });

  it('believes a push time up to a minute ahead of its own clock', async () => {
    const now = new ManualTimers().now();
    const r = setup([
      () => ({ tags: [{ name: 'init', pushedAt: now + 50_000, digest: undefined }], skipped: [] }),
    ]);
    await r.reconciler.look();
    expect(r.reconciler.status().registry.init).toBe(new Date(now + 50_000).toISOString());
  });

  it('says nothing of a look stopped by shutdown', async () => {
    const r = setup([
      () => {
        throw new HubApiError('aborted', 'listing the tags of acme/app: stopped by shutdown');
      },
    ]);
    await r.reconciler.look();
    expect(r.warnings()).toEqual([]);
    expect(r.reconciler.status().outcome).toBeNull();
  });
});
