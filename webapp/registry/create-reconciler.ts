import type { Logger } from '../logging/create-logger';
import type { Clock } from '../types';
import { forEachAtMost } from '../timing/for-each-at-most';
import { futureSlack, type ChainKnowledge } from '../chain/create-propagator';
import { HubApiError, type HubApi } from './create-hub-api';
import { planReconciliation, type ReconcileDecision } from '../chain/plan-reconciliation';

/** Only pushes this recent count: a first deployment on an old repository builds nothing. */
const window = 24 * 3600 * 1000;
/** A push the app knows within this of the registry's time is the same push. */
const tolerance = 60_000;
/** Records said to be unreadable are remembered, so each is said once; this many at most. */
const rememberedProblems = 200;

/** What the chain lets reconciliation see and do. */
export interface ReconciledChain {
  knowledge(): ChainKnowledge;
  reconcile(decisions: readonly ReconcileDecision[]): void;
}

/** A node of the graph, with the Docker Hub tag that holds its image, when it is there. */
export interface ReconciledNode {
  id: string;
  parents: readonly string[];
  /** left out for an image on another registry: it has no push times to read */
  hub?: { namespace: string; repository: string; tag: string };
}

/** Repositories read at once in one look: a graph over many must not open a connection each. */
const readsAtOnce = 4;

export interface ReconcilerDeps {
  nodes: readonly ReconciledNode[];
  api: Pick<HubApi, 'listTags'>;
  chain: ReconciledChain;
  log: Logger;
  clock: Clock;
  /** ms: PROPAGATION_DELAY */
  delay: number;
  /** ms: when this process started */
  startedAt: number;
}

export interface ReconcileStatus {
  /** ISO time the last look ended, whatever came of it */
  lastLook: string | null;
  /** 'ok', or why the last look failed */
  outcome: string | null;
  /** per node, the last push the registry showed (ISO) */
  registry: Record<string, string | null>;
}

export interface Reconciler {
  /** Reads the tags' last pushes and acts on those the app did not know; never throws. */
  look(): Promise<void>;
  status(): ReconcileStatus;
}

/**
 * Makes the registry the truth about pushes: a push whose webhook never came is propagated as
 * if it had, and after a restart what was owed is owed again. Looks must not overlap
 * (startPolling runs one after the other).
 */
export function createReconciler(deps: ReconcilerDeps): Reconciler {
  const { log, nodes } = deps;
  const registry = new Map<string, { pushedAt: number }>();
  // One read per repository, however many of its tags are nodes.
  const repositories = new Map<string, Map<string, string>>();
  for (const { id, hub } of nodes) {
    if (hub === undefined) continue;
    const name = `${hub.namespace}/${hub.repository}`;
    const tags = repositories.get(name) ?? new Map<string, string>();
    tags.set(hub.tag, id);
    repositories.set(name, tags);
  }
  let lastLook: number | undefined;
  let outcome: string | null = null;
  const failing = new Set<string>();
  const said = new Set<string>();
  // Says a bad record once, not at every look.
  const sayOnce = (key: string, fields: Record<string, unknown>, message: string) => {
    if (said.has(key)) return;
    said.add(key);
    if (said.size > rememberedProblems) said.delete(said.values().next().value as string);
    log.warn(fields, message);
  };

  const say = (decision: ReconcileDecision) => {
    const quiet =
      decision.kind === 'known' || decision.kind === 'old' || decision.kind === 'recent';
    log[quiet ? 'debug' : 'info']({ tag: decision.tag, decision: decision.kind }, decision.why);
  };

  /** Reads one repository's tags into the registry's view; its failure, or null. */
  const readRepository = async (where: string, tags: Map<string, string>) => {
    const [namespace, repository] = where.split('/') as [string, string];
    let listed;
    try {
      listed = await deps.api.listTags(namespace, repository);
    } catch (err) {
      // Shutdown is no outage.
      if (err instanceof HubApiError && err.kind === 'aborted') return 'aborted';
      const reason = err instanceof Error ? err.message : String(err);
      // One line per outage, not one per look.
      if (!failing.has(where)) {
        log.warn(
          { kind: err instanceof HubApiError ? err.kind : undefined },
          `cannot read the tags of ${where} from Docker Hub: ${reason}; trying again at the next look`,
        );
      }
      failing.add(where);
      return reason;
    }
    if (failing.delete(where)) log.info(`Docker Hub's tags of ${where} can be read again`);
    for (const bad of listed.skipped) {
      sayOnce(
        `unreadable ${where} ${bad.name ?? '?'} ${bad.reason}`,
        { tag: bad.name, reason: bad.reason },
        `skipped a tag of ${where} that cannot be read (${bad.name ?? 'no name'}: ${bad.reason}); the others are used`,
      );
    }
    const latestBelievable = deps.clock.now() + futureSlack;
    for (const tag of listed.tags) {
      const id = tags.get(tag.name);
      if (id === undefined) continue;
      if (tag.pushedAt > latestBelievable) {
        const at = new Date(tag.pushedAt).toISOString();
        sayOnce(
          `future ${where} ${tag.name} ${tag.pushedAt}`,
          { tag: tag.name, pushedAt: at },
          `Docker Hub says ${where}:${tag.name} was pushed at ${at}, in the future: not taken as a push`,
        );
        continue;
      }
      registry.set(id, { pushedAt: tag.pushedAt });
    }
    return null;
  };

  const lookOnce = async () => {
    const problems: string[] = [];
    let aborted = false;
    await forEachAtMost([...repositories], readsAtOnce, async ([where, tags]) => {
      const problem = await readRepository(where, tags);
      if (problem === 'aborted') aborted = true;
      else if (problem !== null) {
        problems.push(repositories.size > 1 ? `${where}: ${problem}` : problem);
      }
    });
    if (aborted) return;
    lastLook = deps.clock.now();
    outcome = problems.length === 0 ? 'ok' : problems.join('; ');
    // What could be read is used: one repository down does not hold up the others.
    const known = deps.chain.knowledge();
    const decisions = planReconciliation(
      {
        nodes,
        now: deps.clock.now(),
        startedAt: deps.startedAt,
        delay: deps.delay,
        window,
        tolerance,
        ...known,
      },
      registry,
    );
    for (const decision of decisions) say(decision);
    deps.chain.reconcile(decisions);
  };

  return {
    look: lookOnce,
    status() {
      return {
        lastLook: lastLook === undefined ? null : new Date(lastLook).toISOString(),
        outcome,
        registry: Object.fromEntries(
          nodes.map(({ id }) => {
            const seen = registry.get(id);
            return [id, seen === undefined ? null : new Date(seen.pushedAt).toISOString()];
          }),
        ),
      };
    },
  };
}
