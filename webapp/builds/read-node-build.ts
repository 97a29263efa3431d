import { isOnDockerHub, type ImageRef } from '../chain/parse-image-ref';
import { readSettings, type SettingsTable } from '../settings/read-settings';
import { targets, type TargetConfig, type TargetName } from './targets/create-target';

type Env = Record<string, string | undefined>;

/** How one node of a graph file is built: its target's settings and where its triggers go. */
export interface NodeBuild {
  target: TargetConfig;
  /** its token is not set: its triggers are logged, not sent */
  dryRun: boolean;
  /** the variable whose absence makes it a dry run */
  tokenVariable: string;
  /** the build service its trigger goes to: triggers to one share BUILD_CONCURRENCY */
  service: string;
  /** namespace/repository of the Automated Build it triggers, for a Docker Hub build */
  hubRepository?: string;
}

/**
 * One target's settings read from `env`, checked as BUILD_TARGET's and each node's are: the
 * problems of the values as readSettings words them, and the required settings left unset.
 * `config` is there when there is neither.
 */
export function readTargetSettings(name: TargetName, env: Env, file: string) {
  const definition = targets[name];
  const table = definition.settings as SettingsTable;
  const { values, problems } = readSettings(table, env, file);
  for (const [one, other] of (definition.together ?? []) as [string, string][]) {
    const set = [one, other].filter((key) => values[key] !== undefined);
    if (set.length !== 1) continue;
    const unset = set[0] === one ? other : one;
    problems.push(
      `${table[unset]?.env}: is needed with ${table[set[0] as string]?.env}: set both, or neither`,
    );
  }
  const missing = (definition.required as string[]).filter(
    (key) => key in values && values[key] === undefined,
  );
  const tokenVariable = table[definition.token]?.env ?? '';
  if (problems.length > 0 || missing.length > 0) {
    return { problems, missing, tokenVariable, canSend: false };
  }
  // Every value was read and checked: it is the settings object of this target.
  const config = { name, settings: values } as TargetConfig;
  const canSend = (definition.canSend as (values: unknown) => boolean)(values);
  return { problems, missing, tokenVariable, canSend, config };
}

// The fields of a node's build, by target, and the setting each one gives. A secret setting's
// field names the variable that holds it, never the secret.
const fields: {
  [N in TargetName]: Record<string, keyof (typeof targets)[N]['settings'] & string>;
} = {
  dockerhub: { token_env: 'token', trigger_url_env: 'url', body: 'body' },
  github: {
    token_env: 'token',
    repository: 'repository',
    workflow: 'workflow',
    ref: 'ref',
    api_url: 'apiUrl',
    app_id: 'appId',
    app_key_env: 'appKey',
  },
  gitlab: {
    token_env: 'token',
    project: 'project',
    ref: 'ref',
    url: 'url',
    api_token_env: 'apiToken',
  },
};

const targetNames = Object.keys(targets) as TargetName[];
const variableName = /^[A-Z_][A-Z0-9_]*$/;
// Names under which people put a secret itself, where its variable's name belongs.
const secretName = /(^|_)(token|password|secret|trigger_url)$/;
const longest = 64;

/** The fields of a build of `name`, as the graph file spells them. */
export function buildFieldsOf(name: TargetName): string[] {
  return ['target', ...Object.keys(fields[name])];
}

/**
 * Reads a graph file node's `build`: its target, and that target's settings, each field of the
 * node in place of the global variable it stands for (which stays the default). Never puts a
 * value of the file or of a secret in a problem; each problem names the file's field.
 */
export function readNodeBuild(
  build: unknown,
  image: ImageRef,
  env: Env,
  hubUrl: string,
): { problems: string[]; build?: NodeBuild } {
  if (typeof build !== 'object' || build === null || Array.isArray(build)) {
    return { problems: ['build: must be a mapping with a target'] };
  }
  const given = build as Record<string, unknown>;
  const name = given.target;
  if (name === undefined) {
    return { problems: [`build: needs a target: ${targetNames.join(', ')}`] };
  }
  if (typeof name !== 'string' || !(targetNames as string[]).includes(name)) {
    return { problems: [`target: must be ${targetNames.join(', ')}`] };
  }
  const target = name as TargetName;
  if (target === 'dockerhub' && !isOnDockerHub(image)) {
    return {
      problems: [
        `target: dockerhub builds only images on Docker Hub, and ${image.display} is on ${image.registry}: build it with github or gitlab`,
      ],
    };
  }
  const table = targets[target].settings as SettingsTable;
  const own: Record<string, string> = fields[target];
  const problems: string[] = [];
  const nodeEnv: Env = { ...env };
  // the file's field of each setting, and the variable its value was read from, for problems
  const fieldOf = new Map<string, { field: string; variable?: string }>();
  const unreadable = new Set<string>();
  for (const [field, key] of Object.entries(own)) {
    const definition = table[key];
    if (definition === undefined) continue;
    fieldOf.set(key, { field, variable: definition.env });
  }
  const tokenDefinition = table[targets[target].token];
  let tokenVariable = tokenDefinition?.env ?? '';

  for (const [field, value] of Object.entries(given)) {
    if (field === 'target') continue;
    const key = Object.hasOwn(own, field) ? own[field] : undefined;
    const definition = key === undefined ? undefined : table[key];
    if (key === undefined || definition === undefined) {
      const hint = `${field}_env` in own ? `${field}_env` : 'token_env';
      problems.push(
        secretName.test(field)
          ? `${shown(field)}: secrets never stand in the graph file: name the variable that holds it with ${hint}`
          : `unknown field '${shown(field)}' in a ${target} build: allowed are ${buildFieldsOf(target).join(', ')}`,
      );
      continue;
    }
    if (definition.secret === true) {
      if (typeof value !== 'string' || !variableName.test(value)) {
        unreadable.add(key);
        problems.push(
          `${field}: must be the name of an environment variable (A-Z, 0-9 and _), not its value`,
        );
        continue;
      }
      nodeEnv[definition.env] = env[value];
      fieldOf.set(key, { field, variable: value });
      if (definition === tokenDefinition) tokenVariable = value;
      continue;
    }
    // A project id or a tag written bare is a number in YAML; anything else is a mistake.
    const text =
      typeof value === 'string' ? value : Number.isSafeInteger(value) ? String(value) : undefined;
    if (text === undefined || text.trim() === '') {
      unreadable.add(key);
      problems.push(`${field}: must be a non-empty text`);
      continue;
    }
    nodeEnv[definition.env] = text;
    fieldOf.set(key, { field });
  }

  const read = readTargetSettings(target, nodeEnv, `webapp/builds/targets/${target}.ts`);
  for (const problem of read.problems) {
    const key = Object.keys(table).find((candidate) => {
      const variable = table[candidate]?.env ?? '';
      return problem.startsWith(`${variable}:`) || problem.startsWith(`${variable} (`);
    });
    if (key === undefined || unreadable.has(key)) continue;
    const where = fieldOf.get(key);
    const message = problem.slice(problem.indexOf(': ') + 2);
    problems.push(
      where?.variable === undefined
        ? `${where?.field ?? key}: ${message}`
        : `${where.field} (${where.variable}): ${message}`,
    );
  }
  for (const key of read.missing) {
    if (!unreadable.has(key)) problems.push(`${target} builds need ${fieldOf.get(key)?.field}`);
  }
  if (problems.length > 0 || read.config === undefined) return { problems };

  const settings = read.config.settings as Record<string, unknown>;
  const api = (key: string) => String(settings[key]).replace(/\/+$/, '');
  const service =
    target === 'dockerhub'
      ? `dockerhub ${hubUrl.replace(/\/+$/, '')}`
      : target === 'github'
        ? `github ${api('apiUrl')}`
        : `gitlab ${api('url')}`;
  return {
    problems,
    build: {
      target: read.config,
      dryRun: !read.canSend,
      tokenVariable,
      service,
      ...(target === 'dockerhub'
        ? { hubRepository: `${image.namespace}/${image.repository}` }
        : {}),
    },
  };
}

function shown(text: string): string {
  return text.length <= longest ? text : `${text.slice(0, longest - 4)}...`;
}
