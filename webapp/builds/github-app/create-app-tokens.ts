import { readJsonAnswer } from '../../http/read-json-answer';
import { readRateLimitWait } from '../../http/read-rate-limit-wait';
import type { KeyObject } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { z } from 'zod';
import { formatBytes, RequestError, sendRequest } from '../../http/send-request';
import { redact } from '../../secrets/redact';
import type { Clock } from '../../types';
import { appJwtLifetime, signAppJwt } from './sign-app-jwt';

export interface AppTokensDeps {
  /** GITHUB_APP_ID */
  appId: string;
  /** GITHUB_APP_PRIVATE_KEY, read by readAppKey */
  key: KeyObject;
  /** GitHub's REST API: https://api.github.com, or a GitHub Enterprise Server's /api/v3 */
  apiUrl: string;
  dispatcher: Dispatcher;
  clock: Pick<Clock, 'now'>;
  /** ms per request, from the first byte sent to the last byte of the answer read */
  timeout: number;
  /** aborts every request (shutdown): the call fails with kind 'aborted' */
  signal?: AbortSignal;
  log: Logger;
  /** most repositories whose installation is remembered (default 1000) */
  maxRepositories?: number;
}

export interface AppTokens {
  /**
   * An installation token that may act on `repository` (owner/name), good for renewBefore at
   * least. Fails with AppTokenError only.
   */
  tokenFor(repository: string): Promise<string>;
  /** GitHub answered 401 to `token`, used on `repository`: it is not given out again. */
  refused(repository: string, token: string): void;
  /**
   * Every installation token and JWT made that has not expired yet, for scrubbing text: one
   * renewed or refused may still be in a caller's hands, or still good.
   */
  secrets(): string[];
}

export type AppTokenErrorKind =
  | 'bad-repository'
  | 'not-installed'
  | 'unauthorized'
  | 'forbidden'
  | 'refused'
  | 'throttled'
  | 'unreachable'
  | 'server'
  | 'bad-answer'
  | 'aborted';

const passing: ReadonlySet<AppTokenErrorKind> = new Set(['throttled', 'unreachable', 'server']);

/** Why no installation token could be had; nothing secret in it. */
export class AppTokenError extends Error {
  readonly kind: AppTokenErrorKind;
  /** what went wrong, as one line for a log or a notification */
  readonly reason: string;
  /** the same call may succeed later: no answer, a 5xx or a rate limit */
  readonly retryable: boolean;
  readonly status?: number;
  /** ms GitHub asked to wait, when it did */
  readonly retryAfter?: number;

  constructor(
    kind: AppTokenErrorKind,
    reason: string,
    details: { status?: number; retryAfter?: number } = {},
  ) {
    super(reason);
    this.name = 'AppTokenError';
    this.kind = kind;
    this.reason = reason;
    this.retryable = passing.has(kind);
    if (details.status !== undefined) this.status = details.status;
    if (details.retryAfter !== undefined) this.retryAfter = details.retryAfter;
  }
}

/** ms: a token with less than this left is renewed before it is given out. */
export const renewBefore = 5 * 60_000;
/** An installation's and a token's answers are a few KiB. */
const answerLimit = 64 * 1024;
const repositoryPattern = /^[\w.-]+\/[\w.-]+$/;

const installationSchema = z.object({ id: z.number().int().positive() });
const tokenSchema = z.object({
  token: z.string().min(1),
  expires_at: z.string().refine((text) => !Number.isNaN(Date.parse(text)), 'not a date'),
});

type Answer = { status: number; headers: IncomingHttpHeaders; body: string };
type Secret = { value: string; expiresAt: number };

/**
 * A GitHub App's installation tokens, one per installation, made on demand: the installation
 * of each repository is looked up once, each token is kept until less than renewBefore of its
 * hour is left, and the App's JWT until shortly before it expires. Callers that ask at the same
 * time share one request:
 * https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-an-installation-access-token-for-a-github-app
 */
export function createAppTokens(deps: AppTokensDeps): AppTokens {
  const api = deps.apiUrl.replace(/\/+$/, '');
  const app = `the GitHub App ${deps.appId}`;
  const maxRepositories = deps.maxRepositories ?? 1000;
  // The JWT must still be good when GitHub reads it, however long the request takes.
  const jwtMargin = Math.max(60_000, deps.timeout);
  // Oldest first, so that the first key is the one to drop.
  const installations = new Map<string, number>();
  const finding = new Map<string, Promise<number>>();
  const tokens = new Map<number, { token: string; expiresAt: number }>();
  const making = new Map<number, Promise<string>>();
  let jwt: Secret | undefined;
  const made: Secret[] = [];

  const secrets = (): string[] => {
    const now = deps.clock.now();
    const live = made.filter((secret) => secret.expiresAt > now);
    made.splice(0, made.length, ...live);
    return live.map((secret) => secret.value);
  };
  const remember = (secret: Secret) => {
    made.push(secret);
    secrets();
  };
  const fail = (
    kind: AppTokenErrorKind,
    reason: string,
    details?: { status?: number; retryAfter?: number },
  ): AppTokenError => new AppTokenError(kind, redact(reason, secrets()), details);

  function appJwt(): string {
    const now = deps.clock.now();
    if (jwt === undefined || jwt.expiresAt - now < jwtMargin) {
      // signAppJwt counts in whole seconds: its exp is from the second `now` falls in.
      const expiresAt = Math.floor(now / 1000) * 1000 + appJwtLifetime;
      jwt = { value: signAppJwt(deps.appId, deps.key, now), expiresAt };
      remember(jwt);
    }
    return jwt.value;
  }

  /** GitHub's own words on a refusal (its JSON `message`), scrubbed, short and on one line. */
  function said(body: string): string {
    const message = (readJsonAnswer(body) as { message?: unknown } | undefined)?.message;
    if (typeof message !== 'string' || message.trim() === '') return '';
    // Scrubbed before it is cut: a secret cut in two would no longer be found.
    const line = redact(message, secrets()).replace(/\s+/g, ' ').trim();
    return `, "${line.length > 200 ? `${line.slice(0, 199)}…` : line}"`;
  }

  /** One request with the App's JWT; what no caller can act on is thrown here. */
  async function send(what: string, method: 'GET' | 'POST', path: string): Promise<Answer> {
    const aborted = () => fail('aborted', `${what}: stopped by shutdown`);
    let answer;
    try {
      answer = await sendRequest(
        `${api}${path}`,
        {
          method,
          headers: {
            authorization: `Bearer ${appJwt()}`,
            accept: 'application/vnd.github+json',
            'x-github-api-version': '2022-11-28',
            // GitHub refuses requests without one.
            'user-agent': 'dockerhub-trigger-propagate',
          },
          dispatcher: deps.dispatcher,
          keepBody: true,
        },
        {
          deadline: deps.timeout,
          maxBytes: answerLimit,
          ...(deps.signal === undefined ? {} : { signal: deps.signal }),
        },
      );
    } catch (err) {
      if (err instanceof RequestError && err.kind === 'aborted') throw aborted();
      throw fail('unreachable', `${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const { status, headers } = answer;
    if (answer.bodyProblem === 'aborted') throw aborted();
    if (answer.bodyProblem === 'too-large') {
      throw fail(
        'bad-answer',
        `${what}: the answer is larger than ${formatBytes(answerLimit)}, refused`,
        { status },
      );
    }
    if (answer.bodyProblem !== undefined) {
      const late = answer.bodyProblem === 'timeout';
      throw fail(
        'unreachable',
        `${what}: the answer's body ${late ? `did not arrive within ${deps.timeout} ms` : 'was cut off'}`,
        { status },
      );
    }
    const body = answer.body ?? '';
    // GitHub says a rate limit with 429, or with 403 and its headers or words; without a wait
    // named, it asks for a minute at least:
    // https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api#rate-limit-errors
    if (
      status === 429 ||
      (status === 403 &&
        (headers['retry-after'] !== undefined ||
          headers['x-ratelimit-remaining'] === '0' ||
          /rate limit/i.test(said(body))))
    ) {
      const retryAfter = readRateLimitWait(headers, deps.clock.now()) ?? 60_000;
      throw fail(
        'throttled',
        `${what}: rate limited (HTTP ${status}), GitHub asks to wait ${retryAfter} ms`,
        { status, retryAfter },
      );
    }
    if (status >= 500) throw fail('server', `${what}: GitHub answered HTTP ${status}`, { status });
    if (status === 401) {
      // A new JWT is signed next time, in case this one was refused for its times.
      jwt = undefined;
      throw fail(
        'unauthorized',
        `${what}: GitHub refused ${app}'s JWT (HTTP 401${said(body)}): GITHUB_APP_ID or GITHUB_APP_PRIVATE_KEY is wrong, the key was deleted from the App, or this machine's clock is off`,
        { status },
      );
    }
    return { status, headers, body };
  }

  async function lookUp(repository: string): Promise<number> {
    const [owner, name] = repository.split('/') as [string, string];
    const what = `finding ${app}'s installation on ${repository}`;
    const { status, body } = await send(
      what,
      'GET',
      `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}/installation`,
    );
    if (status === 404) {
      throw fail(
        'not-installed',
        `${app} is not installed on ${repository} (or that repository does not exist)`,
        { status },
      );
    }
    if (status === 403) {
      throw fail('forbidden', `${what}: GitHub refused (HTTP 403${said(body)})`, { status });
    }
    if (status !== 200) {
      throw fail('bad-answer', `${what}: unexpected HTTP ${status}${said(body)}`, { status });
    }
    const parsed = installationSchema.safeParse(readJsonAnswer(body));
    if (!parsed.success) {
      throw fail('bad-answer', `${what}: the answer names no installation id`, { status });
    }
    const installation = parsed.data.id;
    keep(installations, repository, installation);
    deps.log.debug(
      { repository, installation },
      `${app} is installed on ${repository} as installation ${installation}`,
    );
    return installation;
  }

  async function make(installation: number, repository: string): Promise<string> {
    const what = `making a token of ${app}'s installation ${installation} (for ${repository})`;
    const { status, body } = await send(
      what,
      'POST',
      `/app/installations/${installation}/access_tokens`,
    );
    if (status === 404) {
      throw fail('not-installed', `${app}'s installation ${installation} is gone (HTTP 404)`, {
        status,
      });
    }
    if (status === 403) {
      throw fail(
        'forbidden',
        `${what}: GitHub refused (HTTP 403${said(body)}): the installation may be suspended`,
        { status },
      );
    }
    if (status === 422) {
      throw fail('refused', `${what}: GitHub would not (HTTP 422${said(body)})`, { status });
    }
    if (status !== 201 && status !== 200) {
      throw fail('bad-answer', `${what}: unexpected HTTP ${status}${said(body)}`, { status });
    }
    const parsed = tokenSchema.safeParse(readJsonAnswer(body));
    if (!parsed.success) {
      throw fail('bad-answer', `${what}: the answer has no token and expires_at`, { status });
    }
    const { token } = parsed.data;
    const expiresAt = Date.parse(parsed.data.expires_at);
    keep(tokens, installation, { token, expiresAt });
    remember({ value: token, expiresAt });
    deps.log.debug(
      { repository, installation, expiresAt: new Date(expiresAt).toISOString() },
      `made a token of ${app}'s installation ${installation}`,
    );
    return token;
  }

  function installationOf(repository: string): Promise<number> {
    const known = installations.get(repository);
    if (known !== undefined) {
      keep(installations, repository, known);
      return Promise.resolve(known);
    }
    return shared(finding, repository, () => lookUp(repository));
  }

  function tokenOf(installation: number, repository: string): Promise<string> {
    const kept = tokens.get(installation);
    if (kept !== undefined && kept.expiresAt - deps.clock.now() >= renewBefore) {
      return Promise.resolve(kept.token);
    }
    return shared(making, installation, () => make(installation, repository));
  }

  /** A reinstalled App has a new installation: every repository of the old one is looked up again. */
  function forget(installation: number): void {
    tokens.delete(installation);
    for (const [repository, id] of installations) {
      if (id === installation) installations.delete(repository);
    }
  }

  /** Adds or refreshes `key` as the newest entry, dropping the oldest beyond maxRepositories. */
  function keep<K, V>(map: Map<K, V>, key: K, value: V): void {
    map.delete(key);
    map.set(key, value);
    for (const oldest of map.keys()) {
      if (map.size <= maxRepositories) break;
      map.delete(oldest);
    }
  }

  return {
    async tokenFor(repository) {
      if (!repositoryPattern.test(repository)) {
        throw fail('bad-repository', `${repository} is not a GitHub repository's owner/name`);
      }
      for (let again = false; ; again = true) {
        const installation = await installationOf(repository);
        try {
          return await tokenOf(installation, repository);
        } catch (err) {
          if (!again && err instanceof AppTokenError && err.kind === 'not-installed') {
            forget(installation);
            continue;
          }
          throw err;
        }
      }
    },

    refused(repository, token) {
      for (const [installation, kept] of tokens) {
        if (kept.token !== token) continue;
        tokens.delete(installation);
        deps.log.info(
          { repository, installation },
          `GitHub refused the token of ${app}'s installation ${installation}: a new one will be made`,
        );
      }
    },

    secrets,
  };
}

/** One promise per key while it is pending, so that callers at the same time share it. */
function shared<K, V>(pending: Map<K, Promise<V>>, key: K, start: () => Promise<V>): Promise<V> {
  const running = pending.get(key);
  if (running !== undefined) return running;
  const started = start().finally(() => pending.delete(key));
  pending.set(key, started);
  return started;
}
