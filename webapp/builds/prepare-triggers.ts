import type { Config } from '../config';
import type { Logger } from '../logging/create-logger';
import type { TriggerBuild } from '../types';
import type { BuildTarget } from './targets/build-target';
import { createTarget } from './targets/create-target';
import { createPool } from '../http/create-pool';
import { triggerTag } from './trigger-tag';

export interface PreparedTriggers {
  trigger: TriggerBuild;
  /** the target triggers go to */
  target: BuildTarget;
  /** where triggers go, secrets replaced by *** */
  where: string;
  close(): Promise<void>;
}

/** triggerTag wired to the configured target, with one connection pool for the process. */
export function prepareTriggers(config: Config, log: Logger): PreparedTriggers {
  const target = createTarget(config.target, config);
  const dispatcher = createPool(config.retry.timeout);
  const triggerLog = log.child({ unit: 'trigger' });
  return {
    trigger: (tag, signal) =>
      triggerTag(tag, {
        target,
        log: triggerLog,
        dryRun: config.dryRun,
        retry: config.retry,
        dispatcher,
        ...(signal === undefined ? {} : { signal }),
      }),
    target,
    where: target.where,
    close: () => dispatcher.close(),
  };
}
