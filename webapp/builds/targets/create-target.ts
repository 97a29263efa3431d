import type { SettingsOf } from '../../settings/read-settings';
import type { BuildTarget, TargetContext } from './build-target';
import { dockerhubTarget } from './dockerhub';
import { githubTarget } from './github';
import { gitlabTarget } from './gitlab';

/** Every build target, by the name BUILD_TARGET gives it. */
export const targets = {
  dockerhub: dockerhubTarget,
  github: githubTarget,
  gitlab: gitlabTarget,
};

export type TargetName = keyof typeof targets;

/** The chosen target with its own settings, read and checked. */
export type TargetConfig = {
  [N in TargetName]: { name: N; settings: SettingsOf<(typeof targets)[N]['settings']> };
}[TargetName];

/** The target that BUILD_TARGET names, ready to send triggers. */
export function createTarget(target: TargetConfig, context: TargetContext): BuildTarget {
  switch (target.name) {
    case 'dockerhub':
      return dockerhubTarget.create(target.settings, context);
    case 'github':
      return githubTarget.create(target.settings, context);
    case 'gitlab':
      return gitlabTarget.create(target.settings, context);
  }
}
