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

/** The answers every target treats alike: throttling and server trouble are worth a retry. */
export function transientRefusal(status: number, service: string): Refusal | undefined {
  if (status === 429) return { retry: true, reason: `${service} is throttling triggers (429)` };
  if (status >= 500) return { retry: true, reason: `${service} answered ${status}` };
  return undefined;
}
