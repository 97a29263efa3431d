import type { Config } from '../config';
import { readAnswer, type AnswerRules, type BuildTarget } from './target';

/**
 * A GitHub Actions workflow_dispatch, with the tag as the workflow's `tag` input:
 * https://docs.github.com/en/rest/actions/workflows#create-a-workflow-dispatch-event
 */
export function createGitHubTarget(config: Config): BuildTarget {
  const repository = config.githubRepository ?? '';
  const workflow = config.githubWorkflow ?? '';
  const token = config.githubToken ?? '';
  const url = `${config.githubApiUrl}/repos/${repository}/actions/workflows/${encodeURIComponent(workflow)}/dispatches`;
  const answers: AnswerRules = {
    service: 'GitHub',
    started: (status) => status === 204 || status === 200,
    otherwise: 'GitHub refused the dispatch',
    causes: {
      401: 'GITHUB_TOKEN is wrong, expired or revoked',
      403: 'GITHUB_TOKEN may not dispatch workflows here (it needs Actions: write, or the workflow scope)',
      404: `GITHUB_REPOSITORY (${repository}) or GITHUB_WORKFLOW (${workflow}) does not exist, or GITHUB_TOKEN cannot see it`,
      422: `the workflow has no workflow_dispatch trigger with a 'tag' input, or GITHUB_REF (${config.githubRef}) does not exist`,
    },
  };
  return {
    name: 'github',
    where: url,
    secrets: token.length > 0 ? [token] : [],
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
      body: JSON.stringify({ ref: config.githubRef, inputs: { tag } }),
    }),
    refusal: (status) => readAnswer(status, answers),
  };
}
