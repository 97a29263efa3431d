/** What the app knows of its graph when it compares it with the registry. */
export interface ChainView {
  /** every node with its parent nodes, in build order or the file's */
  nodes: readonly { id: string; parents: readonly string[] }[];
  /** ms */
  now: number;
  /** ms: when this process started (before it, the app may have died) */
  startedAt: number;
  /** ms: the delay between a parent's push and its child's trigger */
  delay: number;
  /** ms: only pushes newer than now - window count (24 h in production) */
  window: number;
  /** ms: a push the app knows within this of the registry's time is the same push */
  tolerance: number;
  /** per node: time of the latest push the app knows (webhook or earlier reconciliation) */
  knownPush: ReadonlyMap<string, number>;
  /** per node: when the app last sent its trigger */
  triggeredAt: ReadonlyMap<string, number>;
  /** nodes whose trigger is queued or being sent */
  pending: ReadonlySet<string>;
  /** nodes triggered and awaited (a build the app knows of) */
  awaiting: ReadonlySet<string>;
}

export type ReconcileDecision =
  /** nothing to do, the app knew this push */
  | { kind: 'known'; tag: string; pushedAt: number; why: string }
  /** older than the window: ignored */
  | { kind: 'old'; tag: string; pushedAt: number; why: string }
  /** so recent that its webhook may still be on its way: looked at again next time */
  | { kind: 'recent'; tag: string; pushedAt: number; why: string }
  /** as if its webhook had come: trigger next at dueAt (the caller sends at once when past) */
  | { kind: 'propagate'; tag: string; pushedAt: number; next: string; dueAt: number; why: string }
  /** after a restart, delay passed, the trigger may have been sent: next is awaited from since */
  | { kind: 'await'; tag: string; pushedAt: number; next: string; since: number; why: string }
  /** remember the push, trigger nothing */
  | { kind: 'record'; tag: string; pushedAt: number; why: string };

type Registry = ReadonlyMap<string, { pushedAt: number }>;

/**
 * Compares the pushes the registry shows with what the app knows, and says per node and child
 * what to do: the registry is the truth about pushes, the app is the truth about its own
 * triggers. A child is owed after its parent's push only when none of its other parents is still
 * to be rebuilt (make's rule, from the registry's push times). Pure.
 */
export function planReconciliation(view: ChainView, registry: Registry): ReconcileDecision[] {
  const children = new Map<string, string[]>(view.nodes.map((node) => [node.id, []]));
  for (const node of view.nodes) {
    for (const parent of node.parents) children.get(parent)?.push(node.id);
  }
  const parentsOf = new Map(view.nodes.map((node) => [node.id, node.parents]));
  const stale = staleNodes(view, registry);
  const decisions: ReconcileDecision[] = [];
  for (const node of view.nodes) {
    const seen = registry.get(node.id);
    if (seen === undefined) continue;
    const below = children.get(node.id) ?? [];
    if (below.length === 0) {
      decisions.push(decide(view, registry, node.id, undefined, seen.pushedAt, []));
      continue;
    }
    for (const next of below) {
      const waitsFor = (parentsOf.get(next) ?? []).filter((parent) => stale.has(parent));
      decisions.push(decide(view, registry, node.id, next, seen.pushedAt, waitsFor));
    }
  }
  return decisions;
}

/**
 * The nodes still to be rebuilt as far as the registry and the app can tell: pending or awaited
 * in the app, pushed before a parent's recent push (or never while a parent was), or built from
 * one such node.
 */
function staleNodes(view: ChainView, registry: Registry): Set<string> {
  const recent = (id: string) => {
    const at = registry.get(id)?.pushedAt;
    return at !== undefined && at >= view.now - view.window ? at : undefined;
  };
  const stale = new Set<string>();
  const byId = new Map(view.nodes.map((node) => [node.id, node]));
  const visiting = new Set<string>();
  const visit = (id: string): boolean => {
    if (stale.has(id)) return true;
    if (visiting.has(id)) return false;
    visiting.add(id);
    const own = registry.get(id)?.pushedAt;
    const parents = byId.get(id)?.parents ?? [];
    // An awaited build that the registry shows pushed since its trigger has ended.
    const triggered = view.triggeredAt.get(id);
    const awaited =
      view.awaiting.has(id) &&
      (own === undefined || triggered === undefined || own < triggered - view.tolerance);
    const behind =
      view.pending.has(id) ||
      awaited ||
      parents.some((parent) => {
        if (!byId.has(parent)) return false;
        if (visit(parent)) return true;
        const at = recent(parent);
        return at !== undefined && (own === undefined || at > own + view.tolerance);
      });
    if (behind) stale.add(id);
    return behind;
  };
  for (const node of view.nodes) visit(node.id);
  return stale;
}

function decide(
  view: ChainView,
  registry: Registry,
  tag: string,
  next: string | undefined,
  pushedAt: number,
  waitsFor: readonly string[],
): ReconcileDecision {
  const shows = `registry shows ${tag} pushed at ${stamp(pushedAt)} (${ago(view.now - pushedAt)})`;
  if (pushedAt < view.now - view.window) {
    return {
      kind: 'old',
      tag,
      pushedAt,
      why: `${shows}: older than ${span(view.window)}, ignored`,
    };
  }
  const known = view.knownPush.get(tag);
  if (known !== undefined && known >= pushedAt - view.tolerance) {
    return { kind: 'known', tag, pushedAt, why: `${shows}: the app knew this push, nothing to do` };
  }
  const record = (reason: string): ReconcileDecision => ({
    kind: 'record',
    tag,
    pushedAt,
    why: `${shows}, a push the app did not know: recorded, ${reason}`,
  });
  if (next === undefined) return record(`nothing to trigger after the last tag`);

  if (view.pending.has(next))
    return record(`not triggering ${next}: its trigger is already pending`);
  const triggered = view.triggeredAt.get(next);
  // A trigger of next sent after this push was already its propagation, wherever it came from.
  if (triggered !== undefined && triggered >= pushedAt - view.tolerance) {
    const state = view.awaiting.has(next) ? 'its build is awaited' : 'not triggering it twice';
    return record(`${next} was triggered at ${stamp(triggered)} after this push, ${state}`);
  }
  const nextPush = registry.get(next)?.pushedAt;
  if (nextPush !== undefined && nextPush > pushedAt) {
    return record(`${next} was pushed since (${stamp(nextPush)}), not triggering it`);
  }
  if (waitsFor.length > 0) {
    return record(`${next} also waits for ${waitsFor.join(', ')}, still to be rebuilt`);
  }

  const dueAt = pushedAt + view.delay;
  const propagate = (reason: string): ReconcileDecision => ({
    kind: 'propagate',
    tag,
    pushedAt,
    next,
    dueAt,
    why: `${shows} ${reason}: triggering ${next} ${when(dueAt, view.now)}`,
  });
  if (pushedAt >= view.startedAt) {
    // A webhook comes after the push it announces; waiting for it costs nothing before dueAt.
    if (view.now < pushedAt + Math.min(view.delay, view.tolerance)) {
      return {
        kind: 'recent',
        tag,
        pushedAt,
        why: `${shows}: its webhook may still be on its way, looking again next time`,
      };
    }
    return propagate('while the app was up, its webhook never came');
  }
  if (view.now < dueAt) {
    return propagate('before this process started, its trigger was still pending');
  }
  // However late the first look that could read the registry came, a trigger due after this
  // process started cannot have been sent by the one before it.
  if (dueAt >= view.startedAt) {
    return propagate(
      'before this process started, its trigger fell due after this process started and was never sent',
    );
  }
  // The old process may or may not have sent the trigger before it died: waiting for next's push
  // is safe either way, a second trigger is not.
  return {
    kind: 'await',
    tag,
    pushedAt,
    next,
    since: dueAt,
    why: `${shows} before this process started and its trigger was due at ${stamp(dueAt)}, before this process started, so it may have been sent: awaiting ${next} as if triggered then`,
  };
}

function when(dueAt: number, now: number): string {
  return dueAt <= now ? 'now (it was due)' : `at ${stamp(dueAt)} (in ${span(dueAt - now)})`;
}

function stamp(ms: number): string {
  return new Date(ms).toISOString();
}

function ago(ms: number): string {
  return ms < 0 ? `${span(-ms)} in the future` : `${span(ms)} ago`;
}

function span(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 120) return `${minutes}min`;
  return `${Math.round(minutes / 60)}h`;
}
