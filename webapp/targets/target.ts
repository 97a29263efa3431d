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
