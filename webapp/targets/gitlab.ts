import type { Config } from '../config';
import { readAnswer, type AnswerRules, type BuildTarget } from './target';

/**
 * A GitLab pipeline trigger, with the tag as the pipeline variable TAG:
 * https://docs.gitlab.com/ci/triggers/
 */
export function createGitLabTarget(config: Config): BuildTarget {
  const project = config.gitlabProject ?? '';
  const token = config.gitlabTriggerToken ?? '';
  const url = `${config.gitlabUrl}/api/v4/projects/${encodeURIComponent(project)}/trigger/pipeline`;
  const answers: AnswerRules = {
    service: 'GitLab',
    started: (status) => status === 201 || status === 200,
    otherwise: 'GitLab refused the trigger',
    causes: {
      400: `the pipeline could not be created: GITLAB_REF (${config.gitlabRef}) does not exist, or no job runs for it`,
      401: 'GITLAB_TRIGGER_TOKEN is wrong or was revoked',
      403: 'GITLAB_TRIGGER_TOKEN may not run pipelines of this project',
      404: `GITLAB_PROJECT (${project}) does not exist, or GITLAB_TRIGGER_TOKEN is not one of its trigger tokens`,
    },
  };
  return {
    name: 'gitlab',
    where: url,
    secrets: token.length > 0 ? [token, encodeURIComponent(token)] : [],
    request: (tag) => ({
      url,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, ref: config.gitlabRef, 'variables[TAG]': tag }).toString(),
    }),
    refusal: (status) => readAnswer(status, answers),
  };
}
