import { readSettings, type SettingsTable } from '../settings/read-settings';
import { targets, type TargetConfig, type TargetName } from './targets/create-target';

type Env = Record<string, string | undefined>;

/**
 * One target's settings read from `env`, checked as BUILD_TARGET's and each node's are: the
 * problems of the values as readSettings words them, and the required settings left unset.
 * `config` is there when there is neither.
 */
export function readTargetSettings(name: TargetName, env: Env, file: string) {
  const definition = targets[name];
  const table = definition.settings as SettingsTable;
  const { values, problems } = readSettings(table, env, file);
  const missing = (definition.required as string[]).filter(
    (key) => key in values && values[key] === undefined,
  );
  const tokenVariable = table[definition.token]?.env ?? '';
  if (problems.length > 0 || missing.length > 0) {
    return { problems, missing, tokenVariable, canSend: false };
  }
  // Every value was read and checked: it is the settings object of this target.
  const config = { name, settings: values } as TargetConfig;
  const canSend = (definition.canSend as (values: unknown) => boolean)(values);
  return { problems, missing, tokenVariable, canSend, config };
}
