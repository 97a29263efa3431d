import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { appDir } from '../../webapp/deployment/app-info';

const root = appDir();

/** Every module of webapp/ with the modules of webapp/ it imports (type-only imports too). */
function importGraph(): Map<string, string[]> {
  const files = (readdirSync(join(root, 'webapp'), { recursive: true }) as string[])
    .filter((file) => file.endsWith('.ts'))
    .map((file) => join('webapp', file));
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const source = readFileSync(join(root, file), 'utf8');
    const targets = [...source.matchAll(/from '(\.{1,2}\/[^']+)'/g)].map((match) =>
      relative(root, resolve(root, dirname(file), `${match[1]}.ts`)),
    );
    graph.set(file, targets);
  }
  return graph;
}

function reachable(graph: Map<string, string[]>, start: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const next of graph.get(file) ?? []) visit(next);
  };
  visit(start);
  return seen;
}

describe('the layout of webapp/', () => {
  const graph = importGraph();

  it('resolves every import to a module of webapp/', () => {
    const missing = [...graph.values()].flat().filter((file) => !graph.has(file));
    expect(missing).toEqual([]);
  });

  it('has no import cycle', () => {
    const cycles = [...graph.keys()].filter((file) =>
      (graph.get(file) ?? []).some((next) => reachable(graph, next).has(file)),
    );
    expect(cycles).toEqual([]);
  });

  it.each(['webapp/propagate.ts', 'webapp/schedule.ts', 'webapp/supervise.ts'])(
    '%s, a process of the dyno, loads no simulation and no command',
    (entry) => {
      const loaded = [...reachable(graph, entry)];
      expect(loaded.filter((file) => /^webapp\/(simulation|bin)\//.test(file))).toEqual([]);
    },
  );

  it('keeps the chain free of the web, the registry, the clock and the builds', () => {
    const chain = [...graph].filter(([file]) => file.startsWith('webapp/chain/'));
    expect(chain.length).toBeGreaterThan(0);
    const outward = chain.flatMap(([file, targets]) =>
      targets
        .filter((target) => /^webapp\/(web|registry|clock|builds)\//.test(target))
        .map((target) => `${file} -> ${target}`),
    );
    expect(outward).toEqual([]);
  });

  it('keeps types.ts free of imports from the app', () => {
    expect(graph.get('webapp/types.ts')).toEqual([]);
  });
});
