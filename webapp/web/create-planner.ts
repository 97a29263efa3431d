import { basename, resolve } from 'node:path';
import type { Dispatcher } from 'undici';
import { createBuildWatcher } from '../builds/create-build-watcher';
import { createNodeTargets, describeWhere, prepareTriggers } from '../builds/prepare-triggers';
import type { BuildTarget } from '../builds/targets/build-target';
import type { Journal } from '../chain/create-journal';
import {
  isOnDockerHub,
  parseImageRef,
  repositoryPath,
  type ImageRef,
} from '../chain/parse-image-ref';
import type { GitHubEvent } from '../github/read-github-event';
import { createDigestWatcher } from '../registry/create-digest-watcher';
import { createOciRegistry } from '../registry/create-oci-registry';
import type { GitHubAnswer } from './add-github-route';
import { createPropagator, type Propagator } from '../chain/create-propagator';
import { createSchedule } from '../clock/create-schedule';
import { longestPropagationDelay, type Config } from '../config';
import { appVersion } from '../deployment/app-info';
import { createPool } from '../http/create-pool';
import type { Logger } from '../logging/create-logger';
import { createNotifier } from '../notify/create-notifier';
import { describeEvent } from '../notify/describe-event';
import { createHubApi } from '../registry/create-hub-api';
import { createReconciler } from '../registry/create-reconciler';
import { createUpstreamWatcher } from '../registry/create-upstream-watcher';
import { startPolling } from '../timing/start-polling';
import { realClock } from '../timing/real-clock';
import type { BuildState, ChainEvent, Clock, TriggerBuild, TriggerOutcome } from '../types';
import { buildStatusView, type StatusView } from './build-status-view';
import { createFileStore } from '../store/create-file-store';
import { createMemoryStore } from '../store/create-memory-store';
import type {
  ClaimAnswer,
  InboxDelivery,
  SavedState,
  StateStore,
  StoreStatus,
} from '../store/state-store';

/** ms a run is followed at most when STALL_TIMEOUT is 0: something must end the reads */
const longestFollow = 24 * 3600_000;

/** ms: the shortest time between two reads of the registry, of all the polls that run. */
function shortestPoll(config: Config): number {
  const polls = [
    config.reconcileInterval,
    config.graph.upstream.length > 0 ? config.upstreamPollInterval : 0,
  ].filter((every) => every > 0);
  return polls.length === 0 ? Number.POSITIVE_INFINITY : Math.min(...polls);
}

/** What a test or the bench may put in place of the real thing; the rest comes from config. */
export interface PlannerParts {
  /** the clock (the real one when left out) */
  clock?: Clock;
  /** the journal of pending triggers (the store's when left out) */
  journal?: Journal;
  /** where the state lives (the file at STATE_FILE when left out) */
  store?: StateStore;
  /** what the store held at start, when it was read before (the database's) */
  saved?: SavedState;
  /**
   * Claims each trigger and notification before it goes, when other dynos could send it too:
   * the answer says whether to send it. Nothing is claimed when left out (one process).
   */
  claim?: (key: string, signal: AbortSignal) => Promise<ClaimAnswer | 'aborted'>;
  /** what became of a key claimed and granted: sent, or not (failed, given up, stopped) */
  settle?: (key: string, sent: boolean) => void;
  /** what /status says of the store and this dyno's part (the file store's when left out) */
  storeStatus?: () => StoreStatus;
  /** the pool for Docker Hub's API, the builds' runs and notifications (one of its own) */
  dispatcher?: Dispatcher;
  /** what starts a build (triggerTag on the configured target, with a pool of its own) */
  trigger?: TriggerBuild;
  /** the version shown on /status (package.json's) */
  version?: string;
}

/** The chain with everything that feeds it and tells of it, but no server. */
export interface Planner {
  propagator: Propagator;
  /** where triggers go, secrets masked */
  where: string;
  /** what GET /status answers, and the page shows */
  status(): StatusView;
  /** acts on a verified GitHub delivery */
  deliverGitHub(event: Exclude<GitHubEvent, { kind: 'ignored' }>): Promise<GitHubAnswer>;
  /** acts on a delivery another dyno took */
  act(delivery: InboxDelivery): Promise<void>;
  /** the clock's next kick-off, from this process's copy of its schedule */
  nextKickoff(): Date | null;
  /**
   * Resumes what the journal says is owed, follows the clock's kick-offs, and starts reading
   * the registry (reconciliation and upstream images) when the configuration asks for it.
   */
  start(): void;
  /**
   * The clock process triggered the first tag (its schedule, which this process follows): its
   * push is awaited, and every upstream change that counted until now is built by this chain.
   */
  clockKickedOff(): void;
  /** Tells of what no claim can guard: the database itself stopped answering. */
  tellUnclaimed(event: ChainEvent): void;
  /** Stops every timer and every request; what is owed stays in the store. */
  close(): Promise<void>;
}

/**
 * The chain over the registry's readers, the builds' follower and the notifier, all made from
 * `config`: what plans and sends. The one builder of it: the web app (one process, or the dyno
 * that holds the lease) makes one, replacing only `parts`.
 */
export function createPlanner(config: Config, log: Logger, parts: PlannerParts = {}): Planner {
  const clock = parts.clock ?? realClock;
  // A journal given apart keeps the rest in memory: nothing is written beside someone's file.
  const store =
    parts.store ??
    (parts.journal === undefined
      ? createFileStore(resolve(config.stateFile), log.child({ unit: 'journal' }))
      : createMemoryStore());
  const readSaved = (): SavedState => parts.saved ?? readNow(store);
  // What is known of pushes and digests is read now; the journal when the planner starts, so
  // that a journal written until then is the one that counts.
  const known = readSaved();
  const journal: Journal = parts.journal ?? {
    load: () => readSaved().journal,
    save: (pending) => store.save('journal', [...pending]),
  };
  const pool = parts.dispatcher ?? createPool(config.retry.timeout);
  const triggers = parts.trigger === undefined ? prepareTriggers(config, log) : undefined;
  const targets = triggers === undefined ? createNodeTargets(config) : undefined;
  const targetOf = (id: string) => (triggers?.targetOf(id) ?? targets?.get(id)) as BuildTarget;
  const allTargets = triggers?.targets ?? [...(targets?.values() ?? [])];
  const where = triggers?.where ?? describeWhere(allTargets);
  const sendTrigger = (parts.trigger ?? triggers?.trigger) as TriggerBuild;
  // Read once: /status and the page are read every few seconds while the chain moves.
  const version = parts.version ?? appVersion();
  const { graph } = config;
  const roots = graph.nodes.filter((node) => node.parents.length === 0);
  const startedAt = clock.now();
  const repository = graphName(config);
  // Every outbound request and wait of this app ends at once when the app is closed.
  const shutdown = new AbortController();
  const notifications = createNotifier({
    url: config.notify.url,
    events: config.notify.events,
    log: log.child({ unit: 'notify' }),
    retry: config.retry,
    dispatcher: pool,
    secrets: [...new Set(allTargets.flatMap((target) => target.secrets))],
    repository,
    clock,
  });
  // Claimed by what it tells of, so that a dyno that takes over does not tell it again.
  const notifier = {
    notify(event: ChainEvent) {
      if (parts.claim === undefined) {
        notifications.notify(event);
        return;
      }
      const key = `notify:${describeEvent(repository, event).key}`;
      void parts.claim(key, shutdown.signal).then((answer) => {
        if (answer !== 'granted') return;
        notifications.notify(event);
        parts.settle?.(key, true);
      });
    },
  };
  const imageTagOf = new Map(graph.nodes.map((node) => [node.id, node.image.tag]));
  const builds = createBuildWatcher({
    targetOf,
    tagOf: (id) => imageTagOf.get(id) ?? id,
    targets: allTargets,
    log: log.child({ unit: 'builds' }),
    clock,
    dispatcher: pool,
    interval: config.buildPollInterval,
    timeout: config.retry.timeout,
    followFor: config.stallTimeout > 0 ? config.stallTimeout : longestFollow,
    onFailed: (tag, run) => {
      const event: ChainEvent = {
        kind: 'build-failed',
        tag,
        run,
        blocks: propagator.buildFailed(tag),
      };
      // A line of tags tells a failure as it always has: what it blocks is the rest of the line.
      const told = graph.file === null ? asLineEvent(event) : event;
      if (told !== undefined) notifier.notify(told);
    },
    // A CI build's end is its push: no registry webhook need come. Whatever tells of the push
    // later (Docker Hub's webhook, a new digest) is the same build, and counts once.
    onSucceeded: (tag) => {
      propagator.buildEnded(tag);
      if (digestNodes.has(tag)) void digests.built(tag);
    },
  });
  // Every build this process starts is followed when its target names the run. A trigger
  // another dyno claimed and sent is that build: it is awaited, and its run looked for.
  const trigger = async (tag: string, signal: AbortSignal, key: string) => {
    if (parts.claim !== undefined) {
      const answer = await parts.claim(`trigger:${key}`, signal);
      if (answer === 'aborted') {
        return { ok: false, dryRun: false, attempts: 0, aborted: true } satisfies TriggerOutcome;
      }
      if (answer === 'sent') {
        log.info({ tag }, `${tag}'s trigger was sent by another dyno: its build is awaited`);
        builds.started(tag, undefined);
        return { ok: true, dryRun: false, attempts: 0 } satisfies TriggerOutcome;
      }
    }
    const outcome: TriggerOutcome = await sendTrigger(tag, signal);
    parts.settle?.(`trigger:${key}`, outcome.ok && !outcome.dryRun);
    if (outcome.ok && !outcome.dryRun) builds.started(tag, outcome.run);
    return outcome;
  };
  const propagator = createPropagator({
    nodes: graph.nodes,
    delay: config.propagationDelay,
    longestDelay: longestPropagationDelay * 1000,
    log: log.child({ unit: 'chain' }),
    trigger,
    clock,
    journal,
    pushes: { load: () => known.pushes, save: (pushes) => store.save('pushes', pushes) },
    // A dry run sends nothing, so no push can be owed.
    stallTimeout: config.dryRun ? 0 : config.stallTimeout,
    stallRetrigger: config.stallRetrigger,
    concurrency: config.buildConcurrency,
    graphName: graph.file ?? 'TAG_SEQUENCE',
    onEvent: (event) => {
      if (event.kind === 'stalled') builds.stalled(event.tag);
      const told = graph.file === null ? asLineEvent(event) : event;
      if (told !== undefined) notifier.notify(told);
    },
    onPush: (tag) => builds.pushed(tag),
  });
  const api = createHubApi({
    baseUrl: config.registry.url,
    ...(config.registry.user === undefined ? {} : { user: config.registry.user }),
    ...(config.registry.token === undefined ? {} : { token: config.registry.token }),
    dispatcher: pool,
    timeout: config.retry.timeout,
    signal: shutdown.signal,
    // A look that fails is looked at again at the next poll: its own retries stop before that.
    retries: {
      ...config.retry,
      giveUpAfter: Math.min(config.retry.giveUpAfter, shortestPoll(config)),
    },
    log: log.child({ unit: 'registry' }),
    clock,
  });
  const reconciler = createReconciler({
    nodes: graph.nodes.map(({ id, parents, image }) => ({
      id,
      parents,
      // Docker Hub's tags API knows when each tag was pushed; other registries give digests only.
      ...(isOnDockerHub(image)
        ? { hub: { namespace: image.namespace, repository: image.repository, tag: image.tag } }
        : {}),
    })),
    api,
    chain: propagator,
    log: log.child({ unit: 'reconcile' }),
    clock,
    delay: config.propagationDelay,
    startedAt,
  });
  const upstreamLog = log.child({ unit: 'upstream' });
  const oci = createOciRegistry({
    dispatcher: pool,
    timeout: config.retry.timeout,
    signal: shutdown.signal,
    log: log.child({ unit: 'registry' }),
    clock,
    credentialsFor: config.registryCredentials,
    retries: {
      ...config.retry,
      giveUpAfter: Math.min(config.retry.giveUpAfter, shortestPoll(config)),
    },
  });
  // Docker Hub named without a host is read through its tags API, as it always was; an image
  // named with its registry's host, through that registry's distribution API.
  const readDigest = async (image: ImageRef) =>
    image.registry === undefined
      ? (await api.getTag(image.namespace, image.repository, image.tag)).digest
      : oci.readDigest({ registry: image.registry, name: repositoryPath(image), tag: image.tag });
  const digestNodes = new Set(
    graph.nodes.filter((node) => !isOnDockerHub(node.image)).map((node) => node.id),
  );
  const digests = createDigestWatcher({
    nodes: graph.nodes.filter((node) => digestNodes.has(node.id)),
    readDigest,
    // A push seen while its CI run goes on is that run's: its end counts, success or failure.
    onPushed: (tag) => {
      if (builds.running(tag)) return false;
      propagator.imageChanged(tag);
      return true;
    },
    log: log.child({ unit: 'digests' }),
    clock,
    known: known.digests,
    onKnown: (digests) => store.save('digests', digests),
  });
  const upstream = createUpstreamWatcher({
    images: graph.upstream,
    readDigest,
    log: upstreamLog,
    clock,
    quiet: config.upstreamQuiet,
    known: known.upstream,
    onKnown: (digests) => store.save('upstream', digests),
  });
  // A change that counted is owed to every node built from it, in the wave in flight or in one
  // of its own; the planner holds what moves until what it is built from has settled.
  const lookUpstream = async () => {
    await upstream.look();
    const owed = upstream.owed();
    if (owed.length === 0) return;
    upstream.served();
    const touched = graph.nodes
      .filter((node) => node.upstream.some((image) => owed.includes(image)))
      .map((node) => node.id);
    upstreamLog.info(
      { changed: owed, tag: touched.join(', ') },
      `upstream kick-off: ${owed.join(', ')} changed, triggering ${touched.join(', ')}`,
    );
    propagator.upstreamChanged(owed, clock.now());
  };
  const running: { stop(): void }[] = [];
  let started = false;
  // The clock process triggers the roots on its schedule; this process follows the same one.
  const clockKickedOff = () => {
    for (const root of roots) {
      if (root.build.dryRun) continue;
      propagator.expect(root.id, 'kick-off');
      // The clock sent the dispatch, so its run is not known here: it is found among the
      // workflow's runs, and its end is then this node's push.
      if (targetOf(root.id).runs?.find !== undefined) builds.started(root.id, undefined);
    }
  };
  // The clock's own schedule, copied here for its next kick-off; once started, it also says when
  // the clock kicked off, after which the first tag's push is awaited.
  const kickoffs = createSchedule(config.schedule, config.timezone);
  const nextKickoff = () => kickoffs.nextRun(new Date(clock.now()));

  const status = () =>
    buildStatusView({
      version,
      dryRun: config.dryRun,
      repository,
      target: { name: targetName(allTargets), where },
      graph,
      reconcileEvery: config.reconcileInterval,
      nextKickoff: nextKickoff(),
      chain: propagator.status(),
      reconciliation: reconciler.status(),
      builds: builds.status(),
      upstream: upstream.status(),
      digests: digests.status(),
      notifications: notifications.recent(),
      ...(parts.storeStatus === undefined ? {} : { store: parts.storeStatus() }),
    });

  const deliverGitHub = async (
    event: Exclude<GitHubEvent, { kind: 'ignored' }>,
  ): Promise<GitHubAnswer> => {
    if (event.kind === 'run-completed') {
      const run = `run ${event.runId} of ${event.repository}`;
      return builds.heard('github', event.runId, event.state, event.url)
        ? { status: 200, description: `${run} ended: ${event.state}` }
        : { status: 202, description: `${run} is not one this app follows` };
    }
    const id = imageIdOf(event.image);
    if (id === undefined || !digestNodes.has(id)) {
      return { status: 202, description: `${event.image} is not an image of the graph` };
    }
    // Checked against the registry before it is answered, while GitHub still waits (it gives up
    // after 10 s): a read that takes longer goes on after the answer.
    let timer: unknown;
    const checked = await Promise.race([
      digests.seen(id, event.digest).then(() => true),
      new Promise<false>((resolve) => (timer = clock.setTimeout(() => resolve(false), 5000))),
    ]);
    clock.clearTimeout(timer);
    return checked
      ? { status: 200, description: `${id} published as ${event.digest}` }
      : { status: 202, description: `${id} published as ${event.digest}: being checked` };
  };

  // The same deliveries as the routes', taken by another dyno and kept for this one.
  const act = async (delivery: InboxDelivery): Promise<void> => {
    if (delivery.kind === 'push') {
      if (!graph.nodes.some((node) => node.id === delivery.tag)) return;
      propagator.accept(delivery.tag, delivery.pushedAt);
    } else if (delivery.kind === 'run') {
      builds.heard(delivery.service, delivery.id, delivery.state as BuildState, delivery.url);
    } else {
      const id = imageIdOf(delivery.image);
      // As the route does: the check goes on after 5 s, and holds up no other delivery.
      if (id !== undefined && digestNodes.has(id)) {
        await Promise.race([
          digests.seen(id, delivery.digest),
          clock.sleep(5000, shutdown.signal).catch(() => undefined),
        ]);
      }
    }
  };

  return {
    propagator,
    where,
    status,
    deliverGitHub,
    act,
    tellUnclaimed: (event) => notifications.notify(event),
    nextKickoff,
    clockKickedOff,
    start() {
      if (started) return;
      started = true;
      builds.start();
      propagator.resume();
      // Builds awaited since before a restart: their runs are looked for again, and their end
      // is then their push, as it would have been without the restart.
      for (const { tag, since } of propagator.status().awaiting) {
        if (digestNodes.has(tag)) digests.awaitedSinceBefore(tag);
        if (targetOf(tag).runs?.find !== undefined)
          builds.started(tag, undefined, Date.parse(since));
      }
      if (!config.dryRun) {
        running.push(
          createSchedule(config.schedule, config.timezone, async () => clockKickedOff()),
        );
      }
      if (config.reconcileInterval > 0) {
        running.push(startPolling(() => reconciler.look(), config.reconcileInterval, clock));
        if (digestNodes.size > 0) {
          running.push(startPolling(() => digests.look(), config.reconcileInterval, clock));
        }
      }
      if (graph.upstream.length > 0) {
        running.push(startPolling(lookUpstream, config.upstreamPollInterval, clock));
      }
    },
    async close() {
      shutdown.abort();
      kickoffs.stop();
      for (const loop of running) loop.stop();
      await propagator.close();
      builds.close();
      await notifications.close();
      await triggers?.close();
      if (parts.dispatcher === undefined) await pool.close();
    },
  };
}

/** The node id an image reference names, however it is spelt; undefined for no image. */
function imageIdOf(text: string): string | undefined {
  try {
    return parseImageRef(text).display;
  } catch {
    return undefined;
  }
}

/** What notifications and the page call this deployment: its repository, or its graph file. */
function graphName(config: Config): string {
  return config.graph.file === null
    ? `${config.userName}/${config.repoName}`
    : basename(config.graph.file);
}

/** The one kind of target that builds every node, or `mixed`. */
function targetName(targets: readonly BuildTarget[]): string {
  const names = [...new Set(targets.map((target) => target.name))];
  return names.length === 1 ? (names[0] as string) : names.join(', ');
}

/**
 * An event as a line of tags tells it: what a failure blocks is the rest of the line, and a
 * wave that ends short of its last tag is told by its stall or failure, not once more.
 */
function asLineEvent(event: ChainEvent): ChainEvent | undefined {
  if (event.kind === 'chain-complete') {
    const wave = event.wave;
    return wave !== undefined && wave.failed + wave.blocked > 0 ? undefined : event;
  }
  if ('blocks' in event) {
    const { blocks: _blocks, ...rest } = event;
    return rest;
  }
  return event;
}

/** The store's state at once: only a store on this machine's disk can be read so. */
function readNow(store: StateStore): SavedState {
  if (store.read === undefined) throw new Error(`the ${store.kind} store is read before it starts`);
  return store.read();
}
