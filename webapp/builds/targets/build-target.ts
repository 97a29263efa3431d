import type { SettingsOf, SettingsTable } from '../../settings/read-settings';

/** The method of every build request. */
export const buildMethod = 'POST';

/** One HTTP request that starts the build of a tag. */
export interface BuildRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** What a refused answer means, and whether asking again can help. */
export interface Refusal {
  retry: boolean;
  reason: string;
}

/** How a tag's build is started: where to ask, and how to read the answer. */
export interface BuildTarget {
  name: string;
  /** Where triggers go, with every secret replaced by `***`. */
  where: string;
  /** Strings that must never leave the process: scrubbed from anything logged. */
  secrets: string[];
  request(tag: string): BuildRequest;
  /** undefined when `status` means the build was started. */
  refusal(status: number): Refusal | undefined;
}

/** What every target may use beyond its own settings: the repository whose tags it builds. */
export interface TargetContext {
  userName: string;
  repoName: string;
  /** Docker Hub's base URL (DOCKERHUB_URL) */
  hubUrl: string;
}

/** A kind of build target: its own settings, and how it makes a BuildTarget of them. */
export interface TargetDefinition<T extends SettingsTable> {
  /** read and checked only when BUILD_TARGET names this target */
  settings: T;
  /** the setting without which triggers are a dry run */
  token: keyof T & string;
  /** the settings it cannot work without, beyond its token */
  required: (keyof T & string)[];
  /** variables it once read under other names (old name: new name), named at start when set */
  renamed?: Record<string, string>;
  /** whether it can send triggers (otherwise a dry run) */
  canSend(values: SettingsOf<T>): boolean;
  create(values: SettingsOf<T>, context: TargetContext): BuildTarget;
}

/** How a target's API answers a build request. */
export interface AnswerRules {
  service: string;
  /** the statuses that mean the build was started */
  started: (status: number) => boolean;
  /** the likely cause of each refusal worth naming */
  causes: Record<number, string>;
  /** what any other refusal means */
  otherwise: string;
}

/**
 * What an answer means, the same way for every target: throttling (429) and server trouble
 * (5xx) are worth a retry; any other refusal is not, and is named by its likely cause.
 */
export function readAnswer(status: number, rules: AnswerRules): Refusal | undefined {
  if (rules.started(status)) return undefined;
  if (status === 429)
    return { retry: true, reason: `${rules.service} is throttling triggers (429)` };
  if (status >= 500) return { retry: true, reason: `${rules.service} answered ${status}` };
  const cause = rules.causes[status] ?? rules.otherwise;
  return { retry: false, reason: `${rules.service} answered ${status}: ${cause}` };
}
