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

// A pipeline's status: https://docs.gitlab.com/api/pipelines/#list-project-pipelines
const statuses: Record<string, BuildState> = {
  created: 'requested',
  waiting_for_resource: 'queued',
  preparing: 'queued',
  pending: 'queued',
  scheduled: 'queued',
  manual: 'queued',
  waiting_for_callback: 'queued',
  running: 'in_progress',
  success: 'success',
  failed: 'failure',
  canceled: 'cancelled',
  canceling: 'cancelled',
  skipped: 'cancelled',
};

function pipeline(body: string): { id: string; state: BuildState; url: string | null } | undefined {
  const answer = parseObject(body);
  const id = runId(answer.id);
  if (id === undefined) return undefined;
  const state =
    typeof answer.status === 'string' ? (statuses[answer.status] ?? 'unknown') : 'unknown';
  return { id, state, url: pageUrl(answer.web_url) };
}

const settings = {
  /** GITLAB_URL: the GitLab instance */
  url: setting({ env: 'GITLAB_URL', default: 'https://gitlab.com', schema: httpUrl }),
  /** GITLAB_PROJECT: the project's id or path (group/name) */
  project: setting<string | undefined>({
    env: 'GITLAB_PROJECT',
    default: undefined,
    schema: z
      .string()
      .regex(/^(\d+|[\w.-]+(\/[\w.-]+)+)$/, 'must be a project id or path (group/name)')
      .optional(),
  }),
  /** GITLAB_REF: the branch or tag the pipeline runs on */
  ref: setting({ env: 'GITLAB_REF', default: 'main', schema: gitRef }),
  /** GITLAB_TRIGGER_TOKEN: the project's pipeline trigger token; keep it out of this file */
  token: setting({
    env: 'GITLAB_TRIGGER_TOKEN',
    default: undefined,
    schema: optionalToken,
    secret: true,
  }),
  /** GITLAB_API_TOKEN: a token with read_api that reads the pipelines (a trigger token cannot) */
  apiToken: setting({
    env: 'GITLAB_API_TOKEN',
    default: undefined,
    schema: optionalToken,
    secret: true,
  }),
};

/**
 * A GitLab pipeline trigger, with the tag as the pipeline variable TAG:
 * https://docs.gitlab.com/ci/triggers/
 */
export const gitlabTarget: TargetDefinition<typeof settings> = {
  settings,
  token: 'token',
  required: ['project'],
  canSend: (values) => values.token !== undefined,
  create(values) {
    const project = values.project ?? '';
    const token = values.token ?? '';
    const apiToken = values.apiToken ?? '';
    const projectApi = `${values.url.replace(/\/+$/, '')}/api/v4/projects/${encodeURIComponent(project)}`;
    const url = `${projectApi}/trigger/pipeline`;
    // Masked without its last two segments: maskUrl would take `pipeline`, after `trigger`,
    // for a token, and scrub that word from every line.
    const masked = maskUrl(projectApi);
    const answers: AnswerRules = {
      service: 'GitLab',
      started: (status) => status === 201 || status === 200,
      otherwise: 'GitLab refused the trigger',
      causes: {
        400: `the pipeline could not be created: GITLAB_REF (${values.ref}) does not exist, or no job runs for it`,
        401: 'GITLAB_TRIGGER_TOKEN is wrong or was revoked',
        403: 'GITLAB_TRIGGER_TOKEN may not run pipelines of this project',
        404: `GITLAB_PROJECT (${project}) does not exist, or GITLAB_TRIGGER_TOKEN is not one of its trigger tokens`,
      },
    };
    return {
      name: 'gitlab',
      where: `${masked.shown}/trigger/pipeline`,
      secrets: [
        ...[token, apiToken].flatMap((secret) =>
          secret.length > 0 ? [secret, encodeURIComponent(secret)] : [],
        ),
        ...masked.secrets,
      ],
      request: (tag) => ({
        url,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, ref: values.ref, 'variables[TAG]': tag }).toString(),
      }),
      refusal: (status) => readAnswer(status, answers),
      startedRun: pipeline,
      ...(apiToken === ''
        ? {
            cannotFollow:
              'GITLAB_API_TOKEN is not set: pipelines are not followed (a trigger token cannot read them), a failed one shows as a stall',
          }
        : {
            runs: {
              request: (run) => ({
                url: `${projectApi}/pipelines/${encodeURIComponent(run.id)}`,
                headers: { 'private-token': apiToken },
              }),
              read: (body) => {
                // Every pipeline has a status: an answer without one is something else.
                if (typeof parseObject(body).status !== 'string') return undefined;
                const read = pipeline(body);
                return read === undefined ? undefined : { state: read.state, url: read.url };
              },
              denied: `GITLAB_API_TOKEN may not read the pipelines of ${project} (it needs read_api)`,
            },
          }),
    };
  },
};
