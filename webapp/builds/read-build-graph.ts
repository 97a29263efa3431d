import { readFileSync, statSync } from 'node:fs';
import type { BuildGraph } from '../chain/graph-spec';
import { GraphFileError, parseGraphFile } from '../chain/parse-graph-file';
import type { ImageRef } from '../chain/parse-image-ref';
import { readNodeBuild, type NodeBuild } from './read-node-build';

/** A graph file, read and checked: its graph, and the timing it sets. */
export interface ReadGraph {
  graph: BuildGraph<NodeBuild>;
  /** seconds, when the file sets them */
  delay?: number;
  schedule?: string;
  timezone?: string;
}

/**
 * Reads the graph file at `path` (shown as `shown`): each image a node, its `from` its parents
 * among the nodes and, for the rest, the upstream images it is built from; each node's build
 * read from the file with the environment's variables as defaults. Returns its problems, each
 * naming the file and the line, instead of a graph when there are any.
 */
export function readBuildGraph(
  path: string,
  shown: string,
  env: Record<string, string | undefined>,
  hubUrl: string,
): { read?: ReadGraph; problems: string[] } {
  let text: string;
  try {
    const stat = statSync(path);
    // A device or a pipe would be read for ever.
    if (!stat.isFile()) return { problems: [`${shown}: is not a file`] };
    if (stat.size > 1024 * 1024) {
      return { problems: [`${shown}: the graph file is larger than 1 MiB`] };
    }
    text = readFileSync(path, 'utf8');
  } catch (err) {
    return { problems: [`${shown}: cannot be read (${(err as NodeJS.ErrnoException).code})`] };
  }
  // One Docker Hub trigger URL serves one repository: a node names its own, never the global
  // one, unless it names that one.
  const defaults = { ...env, DOCKERHUB_TRIGGER_URL: undefined };
  const namesUrl = (build: unknown) =>
    typeof build === 'object' && build !== null && 'trigger_url_env' in build;
  let file;
  try {
    file = parseGraphFile(text, shown, (build, image) =>
      readNodeBuild(build, image, namesUrl(build) ? env : defaults, hubUrl),
    );
  } catch (err) {
    if (err instanceof GraphFileError) {
      return { problems: err.problems.map((problem) => `${shown} ${problem}`) };
    }
    throw err;
  }
  const nodes = new Set(file.images.map((entry) => entry.image.display));
  const upstream = new Map<string, ImageRef>();
  const graph: BuildGraph<NodeBuild> = {
    file: shown,
    upstream: [],
    nodes: file.images.map(({ image, from, build, line }) => {
      for (const parent of from) {
        if (!nodes.has(parent.display)) upstream.set(parent.display, parent);
      }
      return {
        id: image.display,
        parents: from.filter((parent) => nodes.has(parent.display)).map((p) => p.display),
        upstream: from.filter((parent) => !nodes.has(parent.display)).map((p) => p.display),
        service: build.service,
        ...(build.hubRepository === undefined ? {} : { hubRepository: build.hubRepository }),
        image,
        build,
        line,
      };
    }),
  };
  graph.upstream = [...upstream.values()];
  return {
    read: {
      graph,
      ...(file.delay === undefined ? {} : { delay: file.delay }),
      ...(file.schedule === undefined ? {} : { schedule: file.schedule }),
      ...(file.timezone === undefined ? {} : { timezone: file.timezone }),
    },
    problems: [],
  };
}
