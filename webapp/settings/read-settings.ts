import type { z } from 'zod';

/**
 * One setting: its default, the variable that overrides it, and what a valid value is. The
 * default and the variable are written as a person writes them (`I`, e.g. seconds); the schema
 * checks that and gives the value in the unit the app works in (`T`, e.g. milliseconds).
 */
export interface Setting<T, I = T> {
  /** the environment variable that overrides the default */
  env: string;
  default: I;
  schema: z.ZodType<T, I>;
  /** turns the variable's text into what `schema` checks; the text itself when left out */
  fromEnv?: (text: string) => unknown;
  /** its value never appears in an error, a log line or a page */
  secret?: boolean;
}

// A table holds settings of every type: with `unknown`, no schema's own input type would fit.
export type SettingsTable = Record<string, Setting<any, any>>;

/** The values a table of settings holds, key by key, in the app's units. */
export type SettingsOf<T extends SettingsTable> = {
  [K in keyof T]: T[K] extends Setting<infer V, infer _I> ? V : never;
};

/** The values as a person writes them (the defaults' and the variables' units), key by key. */
export type SettingsInputOf<T extends SettingsTable> = {
  [K in keyof T]: T[K] extends Setting<infer _V, infer I> ? I : never;
};

/** Declares one setting; the value's types follow from the default and the schema. */
export const setting = <T, I = T>(definition: Setting<T, I>): Setting<T, I> => definition;

/**
 * Reads every setting of `table` from `env`, or from its default (`defaults` may replace some,
 * as an edit of the file would). An empty variable counts as unset. Each bad value becomes one
 * problem that names the variable, and says `file` when the bad value is a default.
 */
export function readSettings<T extends SettingsTable>(
  table: T,
  env: Record<string, string | undefined>,
  file: string,
  defaults: Partial<SettingsInputOf<T>> = {},
): { values: Partial<SettingsOf<T>>; problems: string[]; fromEnv: Set<keyof T> } {
  const values: Partial<SettingsOf<T>> = {};
  const problems: string[] = [];
  const fromEnv = new Set<keyof T>();
  for (const key of Object.keys(table) as (keyof T & string)[]) {
    const definition = table[key] as Setting<unknown, unknown>;
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
