import type { ChainNode } from '../types';
import type { ImageRef } from './parse-image-ref';

/**
 * One node of the build graph as configured: the chain's view of it, its image, and how it is
 * built (`B`: the build target's settings, read by the builds' own code).
 */
export interface GraphNodeSpec<B> extends ChainNode {
  image: ImageRef;
  build: B;
  /** its line in the graph file; left out for a line of tags from TAG_SEQUENCE */
  line?: number;
}

/** The whole build graph: every node, and the upstream images the nodes are built from. */
export interface BuildGraph<B> {
  /** the graph file it was read from, or null for the line of tags of TAG_SEQUENCE */
  file: string | null;
  /** in the file's order (a line: the tags' order) */
  nodes: GraphNodeSpec<B>[];
  /** every image a node is built from that is not itself a node, each once */
  upstream: ImageRef[];
}
