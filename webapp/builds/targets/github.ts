import { z } from 'zod';
import { setting } from '../../settings/read-settings';
import { gitRef, httpUrl, optionalToken } from '../../settings/schemas';
import { maskUrl } from '../mask-url';
import { readAnswer, type AnswerRules, type TargetDefinition } from './build-target';

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
    const url = `${values.apiUrl.replace(/\/+$/, '')}/repos/${repository}/actions/workflows/${encodeURIComponent(workflow)}/dispatches`;
    const masked = maskUrl(url);
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
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/vnd.github+json',
          'x-github-api-version': '2022-11-28',
          'content-type': 'application/json',
          // GitHub refuses requests without one.
          'user-agent': 'dockerhub-trigger-propagate',
        },
        body: JSON.stringify({ ref: values.ref, inputs: { tag } }),
      }),
      refusal: (status) => readAnswer(status, answers),
    };
  },
};
