import { z } from 'zod';
import { setting } from '../../settings/read-settings';
import { httpUrl, optionalToken } from '../../settings/schemas';
import { maskUrl } from '../../secrets/mask-url';
import { readAnswer, type AnswerRules, type TargetDefinition } from './build-target';

type DockerHubBody = 'docker_tag' | 'source_tag' | 'source_branch';

// The bodies Docker Hub's build trigger accepts, by DOCKERHUB_TRIGGER_BODY.
const bodies: Record<DockerHubBody, (tag: string) => object> = {
  docker_tag: (tag) => ({ docker_tag: tag }),
  source_tag: (tag) => ({ source_type: 'Tag', source_name: tag }),
  source_branch: (tag) => ({ source_type: 'Branch', source_name: tag }),
};

const settings = {
  /** DOCKERHUB_TRIGGER_TOKEN: keep it out of this file; without one, triggers are a dry run */
  token: setting({
    env: 'DOCKERHUB_TRIGGER_TOKEN',
    default: undefined,
    schema: optionalToken,
    secret: true,
  }),
  /** DOCKERHUB_TRIGGER_URL: a full trigger URL, used instead of the one built from DOCKERHUB_URL */
  url: setting<string | undefined>({
    env: 'DOCKERHUB_TRIGGER_URL',
    default: undefined,
    schema: httpUrl.optional(),
    secret: true,
  }),
  /** DOCKERHUB_TRIGGER_BODY: docker_tag, source_tag or source_branch */
  body: setting<DockerHubBody>({
    env: 'DOCKERHUB_TRIGGER_BODY',
    default: 'docker_tag',
    schema: z.enum(['docker_tag', 'source_tag', 'source_branch'], {
      error: 'must be docker_tag, source_tag or source_branch',
    }),
  }),
};

/** Docker Hub Automated Builds' trigger: the token is part of the URL. */
export const dockerhubTarget: TargetDefinition<typeof settings> = {
  settings,
  token: 'token',
  required: [],
  // A full trigger URL carries its token.
  canSend: (values) => values.token !== undefined || values.url !== undefined,
  create(values, { hubUrl, userName, repoName }) {
    const token = values.token ?? '';
    const url =
      values.url ??
      `${hubUrl}/u/${encodeURIComponent(userName)}/${encodeURIComponent(repoName)}/trigger/${encodeURIComponent(token === '' ? '***' : token)}/`;
    const wrongToken = `the trigger token is wrong or was regenerated, or ${userName}/${repoName} is not the repository (check DOCKERHUB_TRIGGER_TOKEN, DOCKERHUB_USER, DOCKERHUB_REPO)`;
    const answers: AnswerRules = {
      service: 'Docker Hub',
      started: (status) => status >= 200 && status < 300,
      causes: { 401: wrongToken, 403: wrongToken, 404: wrongToken },
      otherwise: 'Docker Hub refused the trigger',
    };
    // A full trigger URL may carry its token anywhere; the built one has it after /trigger/.
    const masked = maskUrl(url, values.url !== undefined);
    const secrets = [token, encodeURIComponent(token), ...masked.secrets].filter(
      (secret) => secret.length > 0,
    );
    return {
      name: 'dockerhub',
      where: masked.shown,
      secrets,
      request: (tag) => ({
        url,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(bodies[values.body](tag)),
      }),
      refusal: (status) => readAnswer(status, answers),
    };
  },
};
