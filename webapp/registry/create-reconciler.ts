import type { Logger } from '../logging/create-logger';
import type { Clock } from '../types';
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
  learnPush(tag: string, pushedAt: number): void;
  propagateAt(tag: string, pushedAt: number, dueAt: number): void;
  awaitSince(tag: string, since: number): void;
}

export interface ReconcilerDeps {
  tags: readonly string[];
  namespace: string;
  repository: string;
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
  /** per tag of the sequence, the last push the registry showed (ISO) */
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
  const { log, tags } = deps;
  const registry = new Map<string, { pushedAt: number }>();
  let lastLook: number | undefined;
  let outcome: string | null = null;
  let failing = false;
  const said = new Set<string>();
  // Says a bad record once, not at every look.
  const sayOnce = (key: string, fields: Record<string, unknown>, message: string) => {
    if (said.has(key)) return;
    said.add(key);
    if (said.size > rememberedProblems) said.delete(said.values().next().value as string);
    log.warn(fields, message);
  };

  const apply = (decision: ReconcileDecision) => {
    if (decision.kind === 'known' || decision.kind === 'old' || decision.kind === 'recent') {
      log.debug({ tag: decision.tag, decision: decision.kind }, decision.why);
      return;
    }
    log.info({ tag: decision.tag, decision: decision.kind }, decision.why);
    deps.chain.learnPush(decision.tag, decision.pushedAt);
    if (decision.kind === 'propagate') {
      deps.chain.propagateAt(decision.tag, decision.pushedAt, decision.dueAt);
    } else if (decision.kind === 'await') {
      deps.chain.awaitSince(decision.next, decision.since);
    }
  };

  const lookOnce = async () => {
    let listed;
    try {
      listed = await deps.api.listTags(deps.namespace, deps.repository);
      lastLook = deps.clock.now();
    } catch (err) {
      // Shutdown is no outage.
      if (err instanceof HubApiError && err.kind === 'aborted') return;
      lastLook = deps.clock.now();
      outcome = err instanceof Error ? err.message : String(err);
      // One line per outage, not one per look.
      if (!failing) {
        log.warn(
          { kind: err instanceof HubApiError ? err.kind : undefined },
          `cannot read the tags of ${deps.namespace}/${deps.repository} from Docker Hub: ${outcome}; trying again at the next look`,
        );
      }
      failing = true;
      return;
    }
    if (failing)
      log.info(`Docker Hub's tags of ${deps.namespace}/${deps.repository} can be read again`);
    failing = false;
    outcome = 'ok';
    const where = `${deps.namespace}/${deps.repository}`;
    for (const bad of listed.skipped) {
      sayOnce(
        `unreadable ${bad.name ?? '?'} ${bad.reason}`,
        { tag: bad.name, reason: bad.reason },
        `skipped a tag of ${where} that cannot be read (${bad.name ?? 'no name'}: ${bad.reason}); the others are used`,
      );
    }
    const latestBelievable = deps.clock.now() + futureSlack;
    for (const tag of listed.tags) {
      if (!tags.includes(tag.name)) continue;
      if (tag.pushedAt > latestBelievable) {
        const at = new Date(tag.pushedAt).toISOString();
        sayOnce(
          `future ${tag.name} ${tag.pushedAt}`,
          { tag: tag.name, pushedAt: at },
          `Docker Hub says ${where}:${tag.name} was pushed at ${at}, in the future: not taken as a push`,
        );
        continue;
      }
      registry.set(tag.name, { pushedAt: tag.pushedAt });
    }
    const known = deps.chain.knowledge();
    const decisions = planReconciliation(
      {
        tags,
        now: deps.clock.now(),
        startedAt: deps.startedAt,
        delay: deps.delay,
        window,
        tolerance,
        ...known,
      },
      registry,
    );
    for (const decision of decisions) apply(decision);
  };

  return {
    look: lookOnce,
    status() {
      return {
        lastLook: lastLook === undefined ? null : new Date(lastLook).toISOString(),
        outcome,
        registry: Object.fromEntries(
          tags.map((tag) => {
            const seen = registry.get(tag);
            return [tag, seen === undefined ? null : new Date(seen.pushedAt).toISOString()];
          }),
        ),
      };
    },
  };
}
