import type { FastifyInstance } from 'fastify';
import type { Dispatcher } from 'undici';
import { createBuildWatcher, type BuildStatus } from '../builds/create-build-watcher';
import type { BuildTarget } from '../builds/targets/build-target';
import { createSchedule } from '../clock/create-schedule';
import { longestPropagationDelay, type Config } from '../config';
import type { Logger } from '../logging/create-logger';
import { startPolling } from '../timing/start-polling';
import { createHubApi } from '../registry/create-hub-api';
import { createReconciler } from '../registry/create-reconciler';
import { createNotifier } from '../notify/create-notifier';
import { createUpstreamWatcher } from '../registry/create-upstream-watcher';
import type { Timers, TriggerBuild, TriggerOutcome } from '../types';
import { buildServer } from './build-server';
import type { Journal } from '../chain/create-journal';
import { createPropagator, type Propagator } from '../chain/create-propagator';

/** ms: the longest one read of Docker Hub's API is retried */
const registryGiveUp = 30_000;

/** ms a run is followed at most when STALL_TIMEOUT is 0: something must end the reads */
const longestFollow = 24 * 3600_000;

export interface WebAppDeps {
  config: Config;
  /** the process's root logger */
  log: Logger;
  trigger: TriggerBuild;
  /** the target `trigger` sends to: how its runs are read, and its secrets */
  target: BuildTarget;
  timers: Timers;
  journal: Journal;
  /** the connection pool for Docker Hub's API, the builds' runs and notifications */
  dispatcher: Dispatcher;
  version: string;
  /** ms a whole request may take (the server's default when left out) */
  requestTimeout?: number;
}

export interface WebApp {
  server: FastifyInstance;
  propagator: Propagator;
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
  /** Stops taking deliveries and every timer; what is owed stays in the journal. */
  close(): Promise<void>;
}

/** Whether a tag's run is known to be running now: read, not ended, and still readable. */
function isBuilding(build: BuildStatus | undefined): boolean {
  if (build === undefined || build.unreadable !== undefined || build.stopped !== undefined) {
    return false;
  }
  return ['requested', 'queued', 'in_progress'].includes(build.state);
}

/** The web process's app, not yet listening: the webhook's server over the chain. */
export function createWebApp(deps: WebAppDeps): WebApp {
  const { config, log, timers } = deps;
  const firstTag = config.tagSequence[0] as string;
  const startedAt = timers.now();
  const repository = `${config.userName}/${config.repoName}`;
  // Every outbound request and wait of this app ends at once when the app is closed.
  const shutdown = new AbortController();
  const notifier = createNotifier({
    url: config.notify.url,
    events: config.notify.events,
    log: log.child({ unit: 'notify' }),
    retry: config.retry,
    dispatcher: deps.dispatcher,
    secrets: deps.target.secrets,
    repository,
    now: () => timers.now(),
  });
  const builds = createBuildWatcher({
    target: deps.target,
    log: log.child({ unit: 'builds' }),
    timers,
    dispatcher: deps.dispatcher,
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
    const outcome: TriggerOutcome = await deps.trigger(tag, signal);
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
    timers,
    journal: deps.journal,
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
    dispatcher: deps.dispatcher,
    timeout: config.retry.timeout,
    signal: shutdown.signal,
    // A read that fails is read again at the next look: retrying it for as long as a trigger
    // would only keep the outage unsaid.
    retries: { ...config.retry, giveUpAfter: Math.min(config.retry.giveUpAfter, registryGiveUp) },
    log: log.child({ unit: 'registry' }),
    now: () => timers.now(),
  });
  const reconciler = createReconciler({
    tags: config.tagSequence,
    namespace: config.userName,
    repository: config.repoName,
    api,
    chain: propagator,
    log: log.child({ unit: 'reconcile' }),
    timers,
    delay: config.propagationDelay,
    startedAt,
  });
  const upstreamLog = log.child({ unit: 'upstream' });
  const upstream = createUpstreamWatcher({
    images: config.upstreamImages,
    api,
    log: upstreamLog,
    now: () => timers.now(),
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
    if (moving === null) return kickOff(owed);
    if (!held) {
      upstreamLog.info(
        { changed: owed, moving },
        `upstream kick-off waits: ${owed.join(', ')} changed while the chain is moving (${moving}); it starts once the chain is idle`,
      );
    }
    held = true;
  };
  // One kick-off, however many images changed, as the clock's would be.
  const kickOff = async (changed: string[]) => {
    upstream.served();
    held = false;
    upstreamLog.info(
      { changed, tag: firstTag },
      `upstream kick-off: ${changed.join(', ')} changed, triggering ${firstTag}`,
    );
    const outcome = await trigger(firstTag, shutdown.signal);
    if (outcome.ok && !outcome.dryRun) propagator.expect(firstTag);
    if (!outcome.ok && !outcome.aborted) {
      notifier.notify({
        kind: 'given-up',
        tag: firstTag,
        at: timers.now(),
        reason: outcome.reason ?? 'trigger failed',
      });
    }
  };
  const kickoffs = createSchedule(config.schedule, config.timezone);
  const running: { stop(): void }[] = [];
  let started = false;

  const status = () => {
    const next = kickoffs.nextRun(new Date(timers.now()));
    const chain = propagator.status();
    const reconciliation = reconciler.status();
    const running = builds.status();
    const has = (list: { tag: string }[], tag: string) => list.some((entry) => entry.tag === tag);
    const state = (tag: string) =>
      has(chain.pending, tag)
        ? 'pending'
        : has(chain.failed, tag)
          ? 'failed'
          : has(chain.stalled, tag)
            ? 'stalled'
            : has(chain.awaiting, tag)
              ? isBuilding(running[tag])
                ? 'building'
                : 'awaited'
              : null;
    return {
      version: deps.version,
      dryRun: config.dryRun,
      repository,
      target: { name: config.target.name, where: deps.target.where },
      tagSequence: config.tagSequence,
      nextKickoff: next === null ? null : next.toISOString(),
      ...chain,
      tags: config.tagSequence.map((tag) => ({
        tag,
        registryPush: reconciliation.registry[tag] ?? null,
        appPush: chain.lastPush[tag] ?? null,
        state: state(tag),
        build: running[tag] ?? null,
      })),
      reconciliation: {
        every: config.reconcileInterval / 1000,
        lastLook: reconciliation.lastLook,
        outcome: reconciliation.outcome,
      },
      upstream: upstream.status(),
      notifications: notifier.recent(),
    };
  };

  const server = buildServer({
    config,
    log,
    propagator,
    status,
    now: () => timers.now(),
    ...(deps.requestTimeout === undefined ? {} : { requestTimeout: deps.requestTimeout }),
  });
  const clockKickedOff = () => {
    serveUpstream(`the clock's kick-off`);
    propagator.expect(firstTag);
  };
  return {
    server,
    propagator,
    clockKickedOff,
    start() {
      if (started) return;
      started = true;
      builds.start();
      propagator.resume();
      // The clock's own schedule: after each of its kick-offs, the first tag's push is awaited.
      if (!config.dryRun) {
        running.push(
          createSchedule(config.schedule, config.timezone, async () => clockKickedOff()),
        );
      }
      if (config.reconcileInterval > 0) {
        running.push(startPolling(() => reconciler.look(), config.reconcileInterval, timers));
      }
      if (config.upstreamImages.length > 0) {
        running.push(startPolling(lookUpstream, config.upstreamPollInterval, timers));
      }
    },
    async close() {
      shutdown.abort();
      for (const loop of running) loop.stop();
      await server.close();
      await propagator.close();
      builds.close();
      await notifier.close();
    },
  };
}
