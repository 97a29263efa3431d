import type { z } from 'zod';

/** One setting: its default, the variable that overrides it, and what a valid value is. */
export interface Setting<T> {
  /** the environment variable that overrides the default */
  env: string;
  default: T;
  schema: z.ZodType<T>;
  /** turns the variable's text into what `schema` checks; the text itself when left out */
  fromEnv?: (text: string) => unknown;
  /** its value never appears in an error, a log line or a page */
  secret?: boolean;
}

export type SettingsTable = Record<string, Setting<unknown>>;

/** The values a table of settings holds, key by key. */
export type SettingsOf<T extends SettingsTable> = {
  [K in keyof T]: T[K] extends Setting<infer V> ? V : never;
};

/** Declares one setting; the value's type follows from the default and the schema. */
export const setting = <T>(definition: Setting<T>): Setting<T> => definition;

/**
 * Reads every setting of `table` from `env`, or from its default (`defaults` may replace some,
 * as an edit of the file would). An empty variable counts as unset. Each bad value becomes one
 * problem that names the variable, and says `file` when the bad value is a default.
 */
export function readSettings<T extends SettingsTable>(
  table: T,
  env: Record<string, string | undefined>,
  file: string,
  defaults: Partial<SettingsOf<T>> = {},
): { values: Partial<SettingsOf<T>>; problems: string[]; fromEnv: Set<keyof T> } {
  const values: Partial<SettingsOf<T>> = {};
  const problems: string[] = [];
  const fromEnv = new Set<keyof T>();
  for (const key of Object.keys(table) as (keyof T & string)[]) {
    const definition = table[key] as Setting<unknown>;
    const raw = env[definition.env];
    const given = raw !== undefined && raw !== '';
    if (given) fromEnv.add(key);
    const input = given
      ? (definition.fromEnv ?? ((text: string) => text))(raw)
      : key in defaults
        ? defaults[key]
        : definition.default;
    const result = definition.schema.safeParse(input);
    if (result.success) {
      values[key] = result.data as SettingsOf<T>[typeof key];
    } else {
      const where = given ? definition.env : `${definition.env} (${key} in ${file})`;
      const messages = [...new Set(result.error.issues.map((issue) => issue.message))];
      problems.push(`${where}: ${messages.join('; ')}`);
    }
  }
  return { values, problems, fromEnv };
}

/** Each variable's default, written as the environment would hold it (for docs and checks). */
export function envDefaultsOf(table: SettingsTable): Record<string, string | undefined> {
  const asEnv = (value: unknown): string | undefined => {
    if (Array.isArray(value)) return value.join(',');
    if (typeof value === 'boolean') return value ? '1' : '0';
    if (typeof value === 'string' || typeof value === 'number') return String(value);
    return undefined;
  };
  return Object.fromEntries(
    Object.values(table).map((definition) => [definition.env, asEnv(definition.default)]),
  );
}
