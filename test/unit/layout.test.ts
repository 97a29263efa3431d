import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
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

/**
 * The modules that run as processes: the compiled files that the Procfiles and package.json's
 * scripts start, and those a module has node load by name beside itself (foreman's preload).
 */
function entryPoints(graph: Map<string, string[]>): string[] {
  const named = ['Procfile', 'Procfile.foreman', 'package.json']
    .map((file) => readFileSync(join(root, file), 'utf8'))
    .flatMap((text) => [...text.matchAll(/dist\/(webapp\/[\w/-]+)\.js/g)])
    .map((match) => `${match[1]}.ts`);
  const loaded = [...graph.keys()].flatMap((file) =>
    [...readFileSync(join(root, file), 'utf8').matchAll(/join\(__dirname, '([\w-]+)\.js'\)/g)].map(
      (match) => join(dirname(file), `${match[1]}.ts`),
    ),
  );
  return [...new Set([...named, ...loaded])];
}

/**
 * The names a module exports, and the names the rest of its own code refers to (its exported
 * declarations' own names aside), read from its syntax tree: comments and strings do not count.
 */
function exportsAndUses(file: string): { exported: string[]; used: Set<string> } {
  const source = ts.createSourceFile(
    file,
    readFileSync(join(root, file), 'utf8'),
    ts.ScriptTarget.Latest,
  );
  const exported: string[] = [];
  const declared = new Set<ts.Node>();
  for (const statement of source.statements) {
    const isExported = ts
      .getModifiers(statement as ts.HasModifiers)
      ?.some((modifier) => modifier.kind === ts.SyntaxKind.ExportKeyword);
    if (isExported !== true) continue;
    const names = ts.isVariableStatement(statement)
      ? statement.declarationList.declarations.map((declaration) => declaration.name)
      : [(statement as ts.DeclarationStatement).name];
    for (const name of names) {
      if (name !== undefined && ts.isIdentifier(name)) {
        exported.push(name.text);
        declared.add(name);
      }
    }
  }
  const used = new Set<string>();
  const visit = (node: ts.Node) => {
    if (ts.isIdentifier(node) && !declared.has(node)) used.add(node.text);
    node.forEachChild(visit);
  };
  source.forEachChild(visit);
  return { exported, used };
}

/** The names each module imports from each module of webapp/ (`import { a, type B } from`). */
function importedNames(files: string[]): Map<string, Set<string>> {
  const names = new Map<string, Set<string>>();
  for (const file of files) {
    const source = readFileSync(join(root, file), 'utf8');
    for (const match of source.matchAll(
      /(?:import|export) (?:type )?\{([^}]*)\} from '(\.{1,2}\/[^']+)'/g,
    )) {
      const target = relative(root, resolve(root, dirname(file), `${match[2]}.ts`));
      const list = names.get(target) ?? new Set<string>();
      names.set(target, list);
      for (const part of (match[1] as string).split(',')) {
        const name = part
          .trim()
          .replace(/^type\s+/, '')
          .split(/\s+as\s+/)[0];
        if (name !== undefined && name !== '') list.add(name);
      }
    }
  }
  return names;
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

  it('has no module that only the tests load: each one is part of a process or a command', () => {
    const entries = entryPoints(graph);
    expect(entries).toEqual(
      expect.arrayContaining(['webapp/propagate.ts', 'webapp/bin/simulate.ts']),
    );
    const loaded = new Set(entries.flatMap((entry) => [...reachable(graph, entry)]));
    expect([...graph.keys()].filter((file) => !loaded.has(file))).toEqual([]);
  });

  it('exports nothing from webapp/simulation/ that only the tests use', () => {
    const imported = importedNames([...graph.keys()]);
    const unused = [...graph.keys()]
      .filter((file) => file.startsWith('webapp/simulation/'))
      .flatMap((file) => {
        const { exported, used } = exportsAndUses(file);
        const others = imported.get(file) ?? new Set<string>();
        return exported
          .filter((name) => !used.has(name) && !others.has(name))
          .map((name) => `${file}: ${name}`);
      });
    expect(unused).toEqual([]);
  });

  it('builds the web process in one place: only its entry calls the builder, only the builder the server', () => {
    const importers = (target: string) =>
      [...graph].filter(([, targets]) => targets.includes(target)).map(([file]) => file);
    expect(importers('webapp/web/create-web-app.ts')).toEqual(['webapp/propagate.ts']);
    expect(importers('webapp/web/build-server.ts')).toEqual(['webapp/web/create-web-app.ts']);
  });

  it('keeps types.ts free of imports from the app', () => {
    expect(graph.get('webapp/types.ts')).toEqual([]);
  });
});
