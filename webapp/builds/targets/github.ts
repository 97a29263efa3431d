import { z } from 'zod';
import { setting } from '../../settings/read-settings';
import { gitRef, httpUrl, optionalToken } from '../../settings/schemas';
import { maskUrl } from '../../secrets/mask-url';
import type { BuildState } from '../../types';
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

function runState(status: unknown, conclusion: unknown): BuildState {
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
};

/**
 * A GitHub Actions workflow_dispatch, with the tag as the workflow's `tag` input:
 * https://docs.github.com/en/rest/actions/workflows#create-a-workflow-dispatch-event
 */
export const githubTarget: TargetDefinition<typeof settings> = {
  settings,
  token: 'token',
  required: ['repository', 'workflow'],
  // GitHub Actions sets the old names in every job, with other meanings.
  renamed: Object.fromEntries(
    Object.values(settings).map(({ env }) => [env.replace(/^BUILD_/, ''), env]),
  ),
  canSend: (values) => values.token !== undefined,
  create(values) {
    const repository = values.repository ?? '';
    const workflow = values.workflow ?? '';
    const token = values.token ?? '';
    const api = values.apiUrl.replace(/\/+$/, '');
    const url = `${api}/repos/${repository}/actions/workflows/${encodeURIComponent(workflow)}/dispatches`;
    const masked = maskUrl(url);
    const headers = {
      authorization: `Bearer ${token}`,
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
        401: 'BUILD_GITHUB_TOKEN is wrong, expired or revoked',
        403: 'BUILD_GITHUB_TOKEN may not dispatch workflows here (it needs Actions: write, or the workflow scope)',
        404: `BUILD_GITHUB_REPOSITORY (${repository}) or BUILD_GITHUB_WORKFLOW (${workflow}) does not exist, or BUILD_GITHUB_TOKEN cannot see it`,
        422: `the workflow has no workflow_dispatch trigger with a 'tag' input, or BUILD_GITHUB_REF (${values.ref}) does not exist`,
      },
    };
    return {
      name: 'github',
      where: masked.shown,
      secrets: [...(token.length > 0 ? [token] : []), ...masked.secrets],
      request: (tag) => ({
        url,
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({
          ref: values.ref,
          inputs: { tag },
          ...(askRun ? { return_run_details: true } : {}),
        }),
      }),
      refusal: (status) => {
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
        request: (run) => ({
          url: `${api}/repos/${repository}/actions/runs/${encodeURIComponent(run.id)}`,
          headers,
        }),
        read: (body) => {
          const run = parseObject(body);
          // Every run has an id and a status: an answer without them is something else.
          if (runId(run.id) === undefined || typeof run.status !== 'string') return undefined;
          return { state: runState(run.status, run.conclusion), url: pageUrl(run.html_url) };
        },
        denied: 'BUILD_GITHUB_TOKEN may not read workflow runs (it needs Actions: read)',
      },
    };
  },
};
