import { z } from 'zod';
import { isTimeZone } from './settings/is-time-zone';
import { readTargetSettings } from './builds/read-node-build';
import { targets, type TargetConfig, type TargetName } from './builds/targets/create-target';
import { createSchedule } from './clock/create-schedule';
import { translateApsTrigger, type ApsTrigger } from './clock/translate-aps-trigger';
import { defaultNotifyEvents, notifyEvents, type NotifyEvent } from './notify/create-notifier';
import { parseImageList, type ImageRef } from './chain/parse-image-ref';
import {
  envDefaultsOf,
  readSettings,
  setting,
  type SettingsInputOf,
  type SettingsOf,
  type SettingsTable,
} from './settings/read-settings';
import {
  asFlag,
  asList,
  asNumber,
  httpUrl,
  postgresUrl,
  inMilliseconds,
  optionalToken,
  seconds,
} from './settings/schemas';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ReadGraph } from './builds/read-build-graph';
import { readGraphFile } from './builds/read-graph-file';
import type { NodeBuild } from './builds/read-node-build';
import type { BuildGraph } from './chain/graph-spec';
import { appDir } from './deployment/app-info';
import {
  checkRegistryCredentials,
  readRegistryCredentials,
  type RegistryCredentials,
} from './registry/read-registry-credentials';
import type { LogFormat, RetryPolicy, ScheduleSpec } from './types';

export type { NodeBuild } from './builds/read-node-build';

/** The graph file read when GRAPH_FILE is not set, in the app's directory. */
export const defaultGraphFile = 'chains.yml';

const dockerHubName = (what: string) =>
  z.string().regex(/^[^\s/]+$/, `must be a Docker Hub ${what} name (no spaces or '/')`);

/** The longest PROPAGATION_DELAY, in seconds: nothing the app queues is due later than this. */
export const longestPropagationDelay = 86400;

/**
 * The settings of this deployment. Edit a `default` here, or override each one with the
 * environment variable named beside it (on Heroku: `heroku config:set NAME=value`). Each build
 * target's own settings are in its file under `webapp/builds/targets/`.
 */
export const settings = {
  /** DOCKERHUB_USER: the Docker Hub user or organisation that owns the repository */
  userName: setting({ env: 'DOCKERHUB_USER', default: 'maddouri', schema: dockerHubName('user') }),
  /** DOCKERHUB_REPO: the Docker Hub repository whose tags are built */
  repoName: setting({
    env: 'DOCKERHUB_REPO',
    default: 'void-docker',
    schema: dockerHubName('repository'),
  }),
  /** GRAPH_FILE: the graph file of every image and what it is built from (default chains.yml in the app's directory, when it exists) */
  graphFile: setting<string | undefined>({
    env: 'GRAPH_FILE',
    default: undefined,
    schema: z.string().min(1, 'must be a file path').optional(),
  }),
  /** TAG_SEQUENCE: the tags, in build order */
  tagSequence: setting({
    env: 'TAG_SEQUENCE',
    default: ['init', 'step-1', 'step-2', 'step-3', 'latest'],
    fromEnv: asList,
    schema: z
      .array(z.string().regex(/^[\w][\w.-]{0,127}$/, 'each tag must be a valid Docker tag'), {
        error: 'must be a list of tags',
      })
      .min(1, 'must name at least one tag')
      .refine((tags) => new Set(tags).size === tags.length, {
        message: 'must not name a tag twice',
      }),
  }),
  /** TRIGGER_SCHEDULE: when the first tag is built; a cron pattern or an APScheduler trigger */
  triggerScheduling: setting<string | ApsTrigger>({
    env: 'TRIGGER_SCHEDULE',
    default: { trigger: 'cron', day_of_week: '0-6', hour: 0, minute: 0 },
    schema: z.union([z.string(), z.custom<ApsTrigger>((value) => typeof value === 'object')]),
  }),
  /** TRIGGER_TIMEZONE: the IANA time zone of the schedule */
  triggerTimezone: setting({
    env: 'TRIGGER_TIMEZONE',
    default: 'UTC',
    schema: z.string().refine(isTimeZone, { message: 'must be an IANA time zone, e.g. UTC' }),
  }),
  /** PROPAGATION_ROUTE: the webhook's path */
  propagationRoute: setting({
    env: 'PROPAGATION_ROUTE',
    default: '/propagate',
    schema: z
      .string()
      .regex(/^\/[\w./~-]*$/, "must be a path starting with '/', e.g. /propagate")
      // The status page is served at /, GitHub's deliveries at /github.
      .refine((route) => !['/', '/healthz', '/status', '/github'].includes(route), {
        message: 'must not be /, /healthz, /status or /github',
      }),
  }),
  /** PROPAGATION_DELAY: seconds between a tag's push and the next tag's trigger */
  propagationDelay: setting({
    env: 'PROPAGATION_DELAY',
    default: 100,
    fromEnv: asNumber,
    schema: inMilliseconds(seconds(0, longestPropagationDelay)),
  }),
  /** PORT: the web port (Heroku sets it) */
  port: setting({
    env: 'PORT',
    default: 5000,
    fromEnv: asNumber,
    schema: z
      .number({ error: 'must be a port number' })
      .int('must be an integer from 1 to 65535')
      .min(1, 'must be an integer from 1 to 65535')
      .max(65535, 'must be an integer from 1 to 65535'),
  }),
  /** DOCKERHUB_URL: Docker Hub's base URL, for triggers and the webhook's callback_url */
  hubUrl: setting({
    env: 'DOCKERHUB_URL',
    default: 'https://registry.hub.docker.com',
    schema: httpUrl.transform(withoutTrailingSlash),
  }),
  /** BUILD_TARGET: what builds a tag: dockerhub (Automated Builds), github (Actions) or gitlab (CI) */
  buildTarget: setting<TargetName>({
    env: 'BUILD_TARGET',
    default: 'dockerhub',
    schema: z.enum(['dockerhub', 'github', 'gitlab'], {
      error: 'must be dockerhub, github or gitlab',
    }),
  }),
  /**
   * WEBHOOK_SECRET: when set, deliveries, the page and /status must carry it; two secrets,
   * comma-separated, are both accepted while one replaces the other. Keep it out of this file.
   */
  webhookSecrets: setting<string[], string | undefined>({
    env: 'WEBHOOK_SECRET',
    default: undefined,
    secret: true,
    schema: z
      .string()
      .superRefine((text, context) => {
        const problem = webhookSecretsProblem(text);
        if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
      })
      .optional()
      .transform((text) => (text === undefined ? [] : splitWebhookSecrets(text))),
  }),
  /** STATE_FILE: the journal of pending triggers, relative to the working directory */
  stateFile: setting({
    env: 'STATE_FILE',
    default: '.state/pending.json',
    schema: z.string().min(1, 'must be a file path'),
  }),
  /**
   * DATABASE_URL: the PostgreSQL database that keeps the app's state, shared by every dyno; the
   * file at STATE_FILE when unset
   */
  databaseUrl: setting<string | undefined>({
    env: 'DATABASE_URL',
    default: undefined,
    secret: true,
    schema: postgresUrl.optional(),
  }),
  /** LEASE_TIME: seconds a dyno plans alone (reads registries, sends triggers) without renewing its lease */
  leaseTime: setting({
    env: 'LEASE_TIME',
    default: 30,
    fromEnv: asNumber,
    schema: inMilliseconds(seconds(3, 600)),
  }),
  /** STALL_TIMEOUT: seconds after a trigger without that tag's push before the chain counts as stalled (0: never) */
  stallTimeout: setting({
    env: 'STALL_TIMEOUT',
    default: 5 * 3600,
    fromEnv: asNumber,
    schema: inMilliseconds(seconds(0, 7 * 86400)),
  }),
  /** STALL_RETRIGGER: trigger a stalled tag once more */
  stallRetrigger: setting({
    env: 'STALL_RETRIGGER',
    default: false,
    fromEnv: asFlag,
    schema: z.boolean({ error: 'must be 1 or 0' }),
  }),
  /** TRIGGER_RETRY_INITIAL: seconds before the first retry of a failed trigger; doubles each time */
  retryInitial: setting({
    env: 'TRIGGER_RETRY_INITIAL',
    default: 2,
    fromEnv: asNumber,
    schema: inMilliseconds(seconds(0.01, 3600)),
  }),
  /** TRIGGER_RETRY_MAX: the longest wait between retries, in seconds */
  retryMax: setting({
    env: 'TRIGGER_RETRY_MAX',
    default: 60,
    fromEnv: asNumber,
    schema: inMilliseconds(seconds(0.01, 3600)),
  }),
  /** TRIGGER_RETRY_GIVE_UP: seconds after the first attempt when retrying stops */
  retryGiveUp: setting({
    env: 'TRIGGER_RETRY_GIVE_UP',
    default: 600,
    fromEnv: asNumber,
    schema: inMilliseconds(seconds(0, 86400)),
  }),
  /** TRIGGER_TIMEOUT: seconds one request to another service may take, first byte sent to last byte read */
  triggerTimeout: setting({
    env: 'TRIGGER_TIMEOUT',
    default: 10,
    fromEnv: asNumber,
    schema: inMilliseconds(seconds(0.1, 600)),
  }),
  /** DOCKERHUB_API_URL: Docker Hub's API, read for the tags' last pushes and upstream images */
  registryApiUrl: setting({
    env: 'DOCKERHUB_API_URL',
    default: 'https://hub.docker.com',
    schema: httpUrl.transform(withoutTrailingSlash),
  }),
  /** DOCKERHUB_API_USER: the Docker ID that reads a private repository (with DOCKERHUB_API_TOKEN) */
  registryUser: setting<string | undefined>({
    env: 'DOCKERHUB_API_USER',
    default: undefined,
    schema: dockerHubName('user').optional(),
  }),
  /** DOCKERHUB_API_TOKEN: a read-only personal access token; keep it out of this file */
  registryToken: setting({
    env: 'DOCKERHUB_API_TOKEN',
    default: undefined,
    schema: optionalToken,
    secret: true,
  }),
  /** GITHUB_WEBHOOK_SECRET: the secret of a GitHub webhook sent to /github; keep it out of this file */
  githubWebhookSecret: setting({
    env: 'GITHUB_WEBHOOK_SECRET',
    default: undefined,
    secret: true,
    schema: z
      .string()
      .regex(
        /^\S{16,256}$/,
        'must be 16 to 256 characters without spaces (e.g. openssl rand -hex 32)',
      )
      .optional(),
  }),
  /** RECONCILE_INTERVAL: seconds between two reads of the tags' last pushes (0: never) */
  reconcileInterval: setting({
    env: 'RECONCILE_INTERVAL',
    default: 600,
    fromEnv: asNumber,
    // A poll has a floor: 0.001 would read the registry hundreds of times a second.
    schema: inMilliseconds(
      seconds(0, 86400).refine((value) => value === 0 || value >= 1, {
        message: 'must be 0 (off) or at least 1 second',
      }),
    ),
  }),
  /** UPSTREAM_IMAGES: images whose new push kicks the chain off, e.g. alpine:3.20,acme/base */
  upstreamImages: setting<ImageRef[], string | undefined>({
    env: 'UPSTREAM_IMAGES',
    default: undefined,
    schema: z
      .string()
      .optional()
      .transform((text, context) => {
        if (text === undefined) return [];
        try {
          return parseImageList(text);
        } catch (err) {
          context.addIssue({ code: 'custom', message: (err as Error).message });
          return z.NEVER;
        }
      }),
  }),
  /** UPSTREAM_POLL_INTERVAL: seconds between two reads of the upstream images */
  upstreamPollInterval: setting({
    env: 'UPSTREAM_POLL_INTERVAL',
    default: 600,
    fromEnv: asNumber,
    schema: inMilliseconds(seconds(1, 86400)),
  }),
  /** UPSTREAM_QUIET: seconds an upstream image must keep a new digest before it counts (0: at once) */
  upstreamQuiet: setting({
    env: 'UPSTREAM_QUIET',
    default: 600,
    fromEnv: asNumber,
    schema: inMilliseconds(seconds(0, 86400)),
  }),
  /** NOTIFY_URL: an incoming webhook (Slack, Mattermost, Discord's /slack, Teams); keep it out of this file */
  notifyUrl: setting<string | undefined>({
    env: 'NOTIFY_URL',
    default: undefined,
    secret: true,
    schema: httpUrl.optional(),
  }),
  /** NOTIFY_ON: the events NOTIFY_URL hears of */
  notifyOn: setting<NotifyEvent[]>({
    env: 'NOTIFY_ON',
    default: [...defaultNotifyEvents],
    fromEnv: asList,
    schema: z
      .array(
        z.enum(notifyEvents, {
          error: (issue) =>
            `'${String(issue.input)}' is not an event: name some of ${notifyEvents.join(', ')}`,
        }),
        {
          error: `must be a comma-separated list of ${notifyEvents.join(', ')}`,
        },
      )
      .min(1, `must name at least one of ${notifyEvents.join(', ')}`),
  }),
  /** BUILD_POLL_INTERVAL: seconds between two reads of a GitHub run or GitLab pipeline not yet finished */
  buildPollInterval: setting({
    env: 'BUILD_POLL_INTERVAL',
    default: 60,
    fromEnv: asNumber,
    schema: inMilliseconds(seconds(1, 3600)),
  }),
  /** BUILD_CONCURRENCY: triggers sent at once to one build service (Docker Hub, GitHub, a GitLab) */
  buildConcurrency: setting({
    env: 'BUILD_CONCURRENCY',
    default: 4,
    fromEnv: asNumber,
    schema: z
      .number({ error: 'must be a whole number from 1 to 64' })
      .int('must be a whole number from 1 to 64')
      .min(1, 'must be a whole number from 1 to 64')
      .max(64, 'must be a whole number from 1 to 64'),
  }),
  /** LOG_LEVEL: pino's level */
  logLevel: setting({
    env: 'LOG_LEVEL',
    default: 'info',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'must be one of fatal, error, warn, info, debug, trace, silent',
    }),
  }),
  /** LOG_FORMAT: json, pretty, or auto (pretty on a terminal) */
  logFormat: setting<LogFormat>({
    env: 'LOG_FORMAT',
    default: 'auto',
    schema: z.enum(['auto', 'json', 'pretty'], { error: 'must be auto, json or pretty' }),
  }),
};

export type Settings = SettingsOf<typeof settings>;

/**
 * The settings, validated, in the units the app works in (every duration in milliseconds): the
 * table's values as they are, but those that together make one larger value.
 */
export interface Config extends Omit<
  Settings,
  | 'triggerScheduling'
  | 'triggerTimezone'
  | 'buildTarget'
  | 'retryInitial'
  | 'retryMax'
  | 'retryGiveUp'
  | 'triggerTimeout'
  | 'registryApiUrl'
  | 'registryUser'
  | 'registryToken'
  | 'notifyUrl'
  | 'notifyOn'
> {
  /** TRIGGER_SCHEDULE and TRIGGER_TIMEZONE, as the clock runs them */
  schedule: ScheduleSpec;
  timezone: string;
  /** the chosen build target and its own settings */
  target: TargetConfig;
  dryRun: boolean;
  /** the variable whose absence makes this a dry run */
  tokenVariable: string;
  /** TRIGGER_RETRY_* and TRIGGER_TIMEOUT */
  retry: RetryPolicy;
  /** Docker Hub's API, and the login that reads a private repository */
  registry: { url: string; user: string | undefined; token: string | undefined };
  /** what the processes say once at start, beside any error: e.g. variables no longer read */
  notices: string[];
  /** where notifications go, and which */
  notify: { url: string | undefined; events: NotifyEvent[] };
  /** what is built from what, and how: the graph file's, or the line of TAG_SEQUENCE */
  graph: BuildGraph<NodeBuild>;
  /** each registry host's login, from REGISTRY_<HOST>_USER and REGISTRY_<HOST>_PASSWORD */
  registryCredentials: (host: string) => RegistryCredentials | undefined;
}

export type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const allTables: SettingsTable[] = [settings, ...Object.values(targets).map((t) => t.settings)];

/** The environment variables this app reads, for docs and checks. */
export const envNames: string[] = allTables.flatMap((table) =>
  Object.values(table).map((definition) => definition.env),
);

/** Each variable's default, written as the environment would hold it. */
export function envDefaults(): Record<string, string | undefined> {
  return Object.assign({}, ...allTables.map(envDefaultsOf)) as Record<string, string | undefined>;
}

/**
 * Reads the settings above, overridden by `env`; `defaults` stands for an edit of this file.
 * Only the chosen build target's settings are read. Pure: throws one ConfigError that names
 * every bad variable, and never puts a secret's value in it. A schedule must fire after `now`.
 */
export function loadConfig(
  env: Env = process.env,
  defaults: Partial<SettingsInputOf<typeof settings>> = {},
  now: Date = new Date(),
): Config {
  const core = readSettings(settings, env, 'webapp/config.ts', defaults);
  const problems = [...core.problems];
  const { values } = core;
  const found = findGraph(values, core.fromEnv, env);
  problems.push(...found.problems);
  const fromFile = found.read;
  const where =
    fromFile?.schedule !== undefined
      ? `${fromFile.graph.file} schedule`
      : core.fromEnv.has('triggerScheduling')
        ? 'TRIGGER_SCHEDULE'
        : 'TRIGGER_SCHEDULE (triggerScheduling in webapp/config.ts)';
  let schedule: ScheduleSpec | undefined;
  let timezone = fromFile?.timezone ?? values.triggerTimezone;
  const scheduling = fromFile?.schedule ?? values.triggerScheduling;
  if (scheduling !== undefined) {
    try {
      if (typeof scheduling === 'string') {
        schedule = { kind: 'cron', pattern: scheduling.trim(), domAndDow: false };
      } else {
        const translated = translateApsTrigger(scheduling);
        schedule = translated.spec;
        if (
          translated.timezone !== undefined &&
          !core.fromEnv.has('triggerTimezone') &&
          fromFile?.timezone === undefined
        ) {
          timezone = translated.timezone;
        }
      }
      // A bad time zone is reported on its own; check the pattern itself in UTC then.
      const zone = timezone !== undefined && isTimeZone(timezone) ? timezone : 'UTC';
      if (createSchedule(schedule, zone, undefined, now).nextRun(now) === null) {
        schedule = undefined;
        problems.push(
          `${where}: never fires after ${now.toISOString()} (a date that does not exist, such as 30 February, or one in the past)`,
        );
      }
    } catch (err) {
      schedule = undefined;
      problems.push(`${where}: ${scheduleProblem(err)}`);
    }
  }
  // With a graph file, each node names its target: BUILD_TARGET's own settings are not needed.
  const target =
    values.buildTarget === undefined || found.file !== undefined
      ? undefined
      : readTarget(values.buildTarget, env);
  if (target !== undefined) problems.push(...target.problems);
  if ((values.registryUser === undefined) !== (values.registryToken === undefined)) {
    problems.push('DOCKERHUB_API_USER and DOCKERHUB_API_TOKEN: set both, or neither');
  }
  problems.push(...checkRegistryCredentials(env));
  const notices = target?.notices ?? [];
  const line = target?.config === undefined ? undefined : (target as Required<typeof target>);
  if (
    problems.length > 0 ||
    schedule === undefined ||
    timezone === undefined ||
    (fromFile === undefined && line === undefined)
  ) {
    throw new ConfigError([...problems, ...notices]);
  }
  const {
    triggerScheduling: _scheduling,
    triggerTimezone: _timezone,
    buildTarget: _target,
    retryInitial,
    retryMax,
    retryGiveUp,
    triggerTimeout,
    registryApiUrl,
    registryUser,
    registryToken,
    notifyUrl,
    notifyOn,
    ...rest
  } = values as Settings;
  const graph =
    fromFile?.graph ??
    lineGraph(rest, {
      target: line?.config as TargetConfig,
      dryRun: line?.canSend !== true,
      tokenVariable: line?.tokenVariable ?? '',
      service: serviceOf(line?.config as TargetConfig, rest.hubUrl),
    });
  const dry = graph.nodes.filter((node) => node.build.dryRun);
  return {
    ...rest,
    ...(fromFile?.delay === undefined ? {} : { propagationDelay: fromFile.delay * 1000 }),
    schedule,
    timezone,
    target: (graph.nodes[0] as (typeof graph.nodes)[number]).build.target,
    dryRun: dry.length === graph.nodes.length,
    tokenVariable: [...new Set(dry.map((node) => node.build.tokenVariable))].join(', '),
    retry: {
      initialDelay: retryInitial,
      maxDelay: retryMax,
      giveUpAfter: retryGiveUp,
      timeout: triggerTimeout,
    },
    registry: { url: registryApiUrl, user: registryUser, token: registryToken },
    notify: { url: notifyUrl, events: [...new Set(notifyOn)] },
    notices,
    graph,
    registryCredentials: readRegistryCredentials(env),
  };
}

/**
 * The graph file, when there is one: GRAPH_FILE, or chains.yml in the app's directory when it
 * exists. `file` is set whenever a graph file is meant, even one that cannot be read.
 */
function findGraph(
  values: Partial<Settings>,
  fromEnv: ReadonlySet<string>,
  env: Env,
): { file?: string; read?: ReadGraph; problems: string[] } {
  const named = values.graphFile;
  const path = named === undefined ? join(appDir(), defaultGraphFile) : resolve(named);
  const shown = named ?? defaultGraphFile;
  if (!existsSync(path)) {
    return named === undefined
      ? { problems: [] }
      : { file: shown, problems: [`GRAPH_FILE: ${shown} does not exist`] };
  }
  const problems: string[] = [];
  const setting =
    named === undefined ? `${shown} (in the app's directory)` : `GRAPH_FILE (${shown})`;
  if (fromEnv.has('tagSequence')) {
    problems.push(
      `${setting} and TAG_SEQUENCE are both set: describe the builds in one of them (the graph file's images, or TAG_SEQUENCE's line of tags)`,
    );
  }
  if (fromEnv.has('upstreamImages')) {
    problems.push(
      `${setting} and UPSTREAM_IMAGES are both set: name upstream images in the graph file's \`from\``,
    );
  }
  if (problems.length > 0) return { file: shown, problems };
  const { read, problems: unreadable } = readGraphFile(
    path,
    shown,
    env,
    values.hubUrl ?? 'https://registry.hub.docker.com',
  );
  return { file: shown, ...(read === undefined ? {} : { read }), problems: unreadable };
}

/** The key of the build service a target's triggers go to, for BUILD_CONCURRENCY. */
export function serviceOf(target: TargetConfig, hubUrl: string): string {
  switch (target.name) {
    case 'dockerhub':
      return `dockerhub ${target.settings.url === undefined ? hubUrl : new URL(target.settings.url).origin}`;
    case 'github':
      return `github ${target.settings.apiUrl}`;
    case 'gitlab':
      return `gitlab ${target.settings.url}`;
  }
}

/**
 * TAG_SEQUENCE as a graph: each tag of DOCKERHUB_USER/DOCKERHUB_REPO built from the one before
 * it, the first from UPSTREAM_IMAGES, all by the one BUILD_TARGET.
 */
function lineGraph(
  values: Pick<Settings, 'userName' | 'repoName' | 'tagSequence' | 'upstreamImages' | 'hubUrl'>,
  build: NodeBuild,
): BuildGraph<NodeBuild> {
  const { userName, repoName, tagSequence } = values;
  const { service } = build;
  return {
    file: null,
    upstream: values.upstreamImages,
    nodes: tagSequence.map((tag, index) => ({
      id: tag,
      parents: index === 0 ? [] : [tagSequence[index - 1] as string],
      upstream: index === 0 ? values.upstreamImages.map((image) => image.display) : [],
      service,
      ...(build.target.name === 'dockerhub' ? { hubRepository: `${userName}/${repoName}` } : {}),
      build: {
        ...build,
        ...(build.target.name === 'dockerhub' ? { hubRepository: `${userName}/${repoName}` } : {}),
      },
      image: {
        namespace: userName,
        repository: repoName,
        tag,
        display: `${userName}/${repoName}:${tag}`,
      },
    })),
  };
}

/** The chosen target's own settings, and whether it can send (otherwise a dry run). */
function readTarget(name: TargetName, env: Env) {
  const definition = targets[name];
  const read = readTargetSettings(name, env, `webapp/builds/targets/${name}.ts`);
  const table = definition.settings as SettingsTable;
  const problems = [
    ...read.problems,
    ...read.missing.map((key) => `${table[key]?.env}: is required when BUILD_TARGET is ${name}`),
  ];
  const { tokenVariable, canSend, config } = read;
  const notices = renamedNotices(definition.renamed ?? {}, env);
  if (problems.length > 0) return { problems, notices, tokenVariable, canSend: false };
  return { problems, notices, tokenVariable, canSend, config };
}

/**
 * One notice naming the old variables that are set while their new names are not: most likely
 * a deployment from before the rename, whose values are now ignored.
 */
function renamedNotices(renamed: Record<string, string>, env: Env): string[] {
  const isSet = (name: string) => (env[name] ?? '') !== '';
  const stale = Object.entries(renamed).filter(([old, name]) => isSet(old) && !isSet(name));
  if (stale.length === 0) return [];
  const olds = stale.map(([old]) => old).join(', ');
  const names = stale.map(([, name]) => name).join(', ');
  return [
    `${olds} ${stale.length > 1 ? 'are' : 'is'} set but no longer read: set ${names} instead`,
  ];
}

const webhookSecretRule = /^[\w.~-]{16,256}$/;

/** WEBHOOK_SECRET's secrets: one, or two while one replaces the other. */
function splitWebhookSecrets(text: string): string[] {
  return asList(text);
}

/** What is wrong with WEBHOOK_SECRET, if anything; it never quotes the value. */
function webhookSecretsProblem(text: string): string | undefined {
  const secrets = splitWebhookSecrets(text);
  if (secrets.length > 2) {
    return 'must hold one secret, or two separated by a comma while one replaces the other';
  }
  const rule = "16 to 256 letters, digits or '-._~' (URL-safe)";
  if (secrets.length === 1) return webhookSecretRule.test(text) ? undefined : `must be ${rule}`;
  const bad = secrets.findIndex((secret) => !webhookSecretRule.test(secret));
  if (bad >= 0) return `its ${bad === 0 ? 'first' : 'second'} secret must be ${rule}`;
  return undefined;
}

function withoutTrailingSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

function scheduleProblem(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return `must be a cron pattern (5 fields, or 6 with seconds first) or an APScheduler trigger: ${message.replace(/^Cron\w*: /, '')}`;
}
