import { readJsonAnswer } from '../http/read-json-answer';
import { readRateLimitWait } from '../http/read-rate-limit-wait';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { z } from 'zod';
import { redact } from '../secrets/redact';
import { formatBytes, RequestError, sendRequest } from '../http/send-request';
import { realClock } from '../timing/real-clock';
import { retry } from '../timing/retry';
import type { Clock } from '../types';

/** One tag as Docker Hub shows it. */
export interface RegistryTag {
  name: string;
  /** ms epoch, from tag_last_pushed, else last_updated */
  pushedAt: number;
  digest: string | undefined;
}

/** A tag of a listing that could not be read, and why: skipped, the rest is used. */
export interface SkippedTag {
  name: string | null;
  reason: string;
}

export interface HubApi {
  /** Every tag that could be read; one that cannot is skipped, never fails the whole list. */
  listTags(
    namespace: string,
    repository: string,
  ): Promise<{ tags: RegistryTag[]; skipped: SkippedTag[] }>;
  getTag(namespace: string, repository: string, tag: string): Promise<RegistryTag>;
}

export interface HubApiDeps {
  /** e.g. https://hub.docker.com */
  baseUrl: string;
  /** Docker ID; login happens only when both user and token are set */
  user?: string;
  /** personal access token */
  token?: string;
  dispatcher: Dispatcher;
  /** ms per attempt, from the first byte sent to the last byte of the answer read */
  timeout: number;
  /** aborts every request and wait (shutdown): the call fails with kind 'aborted' */
  signal?: AbortSignal;
  /** ms: waits double from initialDelay up to maxDelay; no new attempt after giveUpAfter (30 s at most) */
  retries: { initialDelay: number; maxDelay: number; giveUpAfter: number };
  log: Logger;
  /** most pages one listTags follows (default 20) */
  maxPages?: number;
  /** the real clock when left out */
  clock?: Pick<Clock, 'now' | 'sleep' | 'random'>;
}

export type HubApiErrorKind =
  | 'unreachable'
  | 'throttled'
  | 'unauthorized'
  | 'not-found'
  | 'bad-answer'
  | 'too-large'
  | 'server'
  | 'aborted';

/** Why a call to Docker Hub failed; its message never holds a secret. */
export class HubApiError extends Error {
  readonly kind: HubApiErrorKind;
  readonly status?: number;

  constructor(kind: HubApiErrorKind, message: string, status?: number) {
    super(message);
    this.name = 'HubApiError';
    this.kind = kind;
    if (status !== undefined) this.status = status;
  }
}

const PAGE_SIZE = 100;
/** A page of 100 tags is a few hundred KiB at most; anything much larger is not Docker Hub's. */
export const pageLimit = 4 * 1024 * 1024;
/**
 * ms: the longest one call retries. A read that fails is read again at the next look: retrying it
 * for as long as a trigger would only keep the outage unsaid.
 */
const longestRetry = 30_000;
/** The login's and one tag's answers are a few KiB. */
const smallAnswerLimit = 256 * 1024;

const timestamp = z
  .string()
  .refine((text) => !Number.isNaN(Date.parse(text)), 'not a date')
  .nullish();

const tagSchema = z
  .object({
    name: z.string().min(1),
    tag_last_pushed: timestamp,
    last_updated: timestamp,
    digest: z.string().nullish(),
  })
  .refine((tag) => tag.tag_last_pushed || tag.last_updated, 'no tag_last_pushed nor last_updated');

const pageSchema = z.object({
  next: z.string().nullish(),
  // Each tag is judged on its own: one bad record must not hide the others.
  results: z.array(z.unknown()),
});

const loginSchema = z.object({ access_token: z.string().min(1) });

type Answer = { status: number; body: string };

/**
 * A client of Docker Hub's tag API: pages through tag lists, logs in with a personal access token
 * when one is given (renewing it once on a 401), and retries network errors, timeouts, 5xx and
 * 429 within the retry budget. Fails with HubApiError only.
 */
export function createHubApi(deps: HubApiDeps): HubApi {
  const base = new URL(deps.baseUrl);
  const root = deps.baseUrl.replace(/\/+$/, '');
  const clock = deps.clock ?? realClock;
  const maxPages = deps.maxPages ?? 20;
  const retries = {
    ...deps.retries,
    giveUpAfter: Math.min(deps.retries.giveUpAfter, longestRetry),
  };
  const credentials =
    deps.user && deps.token ? { identifier: deps.user, secret: deps.token } : undefined;
  const secrets = new Set<string>(deps.token ? [deps.token] : []);
  let bearer: Promise<string> | undefined;
  // A wait Docker Hub asked for that outlasts one call's retries is kept by the calls after it.
  let throttledUntil = 0;

  const scrub = (text: string): string => redact(text, [...secrets]);
  const fail = (kind: HubApiErrorKind, message: string, status?: number): HubApiError =>
    new HubApiError(kind, scrub(message), status);

  /** One request, retried while the failure may pass; any other answer is returned as is. */
  async function send(
    what: string,
    url: string,
    options: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: string },
    maxBytes: number,
  ): Promise<Answer> {
    const aborted = () => fail('aborted', `${what}: stopped by shutdown`);
    if (clock.now() < throttledUntil) {
      const until = new Date(throttledUntil).toISOString();
      throw fail(
        'throttled',
        `${what}: Docker Hub asked to wait until ${until}, not asked again before then`,
        429,
      );
    }
    let problem: { kind: HubApiErrorKind; reason: string; status?: number } = {
      kind: 'unreachable',
      reason: 'no answer',
    };
    const result = await retry<Answer>(
      async () => {
        let response;
        try {
          response = await sendRequest(
            url,
            { ...options, dispatcher: deps.dispatcher, keepBody: true },
            {
              deadline: deps.timeout,
              maxBytes,
              ...(deps.signal === undefined ? {} : { signal: deps.signal }),
            },
          );
        } catch (err) {
          if (err instanceof RequestError && err.kind === 'aborted') throw aborted();
          problem = {
            kind: 'unreachable',
            reason: err instanceof Error ? err.message : String(err),
          };
          return { again: problem.reason };
        }
        if (response.bodyProblem === 'aborted') throw aborted();
        if (response.bodyProblem === 'too-large') {
          // The same answer would come again: refused now, looked at again at the next look.
          throw fail(
            'too-large',
            `${what}: the answer is larger than ${formatBytes(maxBytes)}, refused`,
            response.status,
          );
        }
        if (response.bodyProblem !== undefined) {
          const late = response.bodyProblem === 'timeout';
          problem = {
            kind: 'unreachable',
            reason: `the answer's body ${late ? `did not arrive within ${deps.timeout} ms` : 'was cut off'}`,
          };
          return { again: problem.reason };
        }
        if (response.status === 429) {
          problem = { kind: 'throttled', reason: 'HTTP 429 (rate limited)', status: 429 };
          const asked = readRateLimitWait(response.headers, clock.now());
          return { again: problem.reason, ...(asked === undefined ? {} : { wait: asked }) };
        }
        if (response.status >= 500) {
          problem = { kind: 'server', reason: `HTTP ${response.status}`, status: response.status };
          return { again: problem.reason };
        }
        return { done: { status: response.status, body: response.body ?? '' } };
      },
      {
        policy: retries,
        clock,
        ...(deps.signal === undefined ? {} : { signal: deps.signal }),
        onRetry: (attempt, wait, reason) =>
          deps.log.debug(
            { attempt, status: problem.status, retryIn: wait },
            scrub(`${what} failed, retrying: ${reason}`),
          ),
      },
    );
    if (result.kind === 'done') return result.value;
    if (result.kind === 'aborted') throw aborted();
    const { asked } = result;
    if (asked !== undefined) throttledUntil = Math.max(throttledUntil, clock.now() + asked);
    const hint = asked === undefined ? '' : `, Docker Hub asks to wait ${asked} ms`;
    const message = `${what} failed after ${result.attempts} attempt(s): ${problem.reason}${hint}`;
    // The caller says it once per outage; each look's own failure is detail.
    deps.log.debug({ attempt: result.attempts, status: problem.status }, scrub(message));
    throw fail(problem.kind, message, problem.status);
  }

  async function login(): Promise<string> {
    const answer = await send(
      'login to Docker Hub',
      `${root}/v2/auth/token`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(credentials),
      },
      smallAnswerLimit,
    );
    const user = credentials?.identifier ?? '';
    if (answer.status === 401 || answer.status === 403) {
      throw fail(
        'unauthorized',
        `Docker Hub refused the login of ${user} (HTTP ${answer.status}): check the user and its access token`,
        answer.status,
      );
    }
    if (answer.status < 200 || answer.status >= 300) {
      throw fail('bad-answer', `login to Docker Hub answered HTTP ${answer.status}`, answer.status);
    }
    const parsed = loginSchema.safeParse(readJsonAnswer(answer.body));
    if (!parsed.success) {
      throw fail(
        'bad-answer',
        'login to Docker Hub answered without an access_token',
        answer.status,
      );
    }
    secrets.add(parsed.data.access_token);
    deps.log.debug({ user }, `logged in to Docker Hub as ${user}`);
    return parsed.data.access_token;
  }

  /** A GET with the bearer when logging in; logs in again once when a cached bearer is refused. */
  async function get(what: string, url: string, maxBytes: number): Promise<Answer> {
    for (let renewed = false; ; renewed = true) {
      const headers: Record<string, string> = { accept: 'application/json' };
      let cached = false;
      if (credentials !== undefined) {
        cached = bearer !== undefined;
        bearer ??= login();
        const current = bearer;
        try {
          headers.authorization = `Bearer ${await current}`;
        } catch (err) {
          if (bearer === current) bearer = undefined;
          throw err;
        }
      }
      const answer = await send(what, url, { method: 'GET', headers }, maxBytes);
      if (answer.status === 401 && cached && !renewed) {
        deps.log.info(`Docker Hub refused the cached login, logging in again`);
        bearer = undefined;
        continue;
      }
      return answer;
    }
  }

  function check(what: string, answer: Answer): unknown {
    if (answer.status === 200) return readJsonAnswer(answer.body);
    if (answer.status === 401 || answer.status === 403) {
      const why = credentials
        ? `the login of ${credentials.identifier} may not read it`
        : 'a private repository needs a user and access token';
      throw fail('unauthorized', `${what}: HTTP ${answer.status}, ${why}`, answer.status);
    }
    if (answer.status === 404) {
      throw fail('not-found', `${what}: no such repository or tag (HTTP 404)`, 404);
    }
    throw fail('bad-answer', `${what}: unexpected HTTP ${answer.status}`, answer.status);
  }

  function repoPath(namespace: string, repository: string): string {
    return `${root}/v2/namespaces/${encodeURIComponent(namespace)}/repositories/${encodeURIComponent(repository)}`;
  }

  return {
    async listTags(namespace, repository) {
      const what = `listing the tags of ${namespace}/${repository}`;
      const tags: RegistryTag[] = [];
      const skipped: SkippedTag[] = [];
      let url: string | null | undefined =
        `${repoPath(namespace, repository)}/tags?page_size=${PAGE_SIZE}`;
      for (let page = 1; url; page++) {
        if (page > maxPages) {
          throw fail('bad-answer', `${what}: more than ${maxPages} pages, stopped`);
        }
        const parsed = pageSchema.safeParse(check(what, await get(what, url, pageLimit)));
        if (!parsed.success) {
          throw fail('bad-answer', `${what}: malformed page ${page}: ${summary(parsed.error)}`);
        }
        for (const result of parsed.data.results) {
          const tag = tagSchema.safeParse(result);
          if (tag.success) tags.push(toTag(tag.data));
          else skipped.push({ name: nameOf(result), reason: scrub(summary(tag.error)) });
        }
        url = parsed.data.next;
        if (url && !sameOrigin(url, base)) {
          throw fail('bad-answer', `${what}: the next page is on another site, not followed`);
        }
      }
      return { tags, skipped };
    },

    async getTag(namespace, repository, tag) {
      const what = `reading ${namespace}/${repository}:${tag}`;
      const url = `${repoPath(namespace, repository)}/tags/${encodeURIComponent(tag)}`;
      const parsed = tagSchema.safeParse(check(what, await get(what, url, smallAnswerLimit)));
      if (!parsed.success) {
        throw fail('bad-answer', `${what}: malformed answer: ${summary(parsed.error)}`);
      }
      return toTag(parsed.data);
    },
  };
}

function toTag(tag: z.infer<typeof tagSchema>): RegistryTag {
  return {
    name: tag.name,
    pushedAt: Date.parse((tag.tag_last_pushed || tag.last_updated) as string),
    digest: tag.digest ?? undefined,
  };
}

function sameOrigin(url: string, base: URL): boolean {
  try {
    return new URL(url).origin === base.origin;
  } catch {
    return false;
  }
}

function summary(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || '(answer)'}: ${issue.message}`)
    .join('; ');
}

/** A skipped record's name, when it has one that can be shown. */
function nameOf(record: unknown): string | null {
  const name = (record as { name?: unknown } | null)?.name;
  return typeof name === 'string' && /^[\w][\w.-]{0,127}$/.test(name) ? name : null;
}
