import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Dispatcher } from 'undici';
import { createBuildWatcher } from '../builds/create-build-watcher';
import { prepareTriggers } from '../builds/prepare-triggers';
import { createTarget } from '../builds/targets/create-target';
import { createJournal, type Journal } from '../chain/create-journal';
import { createPropagator, type Propagator } from '../chain/create-propagator';
import { kickOff } from '../chain/kick-off';
import { createSchedule } from '../clock/create-schedule';
import { longestPropagationDelay, type Config } from '../config';
import { appVersion } from '../deployment/app-info';
import { createPool } from '../http/create-pool';
import type { Logger } from '../logging/create-logger';
import { createNotifier } from '../notify/create-notifier';
import { createHubApi } from '../registry/create-hub-api';
import { createReconciler } from '../registry/create-reconciler';
import { createUpstreamWatcher } from '../registry/create-upstream-watcher';
import { startPolling } from '../timing/start-polling';
import { realClock } from '../timing/real-clock';
import type { Clock, TriggerBuild, TriggerOutcome } from '../types';
import { buildServer } from './build-server';
import { buildStatusView, isBuilding } from './build-status-view';

/** ms a run is followed at most when STALL_TIMEOUT is 0: something must end the reads */
const longestFollow = 24 * 3600_000;

/** ms: the shortest time between two reads of the registry, of all the polls that run. */
function shortestPoll(config: Config): number {
  const polls = [
    config.reconcileInterval,
    config.upstreamImages.length > 0 ? config.upstreamPollInterval : 0,
  ].filter((every) => every > 0);
  return polls.length === 0 ? Number.POSITIVE_INFINITY : Math.min(...polls);
}

/** What a test or the bench may put in place of the real thing; the rest comes from config. */
export interface WebAppParts {
  /** the clock (the real one when left out) */
  clock?: Clock;
  /** the journal of pending triggers (the file at STATE_FILE when left out) */
  journal?: Journal;
  /** the pool for Docker Hub's API, the builds' runs and notifications (one of its own) */
  dispatcher?: Dispatcher;
  /** what starts a build (triggerTag on the configured target, with a pool of its own) */
  trigger?: TriggerBuild;
  /** the version shown on /status (package.json's) */
  version?: string;
  /** ms a whole request may take (the server's default when left out) */
  requestTimeout?: number;
}

export interface WebApp {
  server: FastifyInstance;
  propagator: Propagator;
  /** where triggers go, secrets masked */
  where: string;
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
  /** Stops taking deliveries, every timer and every request; what is owed stays in the journal. */
  close(): Promise<void>;
}

/**
 * The web process, not yet listening: the webhook's server over the chain, the registry's
 * readers, the builds' follower and the notifier, all made from `config`. The one builder of it:
 * the process, the tests and the bench call it, replacing only `parts`.
 */
export function createWebApp(config: Config, log: Logger, parts: WebAppParts = {}): WebApp {
  const clock = parts.clock ?? realClock;
  const journal =
    parts.journal ?? createJournal(resolve(config.stateFile), log.child({ unit: 'journal' }));
  const pool = parts.dispatcher ?? createPool(config.retry.timeout);
  const triggers = parts.trigger === undefined ? prepareTriggers(config, log) : undefined;
  const target = triggers?.target ?? createTarget(config.target, config);
  const sendTrigger = (parts.trigger ?? triggers?.trigger) as TriggerBuild;
  // Read once: /status and the page are read every few seconds while the chain moves.
  const version = parts.version ?? appVersion();
  const firstTag = config.tagSequence[0] as string;
  const startedAt = clock.now();
  const repository = `${config.userName}/${config.repoName}`;
  // Every outbound request and wait of this app ends at once when the app is closed.
  const shutdown = new AbortController();
  const notifier = createNotifier({
    url: config.notify.url,
    events: config.notify.events,
    log: log.child({ unit: 'notify' }),
    retry: config.retry,
    dispatcher: pool,
    secrets: target.secrets,
    repository,
    clock,
  });
  const builds = createBuildWatcher({
    target,
    log: log.child({ unit: 'builds' }),
    clock,
    dispatcher: pool,
    interval: config.buildPollInterval,
    timeout: config.retry.timeout,
    followFor: config.stallTimeout > 0 ? config.stallTimeout : longestFollow,
    onFailed: (tag, run) => {
      propagator.buildFailed(tag);
      notifier.notify({ kind: 'build-failed', tag, run });
    },
  });
  // Every build this process starts is followed when its target names the run.
  const trigger: TriggerBuild = async (tag, signal) => {
    const outcome: TriggerOutcome = await sendTrigger(tag, signal);
    if (outcome.ok && !outcome.dryRun) {
      builds.started(tag, outcome.run);
      if (tag === firstTag) serveUpstream(`the trigger of ${firstTag}`);
    }
    return outcome;
  };
  const propagator = createPropagator({
    tags: config.tagSequence,
    delay: config.propagationDelay,
    longestDelay: longestPropagationDelay * 1000,
    log: log.child({ unit: 'chain' }),
    trigger,
    clock,
    journal,
    // A dry run sends nothing, so no push can be owed.
    stallTimeout: config.dryRun ? 0 : config.stallTimeout,
    stallRetrigger: config.stallRetrigger,
    onEvent: (event) => {
      if (event.kind === 'stalled') builds.stalled(event.tag);
      notifier.notify(event);
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
    tags: config.tagSequence,
    namespace: config.userName,
    repository: config.repoName,
    api,
    chain: propagator,
    log: log.child({ unit: 'reconcile' }),
    clock,
    delay: config.propagationDelay,
    startedAt,
  });
  const upstreamLog = log.child({ unit: 'upstream' });
  const upstream = createUpstreamWatcher({
    images: config.upstreamImages,
    api,
    log: upstreamLog,
    clock,
    quiet: config.upstreamQuiet,
  });
  // A chain that starts after a change counted builds on the new image: it needs no other.
  const serveUpstream = (by: string) => {
    const owed = upstream.owed();
    if (owed.length > 0) {
      upstreamLog.info(
        { changed: owed, by },
        `${owed.join(', ')} changed before ${by}: that chain builds on ${owed.length > 1 ? 'them' : 'it'}, no upstream kick-off of its own`,
      );
    }
    upstream.served();
    held = false;
  };
  /** Why the chain is moving (a trigger pending, a push awaited, a build going), or null. */
  const chainMoving = (): string | null => {
    const { pending, awaiting } = propagator.knowledge();
    const [queued] = pending;
    if (queued !== undefined) return `${queued}'s trigger is pending`;
    const [awaited] = awaiting;
    if (awaited !== undefined) return `${awaited}'s push is awaited`;
    const building = Object.entries(builds.status()).find(([, build]) => isBuilding(build));
    return building === undefined ? null : `${building[0]} is building`;
  };
  let held = false;
  // Every change that counted while the chain moved waits for it to be idle: then one kick-off.
  const lookUpstream = async () => {
    await upstream.look();
    const owed = upstream.owed();
    if (owed.length === 0) return;
    const moving = chainMoving();
    if (moving === null) return kickOffForUpstream(owed);
    if (!held) {
      upstreamLog.info(
        { changed: owed, moving },
        `upstream kick-off waits: ${owed.join(', ')} changed while the chain is moving (${moving}); it starts once the chain is idle`,
      );
    }
    held = true;
  };
  // One kick-off, however many images changed, as the clock's would be.
  const kickOffForUpstream = async (changed: string[]) => {
    upstream.served();
    held = false;
    const outcome = await kickOff({
      firstTag,
      trigger,
      log: upstreamLog.child({ changed }),
      why: `upstream kick-off: ${changed.join(', ')} changed,`,
      signal: shutdown.signal,
      onEvent: (event) => notifier.notify(event),
      clock,
    });
    if (outcome.ok && !outcome.dryRun) propagator.expect(firstTag);
  };
  const running: { stop(): void }[] = [];
  let started = false;
  const clockKickedOff = () => {
    serveUpstream(`the clock's kick-off`);
    propagator.expect(firstTag);
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
      target: { name: config.target.name, where: target.where },
      tagSequence: config.tagSequence,
      reconcileEvery: config.reconcileInterval,
      nextKickoff: nextKickoff(),
      chain: propagator.status(),
      reconciliation: reconciler.status(),
      builds: builds.status(),
      upstream: upstream.status(),
      notifications: notifier.recent(),
    });

  const server = buildServer({
    config,
    log,
    propagator,
    status,
    clock,
    ...(parts.requestTimeout === undefined ? {} : { requestTimeout: parts.requestTimeout }),
  });
  return {
    server,
    propagator,
    where: target.where,
    nextKickoff,
    clockKickedOff,
    start() {
      if (started) return;
      started = true;
      builds.start();
      propagator.resume();
      if (!config.dryRun) {
        running.push(
          createSchedule(config.schedule, config.timezone, async () => clockKickedOff()),
        );
      }
      if (config.reconcileInterval > 0) {
        running.push(startPolling(() => reconciler.look(), config.reconcileInterval, clock));
      }
      if (config.upstreamImages.length > 0) {
        running.push(startPolling(lookUpstream, config.upstreamPollInterval, clock));
      }
    },
    async close() {
      shutdown.abort();
      kickoffs.stop();
      for (const loop of running) loop.stop();
      await server.close();
      await propagator.close();
      builds.close();
      await notifier.close();
      await triggers?.close();
      if (parts.dispatcher === undefined) await pool.close();
    },
  };
}
