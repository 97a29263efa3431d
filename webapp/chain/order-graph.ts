/** The graph's nodes by depth, or one cycle that keeps them from having one. */
export type GraphOrder = { ok: true; levels: string[][] } | { ok: false; cycle: string[] };

/**
 * Orders the nodes by level: a node's level is one more than its deepest parent's, so every
 * node comes after all of its parents. Parents that are not nodes are ignored. Within a level,
 * the nodes keep the order they were given in. When the nodes hold a cycle, names one, in the
 * order its edges run, its first node repeated at the end.
 */
export function orderGraph(
  nodes: readonly { id: string; parents: readonly string[] }[],
): GraphOrder {
  const byId = new Map(nodes.map((node) => [node.id, node]));
  const level = new Map<string, number>();
  // 0: not seen, 1: on the path being walked, 2: done
  const mark = new Map<string, 1 | 2>();
  const path: string[] = [];
  let cycle: string[] | undefined;

  const visit = (id: string): number => {
    const state = mark.get(id);
    if (state === 2) return level.get(id) as number;
    if (state === 1) {
      cycle ??= [...path.slice(path.indexOf(id)), id];
      return 0;
    }
    mark.set(id, 1);
    path.push(id);
    let depth = 0;
    for (const parent of byId.get(id)?.parents ?? []) {
      if (!byId.has(parent)) continue;
      depth = Math.max(depth, visit(parent) + 1);
    }
    path.pop();
    mark.set(id, 2);
    level.set(id, depth);
    return depth;
  };
  // Iterative over the nodes; recursion only as deep as the longest chain of parents.
  for (const node of nodes) visit(node.id);
  if (cycle !== undefined) {
    // Walked from child to parent: turn it round so that it reads in build order.
    return { ok: false, cycle: [...cycle].reverse() };
  }
  const levels: string[][] = [];
  for (const node of nodes) {
    const depth = level.get(node.id) as number;
    (levels[depth] ??= []).push(node.id);
  }
  return { ok: true, levels };
}
