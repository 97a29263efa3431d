import type { Config, DockerHubBody } from '../config';
import { redact } from '../redact';
import { readAnswer, type AnswerRules, type BuildTarget } from './target';

// The bodies Docker Hub's build trigger accepts, by DOCKERHUB_TRIGGER_BODY.
const bodies: Record<DockerHubBody, (tag: string) => object> = {
  docker_tag: (tag) => ({ docker_tag: tag }),
  source_tag: (tag) => ({ source_type: 'Tag', source_name: tag }),
  source_branch: (tag) => ({ source_type: 'Branch', source_name: tag }),
};

/** Docker Hub Automated Builds' trigger: the token is part of the URL. */
export function createDockerHubTarget(config: Config): BuildTarget {
  const token = config.triggerToken ?? '';
  const urlWith = (secret: string) =>
    config.triggerUrl ??
    `${config.hubUrl}/u/${encodeURIComponent(config.userName)}/${encodeURIComponent(config.repoName)}/trigger/${encodeURIComponent(secret)}/`;
  const url = urlWith(token);
  const wrongToken = `the trigger token is wrong or was regenerated, or ${config.userName}/${config.repoName} is not the repository (check DOCKERHUB_TRIGGER_TOKEN, DOCKERHUB_USER, DOCKERHUB_REPO)`;
  const answers: AnswerRules = {
    service: 'Docker Hub',
    started: (status) => status >= 200 && status < 300,
    causes: { 401: wrongToken, 403: wrongToken, 404: wrongToken },
    otherwise: 'Docker Hub refused the trigger',
  };
  const secrets = [token, encodeURIComponent(token), ...urlSecrets(config.triggerUrl)].filter(
    (secret) => secret.length > 0,
  );
  return {
    name: 'dockerhub',
    where: redact(urlWith(token === '' ? '***' : token), secrets),
    secrets,
    request: (tag) => ({
      url,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(bodies[config.dockerhubTriggerBody](tag)),
    }),
    refusal: (status) => readAnswer(status, answers),
  };
}

/** The token of a full trigger URL, wherever it sits: its path segments and query. */
function urlSecrets(triggerUrl: string | undefined): string[] {
  if (triggerUrl === undefined) return [];
  const parsed = new URL(triggerUrl);
  const token = /\/trigger\/([^/]+)/.exec(parsed.pathname)?.[1];
  return token !== undefined
    ? [token, decodeURIComponent(token)]
    : [parsed.pathname + parsed.search];
}
