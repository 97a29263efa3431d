import { planBuild } from '../../webapp/bin/plan-build';

/** A tree whose files have these mtimes; the others do not exist. */
function tree(files: Record<string, number>, hasCompiler: boolean) {
  return {
    sources: Object.keys(files).filter((file) => file.startsWith('webapp/')),
    modified: (file: string) => files[file],
    hasCompiler,
  };
}

describe('planBuild: whether npm start compiles first', () => {
  const built = {
    'webapp/a.ts': 1,
    'webapp/b/c.ts': 2,
    'dist/webapp/a.js': 3,
    'dist/webapp/b/c.js': 3,
  };

  it('runs an up-to-date build as it is, silently, with or without a compiler', () => {
    expect(planBuild(tree(built, true))).toEqual({ action: 'run' });
    expect(planBuild(tree(built, false))).toEqual({ action: 'run' });
  });

  it('compiles when a source is newer than its output, or has none, if it can', () => {
    expect(planBuild(tree({ ...built, 'webapp/b/c.ts': 4 }, true))).toEqual({
      action: 'build',
      message: 'webapp/b/c.ts is newer than its build: compiling',
    });
    expect(planBuild(tree({ ...built, 'webapp/d.ts': 1 }, true)).action).toBe('build');
    expect(planBuild(tree({ 'webapp/a.ts': 1 }, true)).action).toBe('build');
  });

  it('runs an older build without a compiler (devDependencies pruned), and says so', () => {
    expect(planBuild(tree({ ...built, 'webapp/a.ts': 4 }, false))).toEqual({
      action: 'run',
      message:
        'webapp/a.ts is newer than its build, and TypeScript (a devDependency) is not installed: running dist/ as it is',
    });
  });

  it('fails with what to do when there is neither a build nor a compiler', () => {
    const plan = planBuild(tree({ 'webapp/a.ts': 1 }, false));
    expect(plan.action).toBe('fail');
    expect(plan.message).toMatch(/^dist\/ is missing, and TypeScript .* \(npm prune --omit=dev\)$/);
  });
});
