import type { Logger } from 'pino';
import { request, type Dispatcher } from 'undici';
import { z } from 'zod';
import { nextRetryWait, sleepUnlessAborted } from '../process/next-retry-wait';

/** One tag as Docker Hub shows it. */
export interface RegistryTag {
  name: string;
  /** ms epoch, from tag_last_pushed, else last_updated */
  pushedAt: number;
  digest: string | undefined;
}

export interface HubApi {
  listTags(namespace: string, repository: string): Promise<RegistryTag[]>;
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
  /** ms per attempt: answer headers and body */
  timeout: number;
  /** ms: waits double from initialDelay up to maxDelay; no new attempt after giveUpAfter */
  retries: { initialDelay: number; maxDelay: number; giveUpAfter: number };
  log: Logger;
  /** most pages one listTags follows (default 20) */
  maxPages?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  random?: () => number;
}

export type HubApiErrorKind =
  'unreachable' | 'throttled' | 'unauthorized' | 'not-found' | 'bad-answer' | 'server';

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
  results: z.array(tagSchema),
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
  const sleep = deps.sleep ?? ((ms: number) => sleepUnlessAborted(ms));
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const maxPages = deps.maxPages ?? 20;
  const credentials =
    deps.user && deps.token ? { identifier: deps.user, secret: deps.token } : undefined;
  const secrets = new Set<string>(deps.token ? [deps.token] : []);
  let bearer: Promise<string> | undefined;

  const scrub = (text: string): string => {
    let out = text;
    for (const secret of secrets) out = out.split(secret).join('***');
    return out;
  };
  const fail = (kind: HubApiErrorKind, message: string, status?: number): HubApiError =>
    new HubApiError(kind, scrub(message), status);

  /** One request, retried while the failure may pass; any other answer is returned as is. */
  async function send(
    what: string,
    url: string,
    options: { method: 'GET' | 'POST'; headers: Record<string, string>; body?: string },
  ): Promise<Answer> {
    const started = now();
    for (let attempt = 1; ; attempt++) {
      let answer: Answer & { retryAfter?: number };
      let problem: { kind: HubApiErrorKind; reason: string; status?: number } | undefined;
      try {
        const response = await request(url, {
          ...options,
          dispatcher: deps.dispatcher,
          headersTimeout: deps.timeout,
          bodyTimeout: deps.timeout,
        });
        answer = { status: response.statusCode, body: await response.body.text() };
        if (response.statusCode === 429) {
          const wait = retryAfter(response.headers, now());
          problem = { kind: 'throttled', reason: 'HTTP 429 (rate limited)', status: 429 };
          if (wait !== undefined) answer.retryAfter = wait;
        } else if (response.statusCode >= 500) {
          problem = {
            kind: 'server',
            reason: `HTTP ${response.statusCode}`,
            status: response.statusCode,
          };
        }
      } catch (err) {
        answer = { status: 0, body: '' };
        problem = { kind: 'unreachable', reason: explain(err) };
      }
      if (problem === undefined) return answer;

      const wait = nextRetryWait(attempt, started, deps.retries, now, random, answer.retryAfter);
      const fields = { attempt, status: problem.status };
      if (wait === undefined) {
        const asked = answer.retryAfter;
        const hint = asked === undefined ? '' : `, Docker Hub asks to wait ${asked} ms`;
        const message = `${what} failed after ${attempt} attempt(s): ${problem.reason}${hint}`;
        // The caller says it once per outage; each look's own failure is detail.
        deps.log.debug(fields, scrub(message));
        throw fail(problem.kind, message, problem.status);
      }
      deps.log.debug(
        { ...fields, retryIn: wait },
        scrub(`${what} failed, retrying: ${problem.reason}`),
      );
      await sleep(wait);
    }
  }

  async function login(): Promise<string> {
    const answer = await send('login to Docker Hub', `${root}/v2/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(credentials),
    });
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
    const parsed = loginSchema.safeParse(parseJson(answer.body));
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
  async function get(what: string, url: string): Promise<Answer> {
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
      const answer = await send(what, url, { method: 'GET', headers });
      if (answer.status === 401 && cached && !renewed) {
        deps.log.info(`Docker Hub refused the cached login, logging in again`);
        bearer = undefined;
        continue;
      }
      return answer;
    }
  }

  function check(what: string, answer: Answer): unknown {
    if (answer.status === 200) return parseJson(answer.body);
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
      let url: string | null | undefined =
        `${repoPath(namespace, repository)}/tags?page_size=${PAGE_SIZE}`;
      for (let page = 1; url; page++) {
        if (page > maxPages) {
          throw fail('bad-answer', `${what}: more than ${maxPages} pages, stopped`);
        }
        const parsed = pageSchema.safeParse(check(what, await get(what, url)));
        if (!parsed.success) {
          throw fail('bad-answer', `${what}: malformed page ${page}: ${summary(parsed.error)}`);
        }
        tags.push(...parsed.data.results.map(toTag));
        url = parsed.data.next;
        if (url && !sameOrigin(url, base)) {
          throw fail('bad-answer', `${what}: the next page is on another site, not followed`);
        }
      }
      return tags;
    },

    async getTag(namespace, repository, tag) {
      const what = `reading ${namespace}/${repository}:${tag}`;
      const url = `${repoPath(namespace, repository)}/tags/${encodeURIComponent(tag)}`;
      const parsed = tagSchema.safeParse(check(what, await get(what, url)));
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

/** How long Docker Hub asks to wait, in ms: Retry-After (seconds or a date), else X-RateLimit-Reset. */
function retryAfter(headers: Record<string, unknown>, now: number): number | undefined {
  const header = (name: string): string | undefined => {
    const value = headers[name];
    return typeof value === 'string' ? value.trim() : undefined;
  };
  const after = header('retry-after');
  if (after !== undefined && /^\d+$/.test(after)) return Number(after) * 1000;
  if (after !== undefined && !Number.isNaN(Date.parse(after))) {
    return Math.max(0, Date.parse(after) - now);
  }
  const reset = header('x-ratelimit-reset');
  if (reset !== undefined && /^\d+$/.test(reset)) return Math.max(0, Number(reset) * 1000 - now);
  return undefined;
}

function sameOrigin(url: string, base: URL): boolean {
  try {
    return new URL(url).origin === base.origin;
  } catch {
    return false;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function summary(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join('.') || '(answer)'}: ${issue.message}`)
    .join('; ');
}

function explain(err: unknown): string {
  if (!(err instanceof Error)) return 'request failed';
  const code = (err as { code?: unknown }).code;
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${typeof code === 'string' ? `${code} ` : ''}${err.message}${cause}`;
}
