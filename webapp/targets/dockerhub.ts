import type { Config } from '../config';
import { redact } from '../redact';
import { transientRefusal, type BuildTarget } from './index';

/** Docker Hub Automated Builds' trigger: the token is part of the URL. */
export function createDockerHubTarget(config: Config): BuildTarget {
  const token = config.triggerToken ?? '';
  const url =
    config.triggerUrl ??
    `${config.hubUrl}/u/${encodeURIComponent(config.userName)}/${encodeURIComponent(config.repoName)}/trigger/${encodeURIComponent(token)}/`;
  const secrets = [token, encodeURIComponent(token), ...urlSecrets(config.triggerUrl)].filter(
    (secret) => secret.length > 0,
  );
  return {
    name: 'dockerhub',
    where: redact(url, secrets),
    secrets,
    request: (tag) => ({
      url,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ docker_tag: tag }),
    }),
    refusal(status) {
      if (status >= 200 && status < 300) return undefined;
      const transient = transientRefusal(status, 'Docker Hub');
      if (transient !== undefined) return transient;
      if (status === 401 || status === 403 || status === 404) {
        return {
          retry: false,
          reason: `Docker Hub answered ${status}: the trigger token is wrong or was regenerated, or ${config.userName}/${config.repoName} is not the repository (check DOCKERHUB_TRIGGER_TOKEN, DOCKERHUB_USER, DOCKERHUB_REPO)`,
        };
      }
      return { retry: false, reason: `Docker Hub refused the trigger (${status})` };
    },
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
