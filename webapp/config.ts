import { z } from 'zod';
import { translateApsTrigger, type ApsTrigger, type ScheduleSpec } from './apscheduler';
import { createSchedule } from './cron';
import type { LogFormat } from './logger';
import type { RetryPolicy } from './trigger';

/**
 * The settings of this deployment. Edit them here, or override each one with the environment
 * variable named beside it (on Heroku: `heroku config:set NAME=value`).
 */
export const settings: Settings = {
  /** DOCKERHUB_USER: the Docker Hub user or organisation that owns the repository */
  userName: 'maddouri',
  /** DOCKERHUB_REPO: the Docker Hub repository whose tags are built */
  repoName: 'void-docker',
  /** DOCKERHUB_TRIGGER_TOKEN: keep it out of this file; without one, triggers are a dry run */
  triggerToken: undefined,
  /** TAG_SEQUENCE: the tags, in build order */
  tagSequence: ['init', 'step-1', 'step-2', 'step-3', 'latest'],
  /** TRIGGER_SCHEDULE: when the first tag is built; a cron pattern or an APScheduler trigger */
  triggerScheduling: { trigger: 'cron', day_of_week: '0-6', hour: 0, minute: 0 },
  /** TRIGGER_TIMEZONE: the IANA time zone of the schedule */
  triggerTimezone: 'UTC',
  /** PROPAGATION_ROUTE: the webhook's path */
  propagationRoute: '/propagate',
  /** PROPAGATION_DELAY: seconds between a tag's push and the next tag's trigger */
  propagationDelay: 100,
  /** PORT: the web port (Heroku sets it) */
  port: 5000,
  /** DOCKERHUB_URL: Docker Hub's base URL */
  hubUrl: 'https://registry.hub.docker.com',
  /** DOCKERHUB_TRIGGER_URL: a full trigger URL, used instead of the one built from hubUrl */
  triggerUrl: undefined,
  /** LOG_LEVEL: pino's level */
  logLevel: 'info',
  /** LOG_FORMAT: json, pretty, or auto (pretty on a terminal) */
  logFormat: 'auto',
  /** WEBHOOK_SECRET: when set, deliveries must carry it as `?token=<secret>`; keep it out of this file */
  webhookSecret: undefined,
  /** STATE_FILE: the journal of pending triggers, relative to the app's directory */
  stateFile: '.state/pending.json',
  /** STALL_TIMEOUT: seconds after a trigger without that tag's push before the chain counts as stalled (0: never) */
  stallTimeout: 5 * 3600,
  /** STALL_RETRIGGER: trigger a stalled tag once more */
  stallRetrigger: false,
  /** TRIGGER_RETRY_INITIAL: seconds before the first retry of a failed trigger; doubles each time */
  retryInitial: 2,
  /** TRIGGER_RETRY_MAX: the longest wait between retries, in seconds */
  retryMax: 60,
  /** TRIGGER_RETRY_GIVE_UP: seconds after the first attempt when retrying stops */
  retryGiveUp: 600,
  /** TRIGGER_TIMEOUT: seconds one attempt may take to connect, and then to answer */
  triggerTimeout: 10,
  /** BUILD_TARGET: what builds a tag: dockerhub (Automated Builds), github (Actions) or gitlab (CI) */
  buildTarget: 'dockerhub',
  /** DOCKERHUB_TRIGGER_BODY: docker_tag, source_tag or source_branch */
  dockerhubTriggerBody: 'docker_tag',
  /** GITHUB_API_URL: GitHub's REST API */
  githubApiUrl: 'https://api.github.com',
  /** GITHUB_REPOSITORY: owner/name of the repository whose workflow builds the image */
  githubRepository: undefined,
  /** GITHUB_WORKFLOW: that workflow's file name (build.yml) or id */
  githubWorkflow: undefined,
  /** GITHUB_REF: the branch or tag the workflow runs on */
  githubRef: 'main',
  /** GITHUB_TOKEN: a token allowed to dispatch workflows; keep it out of this file */
  githubToken: undefined,
  /** GITLAB_URL: the GitLab instance */
  gitlabUrl: 'https://gitlab.com',
  /** GITLAB_PROJECT: the project's id or path (group/name) */
  gitlabProject: undefined,
  /** GITLAB_REF: the branch or tag the pipeline runs on */
  gitlabRef: 'main',
  /** GITLAB_TRIGGER_TOKEN: the project's pipeline trigger token; keep it out of this file */
  gitlabTriggerToken: undefined,
};

export interface Settings {
  userName: string;
  repoName: string;
  triggerToken: string | undefined;
  tagSequence: string[];
  triggerScheduling: string | ApsTrigger;
  triggerTimezone: string;
  propagationRoute: string;
  propagationDelay: number;
  port: number;
  hubUrl: string;
  triggerUrl: string | undefined;
  logLevel: string;
  logFormat: LogFormat;
  webhookSecret: string | undefined;
  stateFile: string;
  stallTimeout: number;
  stallRetrigger: boolean;
  retryInitial: number;
  retryMax: number;
  retryGiveUp: number;
  triggerTimeout: number;
  buildTarget: BuildTargetName;
  dockerhubTriggerBody: DockerHubBody;
  githubApiUrl: string;
  githubRepository: string | undefined;
  githubWorkflow: string | undefined;
  githubRef: string;
  githubToken: string | undefined;
  gitlabUrl: string;
  gitlabProject: string | undefined;
  gitlabRef: string;
  gitlabTriggerToken: string | undefined;
}

export type BuildTargetName = 'dockerhub' | 'github' | 'gitlab';
export type DockerHubBody = 'docker_tag' | 'source_tag' | 'source_branch';

/** The settings, validated, in the units the app works in. */
export interface Config extends Omit<
  Settings,
  | 'triggerScheduling'
  | 'triggerTimezone'
  | 'stallTimeout'
  | 'retryInitial'
  | 'retryMax'
  | 'retryGiveUp'
  | 'triggerTimeout'
> {
  schedule: ScheduleSpec;
  timezone: string;
  /** milliseconds */
  propagationDelay: number;
  dryRun: boolean;
  /** the variable whose absence makes this a dry run */
  tokenVariable: string;
  /** milliseconds; 0 turns stall detection off */
  stallTimeout: number;
  /** milliseconds */
  retry: RetryPolicy;
}

export type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Field<K extends keyof Settings> = {
  env: string;
  secret?: boolean;
  fromEnv: (text: string) => unknown;
  schema: z.ZodType<Settings[K]>;
};

const text = (value: string) => value;
const list = (value: string) => value.split(',').map((item) => item.trim());
const number = (value: string) => (value.trim() === '' ? Number.NaN : Number(value));
const flag = (value: string) =>
  /^(1|true|yes|on)$/i.test(value) ? true : /^(0|false|no|off)$/i.test(value) ? false : value;
const seconds = (min: number, max: number) =>
  z
    .number({ error: 'must be a number of seconds' })
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max} seconds`);
const token = z.string().regex(/^\S+$/, 'must not contain spaces').optional();
const gitRef = z.string().regex(/^[^\s~^:?*[\\]+$/, 'must be a branch or tag name');
const httpUrl = z
  .string()
  .refine((value) => /^https?:\/\/[^\s]+$/.test(value) && URL.canParse(value), {
    message: 'must be an http(s) URL',
  });
const name = (what: string) =>
  z.string().regex(/^[^\s/]+$/, `must be a Docker Hub ${what} name (no spaces or '/')`);

const fields: { [K in keyof Settings]: Field<K> } = {
  userName: { env: 'DOCKERHUB_USER', fromEnv: text, schema: name('user') },
  repoName: { env: 'DOCKERHUB_REPO', fromEnv: text, schema: name('repository') },
  triggerToken: { env: 'DOCKERHUB_TRIGGER_TOKEN', secret: true, fromEnv: text, schema: token },
  tagSequence: {
    env: 'TAG_SEQUENCE',
    fromEnv: list,
    schema: z
      .array(z.string().regex(/^[\w][\w.-]{0,127}$/, 'each tag must be a valid Docker tag'), {
        error: 'must be a list of tags',
      })
      .min(1, 'must name at least one tag')
      .refine((tags) => new Set(tags).size === tags.length, {
        message: 'must not name a tag twice',
      }),
  },
  triggerScheduling: {
    env: 'TRIGGER_SCHEDULE',
    fromEnv: text,
    schema: z.union([z.string(), z.custom<ApsTrigger>((value) => typeof value === 'object')]),
  },
  triggerTimezone: {
    env: 'TRIGGER_TIMEZONE',
    fromEnv: text,
    schema: z.string().refine(isTimeZone, { message: 'must be an IANA time zone, e.g. UTC' }),
  },
  propagationRoute: {
    env: 'PROPAGATION_ROUTE',
    fromEnv: text,
    schema: z
      .string()
      .regex(/^\/[\w./~-]*$/, "must be a path starting with '/', e.g. /propagate")
      .refine((route) => route !== '/healthz' && route !== '/status', {
        message: 'must not be /healthz or /status',
      }),
  },
  propagationDelay: {
    env: 'PROPAGATION_DELAY',
    fromEnv: number,
    schema: seconds(0, 86400),
  },
  port: {
    env: 'PORT',
    fromEnv: number,
    schema: z
      .number({ error: 'must be a port number' })
      .int('must be an integer from 1 to 65535')
      .min(1, 'must be an integer from 1 to 65535')
      .max(65535, 'must be an integer from 1 to 65535'),
  },
  hubUrl: { env: 'DOCKERHUB_URL', fromEnv: text, schema: httpUrl },
  triggerUrl: {
    env: 'DOCKERHUB_TRIGGER_URL',
    secret: true,
    fromEnv: text,
    schema: httpUrl.optional(),
  },
  logLevel: {
    env: 'LOG_LEVEL',
    fromEnv: text,
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: 'must be one of fatal, error, warn, info, debug, trace, silent',
    }),
  },
  logFormat: {
    env: 'LOG_FORMAT',
    fromEnv: text,
    schema: z.enum(['auto', 'json', 'pretty'], { error: 'must be auto, json or pretty' }),
  },
  webhookSecret: {
    env: 'WEBHOOK_SECRET',
    secret: true,
    fromEnv: text,
    schema: z
      .string()
      .regex(/^[\w.~-]{16,256}$/, "must be 16 to 256 letters, digits or '-._~' (URL-safe)")
      .optional(),
  },
  stateFile: {
    env: 'STATE_FILE',
    fromEnv: text,
    schema: z.string().min(1, 'must be a file path'),
  },
  stallTimeout: { env: 'STALL_TIMEOUT', fromEnv: number, schema: seconds(0, 7 * 86400) },
  stallRetrigger: {
    env: 'STALL_RETRIGGER',
    fromEnv: flag,
    schema: z.boolean({ error: 'must be 1 or 0' }),
  },
  retryInitial: { env: 'TRIGGER_RETRY_INITIAL', fromEnv: number, schema: seconds(0.01, 3600) },
  retryMax: { env: 'TRIGGER_RETRY_MAX', fromEnv: number, schema: seconds(0.01, 3600) },
  retryGiveUp: { env: 'TRIGGER_RETRY_GIVE_UP', fromEnv: number, schema: seconds(0, 86400) },
  triggerTimeout: { env: 'TRIGGER_TIMEOUT', fromEnv: number, schema: seconds(0.1, 600) },
  buildTarget: {
    env: 'BUILD_TARGET',
    fromEnv: text,
    schema: z.enum(['dockerhub', 'github', 'gitlab'], {
      error: 'must be dockerhub, github or gitlab',
    }),
  },
  dockerhubTriggerBody: {
    env: 'DOCKERHUB_TRIGGER_BODY',
    fromEnv: text,
    schema: z.enum(['docker_tag', 'source_tag', 'source_branch'], {
      error: 'must be docker_tag, source_tag or source_branch',
    }),
  },
  githubApiUrl: { env: 'GITHUB_API_URL', fromEnv: text, schema: httpUrl },
  githubRepository: {
    env: 'GITHUB_REPOSITORY',
    fromEnv: text,
    schema: z
      .string()
      .regex(/^[\w.-]+\/[\w.-]+$/, 'must be owner/name')
      .optional(),
  },
  githubWorkflow: {
    env: 'GITHUB_WORKFLOW',
    fromEnv: text,
    schema: z
      .string()
      .regex(/^(\d+|[\w.-]+\.ya?ml)$/, 'must be a workflow file name (build.yml) or id')
      .optional(),
  },
  githubRef: { env: 'GITHUB_REF', fromEnv: text, schema: gitRef },
  githubToken: { env: 'GITHUB_TOKEN', secret: true, fromEnv: text, schema: token },
  gitlabUrl: { env: 'GITLAB_URL', fromEnv: text, schema: httpUrl },
  gitlabProject: {
    env: 'GITLAB_PROJECT',
    fromEnv: text,
    schema: z
      .string()
      .regex(/^(\d+|[\w.-]+(\/[\w.-]+)+)$/, 'must be a project id or path (group/name)')
      .optional(),
  },
  gitlabRef: { env: 'GITLAB_REF', fromEnv: text, schema: gitRef },
  gitlabTriggerToken: { env: 'GITLAB_TRIGGER_TOKEN', secret: true, fromEnv: text, schema: token },
};

/** What each build target cannot work without, beyond its token. */
const requiredBy: Record<BuildTargetName, (keyof Settings)[]> = {
  dockerhub: [],
  github: ['githubRepository', 'githubWorkflow'],
  gitlab: ['gitlabProject'],
};

const tokenOf: Record<BuildTargetName, keyof Settings> = {
  dockerhub: 'triggerToken',
  github: 'githubToken',
  gitlab: 'gitlabTriggerToken',
};

/** The environment variables this app reads, for docs and checks. */
export const envNames: string[] = Object.values(fields).map((field) => field.env);

/** Each variable's default from the settings above, written as the environment would hold it. */
export function envDefaults(base: Settings = settings): Record<string, string | undefined> {
  const asEnv = (value: unknown): string | undefined => {
    if (Array.isArray(value)) return value.join(',');
    if (typeof value === 'boolean') return value ? '1' : '0';
    if (typeof value === 'string' || typeof value === 'number') return String(value);
    return undefined;
  };
  return Object.fromEntries(
    (Object.keys(fields) as (keyof Settings)[]).map((key) => [fields[key].env, asEnv(base[key])]),
  );
}

/**
 * Reads the settings above, overridden by `env`. Pure: throws one ConfigError that names every
 * bad variable, and never puts a secret's value in it.
 */
export function loadConfig(env: Env = process.env, base: Settings = settings): Config {
  const problems: string[] = [];
  const values: Partial<Settings> = {};
  for (const key of Object.keys(fields) as (keyof Settings)[]) {
    const field = fields[key] as Field<typeof key>;
    const raw = env[field.env];
    const fromEnv = raw !== undefined && raw !== '';
    const result = field.schema.safeParse(fromEnv ? field.fromEnv(raw) : base[key]);
    if (result.success) {
      (values as Record<string, unknown>)[key] = result.data;
    } else {
      const where = fromEnv ? field.env : `${field.env} (${key} in webapp/config.ts)`;
      const messages = [...new Set(result.error.issues.map((issue) => issue.message))];
      problems.push(`${where}: ${messages.join('; ')}`);
    }
  }
  const scheduling = values.triggerScheduling;
  let schedule: ScheduleSpec | undefined;
  let timezone = values.triggerTimezone;
  if (scheduling !== undefined) {
    const fromEnv = Boolean(env[fields.triggerScheduling.env]);
    const where = fromEnv
      ? 'TRIGGER_SCHEDULE'
      : 'TRIGGER_SCHEDULE (triggerScheduling in webapp/config.ts)';
    try {
      if (typeof scheduling === 'string') {
        schedule = { kind: 'cron', pattern: scheduling.trim(), domAndDow: false };
      } else {
        const translated = translateApsTrigger(scheduling);
        schedule = translated.spec;
        if (translated.timezone !== undefined && !env[fields.triggerTimezone.env]) {
          timezone = translated.timezone;
        }
      }
      // A bad time zone is reported on its own; check the pattern itself in UTC then.
      createSchedule(schedule, timezone !== undefined && isTimeZone(timezone) ? timezone : 'UTC');
    } catch (err) {
      schedule = undefined;
      problems.push(`${where}: ${scheduleProblem(err)}`);
    }
  }
  const target = values.buildTarget;
  if (target !== undefined) {
    for (const key of requiredBy[target]) {
      if (key in values && values[key] === undefined) {
        problems.push(`${fields[key].env}: is required when BUILD_TARGET is ${target}`);
      }
    }
  }
  if (
    problems.length > 0 ||
    schedule === undefined ||
    timezone === undefined ||
    target === undefined
  ) {
    throw new ConfigError(problems);
  }
  const v = values as Settings;
  return {
    userName: v.userName,
    repoName: v.repoName,
    triggerToken: v.triggerToken,
    tagSequence: v.tagSequence,
    schedule,
    timezone,
    propagationRoute: v.propagationRoute,
    propagationDelay: Math.round(v.propagationDelay * 1000),
    port: v.port,
    hubUrl: v.hubUrl.replace(/\/+$/, ''),
    triggerUrl: v.triggerUrl,
    logLevel: v.logLevel,
    logFormat: v.logFormat,
    // A full Docker Hub trigger URL carries its token.
    dryRun:
      v[tokenOf[target]] === undefined && (target !== 'dockerhub' || v.triggerUrl === undefined),
    buildTarget: target,
    tokenVariable: fields[tokenOf[target]].env,
    dockerhubTriggerBody: v.dockerhubTriggerBody,
    githubApiUrl: v.githubApiUrl.replace(/\/+$/, ''),
    githubRepository: v.githubRepository,
    githubWorkflow: v.githubWorkflow,
    githubRef: v.githubRef,
    githubToken: v.githubToken,
    gitlabUrl: v.gitlabUrl.replace(/\/+$/, ''),
    gitlabProject: v.gitlabProject,
    gitlabRef: v.gitlabRef,
    gitlabTriggerToken: v.gitlabTriggerToken,
    webhookSecret: v.webhookSecret,
    stateFile: v.stateFile,
    stallTimeout: Math.round(v.stallTimeout * 1000),
    stallRetrigger: v.stallRetrigger,
    retry: {
      initialDelay: Math.round(v.retryInitial * 1000),
      maxDelay: Math.round(v.retryMax * 1000),
      giveUpAfter: Math.round(v.retryGiveUp * 1000),
      timeout: Math.round(v.triggerTimeout * 1000),
    },
  };
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return zone.length > 0;
  } catch {
    return false;
  }
}

function scheduleProblem(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return `must be a cron pattern (5 fields, or 6 with seconds first) or an APScheduler trigger: ${message.replace(/^Cron\w*: /, '')}`;
}
