import type { Config } from '../config';
import { createDockerHubTarget } from './dockerhub';
import { createGitHubTarget } from './github';
import { createGitLabTarget } from './gitlab';
import type { BuildTarget } from './target';

export type { BuildRequest, BuildTarget, Refusal } from './target';

/** The target that BUILD_TARGET names. */
export function createTarget(config: Config): BuildTarget {
  switch (config.buildTarget) {
    case 'dockerhub':
      return createDockerHubTarget(config);
    case 'github':
      return createGitHubTarget(config);
    case 'gitlab':
      return createGitLabTarget(config);
  }
}
