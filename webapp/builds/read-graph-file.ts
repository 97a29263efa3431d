import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ReadGraph } from './read-build-graph';

/** The most a graph's JSON can weigh coming back: a 1 MiB file's, many times over. */
const answerLimit = 64 * 1024 * 1024;

/**
 * readBuildGraph, in a process of its own when the app runs compiled: the YAML parser and all
 * it compiles stay there, and the web and clock processes keep only the graph they need.
 */
export function readGraphFile(
  path: string,
  shown: string,
  env: Record<string, string | undefined>,
  hubUrl: string,
): { read?: ReadGraph; problems: string[] } {
  const child = join(__dirname, 'read-graph-file.js');
  // Run from the TypeScript sources (the unit tests), there is no compiled file to start.
  if (!existsSync(child)) return readInProcess()(path, shown, env, hubUrl);
  const answer = spawnSync(process.execPath, [child, path, shown, hubUrl], {
    env: env as NodeJS.ProcessEnv,
    encoding: 'utf8',
    maxBuffer: answerLimit,
    timeout: 30_000,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (answer.status !== 0 || answer.stdout === '') {
    return {
      problems: [`${shown}: cannot be read (${answer.error?.message ?? `exit ${answer.status}`})`],
    };
  }
  return JSON.parse(answer.stdout) as { read?: ReadGraph; problems: string[] };
}

/** readBuildGraph, loaded only where it runs: loading it loads the YAML parser. */
function readInProcess() {
  return (require('./read-build-graph') as typeof import('./read-build-graph')).readBuildGraph;
}

// The process of its own: the graph, read and checked, as JSON on standard output.
if (require.main === module) {
  const [path, shown, hubUrl] = process.argv.slice(2) as [string, string, string];
  process.stdout.write(JSON.stringify(readInProcess()(path, shown, process.env, hubUrl)));
}
