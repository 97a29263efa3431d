import type { BuildsStatus, BuildStatus } from '../builds/create-build-watcher';
import type { ChainStatus } from '../chain/create-propagator';
import type { SentNotification } from '../notify/create-notifier';
import type { ReconcileStatus } from '../registry/create-reconciler';
import type { UpstreamStatus } from '../registry/create-upstream-watcher';

/** What GET /status answers and the status page shows: never a secret. */
export interface StatusView {
  version: string;
  dryRun: boolean;
  repository: string;
  /** the build target's name and where its triggers go, secrets already masked */
  target: { name: string; where: string };
  nextKickoff: string | null;
  pending: { tag: string; after: string; dueAt: string }[];
  awaiting: { tag: string; since: string }[];
  stalled: { tag: string; since: string }[];
  tags: {
    tag: string;
    registryPush: string | null;
    appPush: string | null;
    state: string | null;
    build?: {
      state: string;
      url: string | null;
      /** why its run cannot be read, after several failed reads in a row */
      unreadable?: string;
      /** why its run is no longer read although it had not ended */
      stopped?: string;
    } | null;
  }[];
  reconciliation: { every: number; lastLook: string | null; outcome: string | null };
  upstream: {
    image: string;
    digest: string | null;
    readAt: string | null;
    error: string | null;
    /** a new digest waiting out UPSTREAM_QUIET */
    pending?: { digest: string; since: string } | null;
    /** when a change counted whose kick-off waits for the chain to be idle */
    owedSince?: string | null;
  }[];
  /** the last notifications sent, newest last */
  notifications?: { at: string; event: string; text: string }[];
  /** the build graph: every node with its state, and the waves */
  graph?: GraphView;
}

/**
 * What a node is doing: `waiting` for parents the wave rebuilds, `pending` with its due time,
 * `awaited` (triggered, its push not yet seen), `building` (its run is read and running),
 * `built` in the wave in flight or the last one, `blocked` by a node that failed; null when no
 * wave has touched it since the app started.
 */
export type NodeState =
  | 'waiting'
  | 'pending'
  | 'awaited'
  | 'building'
  | 'built'
  | 'stalled'
  | 'failed'
  | 'blocked'
  | 'dry-run'
  | null;

export interface GraphNodeView {
  /** its image (a line: its tag) */
  id: string;
  /** 0 for a node without parent nodes, else one more than its deepest parent */
  level: number;
  parents: string[];
  /** the upstream images it is built from */
  upstream: string[];
  state: NodeState;
  /** ISO: when its trigger is due (pending) */
  dueAt?: string;
  /** ISO: since when it is in its state (awaited, building, stalled, failed) */
  since?: string;
  /** the node whose failure blocks it (blocked) */
  blockedBy?: string;
  /** its build's run, when the target names one */
  build?: { state: string; url: string | null; unreadable?: string; stopped?: string } | null;
  /** ISO: the last push the registry showed, and the last one the app learnt of */
  registryPush: string | null;
  appPush: string | null;
}

/** A wave: what started it and when, and how far it got. */
export interface WaveView {
  /** what started it, e.g. `acme/base:latest pushed`, `kick-off`, `alpine:3.20 changed` */
  by: string;
  startedAt: string;
  /** nodes of the wave pushed so far, and all the nodes it rebuilds */
  built: number;
  total: number;
  failed: number;
  blocked: number;
  /** ISO, once it has ended */
  endedAt?: string;
  /** once it has ended: every node built, or some failed or blocked */
  outcome?: 'complete' | 'failed';
}

export interface GraphView {
  /** the graph file, or null for the line of TAG_SEQUENCE */
  file: string | null;
  /** how many levels deep the graph is */
  levels: number;
  /** in build order: by level, then in the file's order */
  nodes: GraphNodeView[];
  wave: WaveView | null;
  lastWave: WaveView | null;
}

/** What the status is made of: the deployment's facts and each part's own status. */
export interface StatusSources {
  version: string;
  dryRun: boolean;
  repository: string;
  target: { name: string; where: string };
  tagSequence: readonly string[];
  /** ms between two looks at the registry */
  reconcileEvery: number;
  nextKickoff: Date | null;
  chain: ChainStatus;
  reconciliation: ReconcileStatus;
  builds: BuildsStatus;
  upstream: UpstreamStatus[];
  notifications: SentNotification[];
}

/** Whether a tag's run is known to be running now: read, not ended, and still readable. */
export function isBuilding(build: BuildStatus | undefined): boolean {
  if (build === undefined || build.unreadable !== undefined || build.stopped !== undefined) {
    return false;
  }
  return ['requested', 'queued', 'in_progress'].includes(build.state);
}

/** The status view, per tag the state the chain, the registry and its build give it. */
export function buildStatusView(sources: StatusSources): StatusView & {
  tagSequence: readonly string[];
  lastPush: Record<string, string>;
  failed: { tag: string; since: string }[];
} {
  const { chain, reconciliation, builds } = sources;
  const has = (list: { tag: string }[], tag: string) => list.some((entry) => entry.tag === tag);
  const state = (tag: string) =>
    has(chain.pending, tag)
      ? 'pending'
      : has(chain.failed, tag)
        ? 'failed'
        : has(chain.stalled, tag)
          ? 'stalled'
          : has(chain.awaiting, tag)
            ? isBuilding(builds[tag])
              ? 'building'
              : 'awaited'
            : null;
  return {
    version: sources.version,
    dryRun: sources.dryRun,
    repository: sources.repository,
    target: sources.target,
    tagSequence: sources.tagSequence,
    nextKickoff: sources.nextKickoff === null ? null : sources.nextKickoff.toISOString(),
    ...chain,
    tags: sources.tagSequence.map((tag) => ({
      tag,
      registryPush: reconciliation.registry[tag] ?? null,
      appPush: chain.lastPush[tag] ?? null,
      state: state(tag),
      build: builds[tag] ?? null,
    })),
    reconciliation: {
      every: sources.reconcileEvery / 1000,
      lastLook: reconciliation.lastLook,
      outcome: reconciliation.outcome,
    },
    upstream: sources.upstream,
    notifications: sources.notifications,
  };
}
