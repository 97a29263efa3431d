import { z } from 'zod';
import { setting } from '../../settings/read-settings';
import { gitRef, httpUrl, optionalToken } from '../../settings/schemas';
import { maskUrl } from '../mask-url';
import { readAnswer, type AnswerRules, type TargetDefinition } from './build-target';

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
    const url = `${values.url.replace(/\/+$/, '')}/api/v4/projects/${encodeURIComponent(project)}/trigger/pipeline`;
    const masked = maskUrl(url);
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
      where: masked.shown,
      secrets: [...(token.length > 0 ? [token, encodeURIComponent(token)] : []), ...masked.secrets],
      request: (tag) => ({
        url,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token, ref: values.ref, 'variables[TAG]': tag }).toString(),
      }),
      refusal: (status) => readAnswer(status, answers),
    };
  },
};
