import { z } from 'zod';
import { setting } from '../../settings/read-settings';
import { gitRef, httpUrl, optionalToken } from '../../settings/schemas';
import { maskUrl } from '../../secrets/mask-url';
import { appIdSchema, appKeySchema } from '../github-app/read-app-key';
import type { BuildRun, BuildState } from '../../types';
import {
  pageUrl,
  parseObject,
  readAnswer,
  runId,
  type AnswerRules,
  type TargetDefinition,
} from './build-target';

// A run's conclusion, once its status is `completed`:
// https://docs.github.com/en/rest/actions/workflow-runs#get-a-workflow-run
const conclusions: Record<string, BuildState> = {
  success: 'success',
  neutral: 'success',
  failure: 'failure',
  timed_out: 'failure',
  startup_failure: 'failure',
  action_required: 'failure',
  stale: 'failure',
  cancelled: 'cancelled',
  skipped: 'cancelled',
};

const statuses: Record<string, BuildState> = {
  requested: 'requested',
  queued: 'queued',
  waiting: 'queued',
  pending: 'queued',
  in_progress: 'in_progress',
};

/** A run's state from its status and conclusion, as the REST API and webhooks give them. */
export function readRunState(status: unknown, conclusion: unknown): BuildState {
  if (status === 'completed') {
    return typeof conclusion === 'string' ? (conclusions[conclusion] ?? 'unknown') : 'unknown';
  }
  return typeof status === 'string' ? (statuses[status] ?? 'unknown') : 'unknown';
}

const settings = {
  /** BUILD_GITHUB_API_URL: GitHub's REST API */
  apiUrl: setting({
    env: 'BUILD_GITHUB_API_URL',
    default: 'https://api.github.com',
    schema: httpUrl,
  }),
  /** BUILD_GITHUB_REPOSITORY: owner/name of the repository whose workflow builds the image */
  repository: setting<string | undefined>({
    env: 'BUILD_GITHUB_REPOSITORY',
    default: undefined,
    schema: z
      .string()
      .regex(/^[\w.-]+\/[\w.-]+$/, 'must be owner/name')
      .optional(),
  }),
  /** BUILD_GITHUB_WORKFLOW: that workflow's file name (build.yml) or id */
  workflow: setting<string | undefined>({
    env: 'BUILD_GITHUB_WORKFLOW',
    default: undefined,
    schema: z
      .string()
      .regex(/^(\d+|[\w.-]+\.ya?ml)$/, 'must be a workflow file name (build.yml) or id')
      .optional(),
  }),
  /** BUILD_GITHUB_REF: the branch or tag the workflow runs on */
  ref: setting({ env: 'BUILD_GITHUB_REF', default: 'main', schema: gitRef }),
  /** BUILD_GITHUB_TOKEN: a token allowed to dispatch workflows; keep it out of this file */
  token: setting({
    env: 'BUILD_GITHUB_TOKEN',
    default: undefined,
    schema: optionalToken,
    secret: true,
  }),
  /** GITHUB_APP_ID: a GitHub App that dispatches instead of a token (with its private key) */
  appId: setting<string | undefined>({
    env: 'GITHUB_APP_ID',
    default: undefined,
    schema: appIdSchema.optional(),
  }),
  /** GITHUB_APP_PRIVATE_KEY: that App's private key (PEM); keep it out of this file */
  appKey: setting({
    env: 'GITHUB_APP_PRIVATE_KEY',
    default: undefined,
    // Checked at start; the text is kept, and read into a key where tokens are made.
    schema: z
      .string()
      .optional()
      .superRefine((text, context) => {
        if (text === undefined) return;
        const read = appKeySchema.safeParse(text);
        if (!read.success) {
          context.addIssue({
            code: 'custom',
            message: read.error.issues[0]?.message ?? 'unreadable',
          });
        }
      }),
    secret: true,
  }),
};

/** How a request is authorised: the token, or a token of the App's installation. */
type Authorise = () => Promise<{ header: string; token: string | undefined }>;

/**
 * A GitHub Actions workflow_dispatch, with the tag as the workflow's `tag` input:
 * https://docs.github.com/en/rest/actions/workflows#create-a-workflow-dispatch-event
 */
export const githubTarget: TargetDefinition<typeof settings> = {
  settings,
  token: 'token',
  required: ['repository', 'workflow'],
  together: [['appId', 'appKey']],
  // GitHub Actions sets the old names in every job, with other meanings.
  renamed: Object.fromEntries(
    Object.values(settings)
      .filter(({ env }) => env.startsWith('BUILD_'))
      .map(({ env }) => [env.replace(/^BUILD_/, ''), env]),
  ),
  canSend: (values) =>
    values.token !== undefined || (values.appId !== undefined && values.appKey !== undefined),
  create(values, context) {
    const repository = values.repository ?? '';
    const workflow = values.workflow ?? '';
    const token = values.token ?? '';
    const api = values.apiUrl.replace(/\/+$/, '');
    const url = `${api}/repos/${repository}/actions/workflows/${encodeURIComponent(workflow)}/dispatches`;
    const masked = maskUrl(url);
    // A token of its own wins; else the App's, made for this repository when it is needed.
    const app =
      token === '' && values.appId !== undefined && values.appKey !== undefined
        ? { appId: values.appId, privateKey: values.appKey, apiUrl: api }
        : undefined;
    const tokens = app === undefined ? undefined : context.appTokens?.(app);
    const authorise: Authorise = async () => {
      if (app === undefined) return { header: `Bearer ${token}`, token };
      if (tokens === undefined) {
        return {
          header: `Bearer <installation token of GitHub App ${app.appId}>`,
          token: undefined,
        };
      }
      const made = await tokens.tokenFor(repository);
      return { header: `Bearer ${made}`, token: made };
    };
    let lastToken: string | undefined;
    let renewed = false;
    // the same for reads: a new token refused too is the App's own 401
    let readRenewed = false;
    const signed = async (extra: Record<string, string> = {}) => {
      const { header, token: used } = await authorise();
      lastToken = used;
      return { ...headers, ...extra, authorization: header };
    };
    const credential = app === undefined ? 'BUILD_GITHUB_TOKEN' : `the GitHub App ${app.appId}`;
    const headers = {
      accept: 'application/vnd.github+json',
      'x-github-api-version': '2022-11-28',
      // GitHub refuses requests without one.
      'user-agent': 'dockerhub-trigger-propagate',
    };
    // Since February 2026 a dispatch names its run when asked; a server from before refuses
    // the field (422) or ignores it (204):
    // https://github.blog/changelog/2026-02-19-workflow-dispatch-api-now-returns-run-ids
    let askRun = true;
    // the dispatch after a 422 went without the field: its answer says whether that was why
    let probing = false;
    const answers: AnswerRules = {
      service: 'GitHub',
      started: (status) => status === 204 || status === 200,
      otherwise: 'GitHub refused the dispatch',
      causes: {
        401: `${credential} is wrong, expired or revoked`,
        403: `${credential} may not dispatch workflows here (it needs Actions: write${app === undefined ? ', or the workflow scope' : ''})`,
        404: `BUILD_GITHUB_REPOSITORY (${repository}) or BUILD_GITHUB_WORKFLOW (${workflow}) does not exist, or ${credential} cannot see it`,
        422: `the workflow has no workflow_dispatch trigger with a 'tag' input, or BUILD_GITHUB_REF (${values.ref}) does not exist`,
      },
    };
    const fixedSecrets = [...(token.length > 0 ? [token] : []), ...masked.secrets];
    return {
      name: 'github',
      where: masked.shown,
      get secrets() {
        return [...fixedSecrets, ...(tokens?.secrets() ?? [])];
      },
      request: async (tag) => ({
        url,
        headers: await signed({ 'content-type': 'application/json' }),
        body: JSON.stringify({
          ref: values.ref,
          inputs: { tag },
          ...(askRun ? { return_run_details: true } : {}),
        }),
      }),
      refusal: (status) => {
        // An installation token refused before its hour ended (the App was reinstalled, its key
        // rotated): one made anew may well be taken.
        if (answers.started(status)) renewed = false;
        if (status === 401 && tokens !== undefined && lastToken !== undefined && !renewed) {
          tokens.refused(repository, lastToken);
          lastToken = undefined;
          // A new token refused too is not a token's age: that 401 is the App's own.
          renewed = true;
          return {
            retry: true,
            reason: `GitHub refused the installation token of ${credential} (401): making a new one`,
          };
        }
        if (probing) {
          probing = false;
          // Refused without the field too: the 422 was about something else.
          if (!answers.started(status)) askRun = true;
        }
        return readAnswer(status, answers);
      },
      askPlainer: (status) => {
        if (status !== 422 || !askRun) return false;
        askRun = false;
        probing = true;
        return true;
      },
      startedRun: (body) => {
        const answer = parseObject(body);
        const id = runId(answer.workflow_run_id);
        if (id === undefined) return undefined;
        return { id, url: pageUrl(answer.html_url), state: 'requested' };
      },
      // The run is read at the configured API, never at a URL an answer names: the token goes
      // only where it was configured to go.
      runs: {
        request: async (run) => ({
          url: `${api}/repos/${repository}/actions/runs/${encodeURIComponent(run.id)}`,
          headers: await signed(),
        }),
        read: (body) => {
          readRenewed = false;
          const run = parseObject(body);
          // Every run has an id and a status: an answer without them is something else.
          if (runId(run.id) === undefined || typeof run.status !== 'string') return undefined;
          return { state: readRunState(run.status, run.conclusion), url: pageUrl(run.html_url) };
        },
        denied: `${credential} may not read workflow runs (it needs Actions: read)`,
        renew: () => {
          if (tokens === undefined || lastToken === undefined || readRenewed) return false;
          tokens.refused(repository, lastToken);
          lastToken = undefined;
          readRenewed = true;
          return true;
        },
        // https://docs.github.com/en/rest/actions/workflow-runs#list-workflow-runs-for-a-workflow
        find: {
          request: async (since) => {
            const query = new URLSearchParams({
              event: 'workflow_dispatch',
              branch: branchOf(values.ref),
              created: `>=${new Date(since).toISOString().replace(/\.\d{3}Z$/, 'Z')}`,
              per_page: '30',
            });
            return {
              url: `${api}/repos/${repository}/actions/workflows/${encodeURIComponent(workflow)}/runs?${query}`,
              headers: await signed(),
            };
          },
          read: (body, tag, since, taken) => findRun(body, tag, branchOf(values.ref), since, taken),
        },
      },
    };
  },
};

/** The branch or tag name GitHub gives a run as its head_branch. */
function branchOf(ref: string): string {
  return ref.replace(/^refs\/(heads|tags)\//, '');
}

/**
 * The run a dispatch of `tag` started, among a list of a workflow's runs: dispatched on `branch`
 * since `since` (ms), not another node's (`taken`), and the first whose title names the tag (the
 * workflow's run-name). When none names it, the only candidate, if there is one.
 */
function findRun(
  body: string,
  tag: string,
  branch: string,
  since: number,
  taken: ReadonlySet<string>,
): BuildRun | undefined {
  const list = parseObject(body).workflow_runs;
  if (!Array.isArray(list)) return undefined;
  const candidates = list
    .map((entry) =>
      typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>) : {},
    )
    .map((run) => ({ run, id: runId(run.id), created: Date.parse(String(run.created_at)) }))
    .filter(
      ({ run, id, created }) =>
        id !== undefined &&
        !taken.has(id) &&
        run.event === 'workflow_dispatch' &&
        run.head_branch === branch &&
        created >= since,
    )
    .sort((a, b) => a.created - b.created);
  const names = (run: Record<string, unknown>) =>
    [run.display_title, run.name].some(
      (title) => typeof title === 'string' && title.split(/[\s:,;()[\]'"`]+/).includes(tag),
    );
  // A lone run is taken only from a workflow without a run-name (its title is its name): one
  // whose title names another tag is another node's.
  const untitled = (run: Record<string, unknown>) =>
    run.display_title === undefined || run.display_title === run.name;
  const lone =
    candidates.length === 1 && untitled(candidates[0]?.run ?? {}) ? candidates[0] : undefined;
  const found = candidates.find(({ run }) => names(run)) ?? lone;
  if (found === undefined) return undefined;
  return {
    id: found.id as string,
    url: pageUrl(found.run.html_url),
    state: readRunState(found.run.status, found.run.conclusion),
  };
}
