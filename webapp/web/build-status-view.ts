import type { BuildsStatus, BuildStatus } from '../builds/create-build-watcher';
import type { ChainStatus, WaveStatus } from '../chain/create-propagator';
import type { BuildGraph } from '../chain/graph-spec';
import { orderGraph } from '../chain/order-graph';
import type { SentNotification } from '../notify/create-notifier';
import type { ReconcileStatus } from '../registry/create-reconciler';
import type { UpstreamStatus } from '../registry/create-upstream-watcher';
import type { DigestStatus } from '../registry/create-digest-watcher';
import type { StoreStatus } from '../store/state-store';

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
  /** with a database: which dyno plans, and whether the database answers */
  store?: StoreStatus;
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
  /** for an image on a registry without push times: the digest it showed last */
  digest?: string | null;
  /** what is not as it should be: a build that succeeded without changing the digest, say */
  warning?: string;
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
  /** the graph's nodes, and which of them run dry */
  graph: BuildGraph<{ dryRun: boolean }>;
  /** ms between two looks at the registry */
  reconcileEvery: number;
  nextKickoff: Date | null;
  chain: ChainStatus;
  reconciliation: ReconcileStatus;
  builds: BuildsStatus;
  upstream: UpstreamStatus[];
  notifications: SentNotification[];
  /** the digests of the nodes on registries without push times */
  digests?: Record<string, DigestStatus>;
  /** with a database: which dyno plans, and whether the database answers */
  store?: StoreStatus;
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
  const { reconciliation, builds } = sources;
  // A line's /status keeps the shape it always had: its graph is its tags.
  const { wave: _wave, lastWave: _lastWave, blocked: _blocked, ...chain } = sources.chain;
  const tagSequence = sources.graph.nodes.map((node) => node.id);
  const has = (list: { tag: string }[], tag: string) => list.some((entry) => entry.tag === tag);
  const wave = sources.chain.wave;
  const waiting = new Set(wave?.members.filter((tag) => !wave.built.includes(tag)) ?? []);
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
            : waiting.has(tag)
              ? 'waiting'
              : null;
  return {
    version: sources.version,
    dryRun: sources.dryRun,
    repository: sources.repository,
    target: sources.target,
    tagSequence,
    nextKickoff: sources.nextKickoff === null ? null : sources.nextKickoff.toISOString(),
    ...chain,
    tags: tagSequence.map((tag) => ({
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
    ...(sources.graph.file === null ? {} : { graph: buildGraphView(sources) }),
    ...(sources.store === undefined ? {} : { store: sources.store }),
  };
}

/** Each node with its level, parents and state, and the waves: the page's graph. */
function buildGraphView(sources: StatusSources): GraphView {
  const { chain, builds, reconciliation, graph } = sources;
  const ordered = orderGraph(graph.nodes);
  const levelOf = new Map<string, number>();
  if (ordered.ok)
    ordered.levels.forEach((ids, level) => ids.forEach((id) => levelOf.set(id, level)));
  const byId = new Map(graph.nodes.map((node) => [node.id, node]));
  const since = (list: { tag: string; since: string }[], id: string) =>
    list.find((entry) => entry.tag === id)?.since;
  const wave = chain.wave;
  const shown = wave ?? chain.lastWave;
  const stateOf = (id: string): Pick<GraphNodeView, 'state' | 'dueAt' | 'since' | 'blockedBy'> => {
    const due = chain.pending.find((entry) => entry.tag === id)?.dueAt;
    if (due !== undefined) return { state: 'pending', dueAt: due };
    const failedSince = since(chain.failed, id);
    if (failedSince !== undefined) return { state: 'failed', since: failedSince };
    const stalledSince = since(chain.stalled, id);
    if (stalledSince !== undefined) return { state: 'stalled', since: stalledSince };
    const awaitedSince = since(chain.awaiting, id);
    if (awaitedSince !== undefined) {
      return { state: isBuilding(builds[id]) ? 'building' : 'awaited', since: awaitedSince };
    }
    const blocker = chain.blocked[id];
    if (blocker !== undefined) return { state: 'blocked', blockedBy: blocker };
    if (byId.get(id)?.build.dryRun === true && shown?.members.includes(id) === true) {
      return { state: 'dry-run' };
    }
    if (wave?.members.includes(id) === true && !wave.built.includes(id)) {
      return { state: 'waiting' };
    }
    if (shown?.built.includes(id) === true) return { state: 'built' };
    return { state: null };
  };
  const nodes = [...graph.nodes]
    .sort((a, b) => (levelOf.get(a.id) ?? 0) - (levelOf.get(b.id) ?? 0))
    .map((node) => ({
      id: node.id,
      level: levelOf.get(node.id) ?? 0,
      parents: [...node.parents],
      upstream: [...node.upstream],
      ...stateOf(node.id),
      build: builds[node.id] ?? null,
      registryPush: reconciliation.registry[node.id] ?? null,
      appPush: chain.lastPush[node.id] ?? null,
      ...digestOf(sources.digests?.[node.id]),
    }));
  return {
    file: graph.file,
    levels: ordered.ok ? ordered.levels.length : 0,
    nodes,
    wave: wave === null ? null : waveView(wave),
    lastWave: chain.lastWave === null ? null : waveView(chain.lastWave),
  };
}

/** What a node's digest read adds to its view: the digest, and a warning or a read's failure. */
function digestOf(status: DigestStatus | undefined): Pick<GraphNodeView, 'digest' | 'warning'> {
  if (status === undefined) return {};
  const warning =
    status.warning ??
    (status.error === null ? undefined : `its digest cannot be read: ${status.error}`);
  return { digest: status.digest, ...(warning === undefined ? {} : { warning }) };
}

function waveView(wave: WaveStatus): WaveView {
  const failed = wave.failed.length;
  const blocked = Object.keys(wave.blocked).length;
  return {
    by: wave.by,
    startedAt: wave.startedAt,
    built: wave.built.length,
    total: wave.members.length,
    failed,
    blocked,
    ...(wave.endedAt === undefined
      ? {}
      : { endedAt: wave.endedAt, outcome: failed + blocked > 0 ? 'failed' : 'complete' }),
  };
}
