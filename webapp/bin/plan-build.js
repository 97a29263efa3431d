// @ts-check
'use strict';
// Plain JavaScript: it decides whether to compile, so it must run before anything is compiled.
const { spawnSync } = require('node:child_process');
const { existsSync, readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');

/**
 * @typedef {object} Tree
 * @property {string[]} sources     the TypeScript files of webapp/, relative to the app
 * @property {(file: string) => number | undefined} modified  a file's mtime in ms, if it exists
 * @property {boolean} hasCompiler  whether TypeScript is installed (not on a pruned tree)
 */

/**
 * @typedef {object} Plan
 * @property {'build' | 'run' | 'fail'} action
 * @property {string} [message]  what to tell the person, when there is something to tell
 */

/**
 * Whether dist/ must be compiled before the app runs: only when a source has no output or a
 * newer one, and only if TypeScript is installed. A production-only install has no compiler:
 * it runs the dist/ it was given, and cannot run without one.
 * @param {Tree} tree
 * @returns {Plan}
 */
function planBuild(tree) {
  const outputOf = (/** @type {string} */ source) => join('dist', source.replace(/\.ts$/, '.js'));
  const outdated = tree.sources.filter((source) => {
    const built = tree.modified(outputOf(source));
    return built === undefined || built < (tree.modified(source) ?? 0);
  });
  const missing = tree.sources.every((source) => tree.modified(outputOf(source)) === undefined);
  if (outdated.length === 0) return { action: 'run' };
  if (tree.hasCompiler) {
    return {
      action: 'build',
      message: missing
        ? 'dist/ has no build yet: compiling'
        : `${outdated[0]} is newer than its build: compiling`,
    };
  }
  const noCompiler = 'TypeScript (a devDependency) is not installed';
  if (!missing) {
    return {
      action: 'run',
      message: `${outdated[0]} is newer than its build, and ${noCompiler}: running dist/ as it is`,
    };
  }
  return {
    action: 'fail',
    message: `dist/ is missing, and ${noCompiler}: build where it is (npm ci && npm run build), then prune devDependencies (npm prune --omit=dev)`,
  };
}

/** @param {string} dir @returns {string[]} */
function typeScriptFiles(dir) {
  // A container may hold the build without its sources.
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => join(dir, file));
}

if (require.main === module) {
  const root = join(__dirname, '..', '..');
  process.chdir(root);
  /** @param {string} file */
  const modified = (file) => (existsSync(file) ? statSync(file).mtimeMs : undefined);
  let hasCompiler = true;
  try {
    require.resolve('typescript/bin/tsc', { paths: [root] });
  } catch {
    hasCompiler = false;
  }
  const plan = planBuild({
    sources: typeScriptFiles('webapp'),
    modified,
    hasCompiler,
  });
  if (plan.message !== undefined) process.stderr.write(`${plan.message}\n`);
  if (plan.action === 'fail') process.exit(1);
  if (plan.action === 'build') {
    const npm = process.env.npm_execpath;
    const result =
      npm === undefined
        ? spawnSync('npm', ['run', 'build'], { stdio: 'inherit' })
        : spawnSync(process.execPath, [npm, 'run', 'build'], { stdio: 'inherit' });
    process.exit(result.status ?? 1);
  }
}

module.exports = { planBuild };
