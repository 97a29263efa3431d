import { readJsonAnswer } from '../../http/read-json-answer';
import type { SettingsOf, SettingsTable } from '../../settings/read-settings';
import type { BuildRun, BuildState } from '../../types';
import type { AppTokens } from '../github-app/create-app-tokens';

/** One HTTP request that starts the build of a tag: every target's is a POST. */
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
  /** what to send; a promise where the credentials are made on demand (a GitHub App's) */
  request(tag: string): BuildRequest | Promise<BuildRequest>;
  /** undefined when `status` means the build was started. */
  refusal(status: number): Refusal | undefined;
  /** The run a started build's answer names; when left out, the answer's body is not read. */
  startedRun?(body: string): BuildRun | undefined;
  /**
   * Whether `status` refuses an option the request asked for beyond the build itself: then
   * request() leaves it out from now on, and the trigger is sent again at once.
   */
  askPlainer?(status: number): boolean;
  /** How a started run is read back, when this target can read it. */
  runs?: RunReader;
  /** Why this target's builds cannot be followed, when they cannot; said once at start. */
  cannotFollow?: string;
}

/** A read: where, and with what headers. */
export interface ReadRequest {
  url: string;
  headers: Record<string, string>;
}

/** Reads one run of a build target: what to ask, and what the answer says. */
export interface RunReader {
  request(run: BuildRun): ReadRequest | Promise<ReadRequest>;
  /** the run's state and page from a 200's body; undefined when the body is not a run */
  read(body: string): { state: BuildState; url: string | null } | undefined;
  /** the likely cause when the read is refused (401, 403, 404): the token cannot read runs */
  denied: string;
  /** How the run a trigger started is found, when the trigger's answer did not name it. */
  find?: RunFinder;
  /**
   * A read was refused (401): whether new credentials will be sent next time (a GitHub App's
   * token made anew), which makes the refusal worth a later read. Once in a row at most.
   */
  renew?(): boolean;
}

/**
 * Finds the run a trigger started among the runs created since (ms), when the target's answer
 * named none: a server from before GitHub's return_run_details, say.
 */
export interface RunFinder {
  request(since: number): ReadRequest | Promise<ReadRequest>;
  /** the run of `tag` in a 200's body, leaving out the runs in `taken` (other nodes' builds) */
  read(body: string, tag: string, since: number, taken: ReadonlySet<string>): BuildRun | undefined;
}

/** Whether a run in `state` has ended. */
export function hasEnded(state: BuildState): boolean {
  return state === 'success' || state === 'failure' || state === 'cancelled';
}

/** The JSON object of an answer's body, or an empty one. */
export function parseObject(body: string): Record<string, unknown> {
  const parsed = readJsonAnswer(body);
  return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
}

/** A URL a person may open, or null: only http(s). */
export function pageUrl(value: unknown): string | null {
  return typeof value === 'string' && /^https?:\/\/\S+$/.test(value) ? value : null;
}

/** An id as text, from a number or a string of digits. */
export function runId(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return typeof value === 'string' && /^\d{1,20}$/.test(value) ? value : undefined;
}

/** What every target may use beyond its own settings: the repository whose tags it builds. */
export interface TargetContext {
  userName: string;
  repoName: string;
  /** Docker Hub's base URL (DOCKERHUB_URL) */
  hubUrl: string;
  /**
   * The maker of a GitHub App's installation tokens, one per App and API; left out where
   * nothing is sent (a dry run's description), where the request shows a stand-in.
   */
  appTokens?: (app: GitHubApp) => AppTokens;
}

/** A GitHub App, as GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY name it, on one API. */
export interface GitHubApp {
  appId: string;
  privateKey: string;
  apiUrl: string;
}

/** A kind of build target: its own settings, and how it makes a BuildTarget of them. */
export interface TargetDefinition<T extends SettingsTable> {
  /** read and checked only when BUILD_TARGET names this target */
  settings: T;
  /** the setting without which triggers are a dry run */
  token: keyof T & string;
  /** the settings it cannot work without, beyond its token */
  required: (keyof T & string)[];
  /** settings that mean nothing one without the other: set both, or neither */
  together?: [keyof T & string, keyof T & string][];
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
