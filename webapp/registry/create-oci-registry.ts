import { readJsonAnswer } from '../http/read-json-answer';
import { isIPv4, isIPv6 } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { z } from 'zod';
import { readRetryAfter } from '../http/read-retry-after';
import { formatBytes, RequestError, sendRequest } from '../http/send-request';
import { redact } from '../secrets/redact';
import { realClock } from '../timing/real-clock';
import { retry } from '../timing/retry';
import type { Clock } from '../types';
import type { HubApiErrorKind } from './create-hub-api';
import { parseChallenge } from './parse-challenge';
import {
  dockerHubHosts,
  registryCredentialNames,
  type RegistryCredentials,
} from './read-registry-credentials';

/** One tag of one repository of an OCI Distribution registry. */
export interface RegistryImage {
  /** host[:port]; docker.io is Docker Hub */
  registry: string;
  /** the repository's path, e.g. acme/svc or team/group/svc */
  name: string;
  tag: string;
}

export interface OciRegistry {
  /** The digest the registry names for the tag: an index's for a multi-platform image. */
  readDigest(image: RegistryImage): Promise<string>;
}

export interface OciRegistryDeps {
  dispatcher: Dispatcher;
  /** ms per request, from the first byte sent to the last byte of the answer read */
  timeout: number;
  /** aborts every request and wait (shutdown): the call fails with kind 'aborted' */
  signal?: AbortSignal;
  log: Logger;
  /** the real clock when left out */
  clock?: Pick<Clock, 'now' | 'sleep' | 'random'>;
  /** a registry host's login, undefined for anonymous reads; may throw for a half-set login */
  credentialsFor: (host: string) => RegistryCredentials | undefined;
  /** ms: waits double from initialDelay up to maxDelay; no new attempt after giveUpAfter (30 s at most) */
  retries: { initialDelay: number; maxDelay: number; giveUpAfter: number };
}

/** The same kinds as HubApiError's, so that a caller judges both alike. */
export type RegistryErrorKind = HubApiErrorKind;

/** Why a registry read failed; its message names the image and never holds a secret. */
export class RegistryError extends Error {
  readonly kind: RegistryErrorKind;
  readonly status?: number;

  constructor(kind: RegistryErrorKind, message: string, status?: number) {
    super(message);
    this.name = 'RegistryError';
    this.kind = kind;
    if (status !== undefined) this.status = status;
  }
}

// Each kind a tag may point at: a multi-platform index or list, or a single image's manifest.
const manifestTypes = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** Docker Hub's registry, whatever name the image gives it. */
const dockerHubEndpoint = 'registry-1.docker.io';
/** A token service's answer is a token and a few fields: a few KiB. */
const tokenAnswerLimit = 64 * 1024;
/** ms: the longest one read retries; a read that fails is read again at the next look. */
const longestRetry = 30_000;
// A token lives 60 s when its answer does not say:
// https://distribution.github.io/distribution/spec/auth/token/#token-response-fields
const defaultTokenLife = 60_000;
/** ms before a token's end at which it is no longer sent: a request may take that long. */
const tokenMargin = 10_000;
const mostTokens = 256;

// The grammar of a repository's name and of a tag:
// https://github.com/opencontainers/distribution-spec/blob/main/spec.md#pulling-manifests
const NAME = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
// A digest's grammar: https://github.com/opencontainers/image-spec/blob/main/descriptor.md#digests
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const HEX_DIGESTS: Record<string, number> = { sha256: 64, sha512: 128 };

const tokenSchema = z
  .object({
    token: z.string().min(1).nullish(),
    access_token: z.string().min(1).nullish(),
    // A lifetime that cannot be read is the default one, not a reason to refuse the token.
    expires_in: z.number().positive().finite().nullish().catch(undefined),
  })
  .refine((answer) => answer.token ?? answer.access_token, 'no token nor access_token');

interface Target {
  /** the registry as its variables and messages name it: docker.io for Docker Hub */
  registry: string;
  /** where the requests go: host[:port] */
  endpoint: string;
  url: string;
  /** registry/name:tag */
  display: string;
  /** the scope a pull of this repository asks for */
  scope: string;
}

type Auth =
  | { kind: 'none' }
  | { kind: 'basic'; header: string }
  /** `withLogin`: the token was given for the host's login, not to anyone */
  | { kind: 'bearer'; token: string; key: string; withLogin: boolean };

type Answer = { status: number; headers: IncomingHttpHeaders; body: string };

/**
 * Reads tags' digests from any OCI Distribution registry (GHCR, Quay, Docker Hub's, a
 * self-hosted one) with one HEAD of the manifest each: a HEAD is not a pull, so Docker Hub's
 * pull limit is not spent. Answers a 401's challenge with a token (cached per host and scope) or
 * a password, retries network errors, timeouts, 5xx and 429 within the retry budget, and speaks
 * plain HTTP only to loopback hosts, as Docker does. Fails with RegistryError only.
 */
/** Tokens given out that are still scrubbed from messages once they are no longer kept. */
const lastTokensKept = 8;
/** ms: the longest wait a registry's Retry-After is kept for; a longer one is a mistake. */
const longestThrottle = 3600_000;

export function createOciRegistry(deps: OciRegistryDeps): OciRegistry {
  const clock = deps.clock ?? realClock;
  const retries = {
    ...deps.retries,
    giveUpAfter: Math.min(deps.retries.giveUpAfter, longestRetry),
  };
  const secrets = new Set<string>();
  const tokens = new Map<string, { token: string; until: number; withLogin: boolean }>();
  /** hosts that asked for a password: later reads send it at once */
  const basicHosts = new Set<string>();
  // A wait a host asked for that outlasts one read's retries is kept by the reads after it.
  const throttledUntil = new Map<string, number>();

  // Tokens last a minute or so: the ones kept, and the last few given out, are all that may
  // still be in a request or its error.
  const lastTokens: string[] = [];
  const scrub = (text: string): string =>
    redact(text, [...secrets, ...lastTokens, ...[...tokens.values()].map((entry) => entry.token)]);
  const fail = (kind: RegistryErrorKind, message: string, status?: number): RegistryError =>
    new RegistryError(kind, scrub(message), status);

  function credentialsOf(target: Target): RegistryCredentials | undefined {
    let found: RegistryCredentials | undefined;
    try {
      found = deps.credentialsFor(target.registry);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      throw fail('unauthorized', `reading ${target.display}: ${why}`);
    }
    if (found !== undefined) {
      secrets.add(found.password);
      secrets.add(basic(found));
    }
    return found;
  }

  /** One request, retried while the failure may pass; any other answer is returned as is. */
  async function send(
    what: string,
    url: string,
    method: 'GET' | 'HEAD',
    headers: Record<string, string>,
  ): Promise<Answer> {
    const host = new URL(url).host;
    const aborted = () => fail('aborted', `${what}: stopped by shutdown`);
    const until = throttledUntil.get(host) ?? 0;
    if (clock.now() < until) {
      const when = new Date(until).toISOString();
      throw fail(
        'throttled',
        `${what}: ${host} asked to wait until ${when}, not asked again before then`,
        429,
      );
    }
    // A HEAD's Content-Length is the size of the manifest a GET would send; no body comes.
    const maxBytes = method === 'HEAD' ? Number.MAX_SAFE_INTEGER : tokenAnswerLimit;
    let problem: { kind: RegistryErrorKind; reason: string; status?: number } = {
      kind: 'unreachable',
      reason: 'no answer',
    };
    const result = await retry<Answer>(
      async () => {
        let response;
        try {
          response = await sendRequest(
            url,
            { method, headers, dispatcher: deps.dispatcher, keepBody: method === 'GET' },
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
        if (response.status === 429 || response.status >= 500) {
          problem =
            response.status === 429
              ? { kind: 'throttled', reason: 'HTTP 429 (rate limited)', status: 429 }
              : { kind: 'server', reason: `HTTP ${response.status}`, status: response.status };
          const asked = readRetryAfter(response.headers, clock.now());
          return { again: problem.reason, ...(asked === undefined ? {} : { wait: asked }) };
        }
        if (response.bodyProblem === 'too-large') {
          // The same answer would come again: refused now, read again at the next look.
          throw fail(
            'too-large',
            `${what}: the answer is larger than ${formatBytes(maxBytes)}, refused`,
            response.status,
          );
        }
        if (response.bodyProblem !== undefined && method === 'GET') {
          const late = response.bodyProblem === 'timeout';
          problem = {
            kind: 'unreachable',
            reason: `the answer's body ${late ? `did not arrive within ${deps.timeout} ms` : 'was cut off'}`,
          };
          return { again: problem.reason };
        }
        return {
          done: { status: response.status, headers: response.headers, body: response.body ?? '' },
        };
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
    if (asked !== undefined) {
      throttledUntil.set(host, Math.max(until, clock.now() + Math.min(asked, longestThrottle)));
    }
    const hint = asked === undefined ? '' : `, ${host} asks to wait ${asked} ms`;
    const message = `${what} failed after ${result.attempts} attempt(s): ${problem.reason}${hint}`;
    deps.log.debug({ attempt: result.attempts, status: problem.status }, scrub(message));
    throw fail(problem.kind, message, problem.status);
  }

  function cachedToken(key: string): Auth | undefined {
    const entry = tokens.get(key);
    if (entry === undefined) return undefined;
    if (clock.now() < entry.until) return { kind: 'bearer', key, ...entry };
    tokens.delete(key);
    return undefined;
  }

  function keepToken(key: string, token: string, life: number, withLogin: boolean): void {
    const now = clock.now();
    for (const [other, entry] of tokens) if (entry.until <= now) tokens.delete(other);
    tokens.delete(key);
    // The oldest goes first: a Map keeps the order of insertion.
    while (tokens.size >= mostTokens) tokens.delete(tokens.keys().next().value as string);
    tokens.set(key, { token, withLogin, until: now + life - Math.min(tokenMargin, life / 2) });
  }

  /** A token for `scope` from the realm a challenge named, with the host's login if it has one. */
  async function fetchToken(
    target: Target,
    challenge: { realm: string; service?: string; scope?: string },
  ): Promise<Auth> {
    const what = `reading ${target.display}: asking ${describeRealm(challenge.realm)} for a token`;
    let realm: URL;
    try {
      realm = new URL(challenge.realm);
    } catch {
      throw fail('bad-answer', `${what}: the realm is not a URL`, 401);
    }
    const safe =
      realm.protocol === 'https:' || (realm.protocol === 'http:' && isLoopback(realm.hostname));
    if (!safe) {
      throw fail(
        'bad-answer',
        `${what}: the token service is not HTTPS and not on this machine, refused: no login goes there`,
        401,
      );
    }
    const scope = challenge.scope ?? target.scope;
    if (challenge.service !== undefined) realm.searchParams.append('service', challenge.service);
    // Several scopes are one space-separated value in a challenge, one parameter each here.
    for (const one of scope.split(' ').filter((part) => part !== '')) {
      realm.searchParams.append('scope', one);
    }
    const login = credentialsOf(target);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (login !== undefined) headers.authorization = basic(login);
    const answer = await send(what, realm.href, 'GET', headers);
    if (answer.status === 401 || answer.status === 403) {
      throw fail(
        'unauthorized',
        `${what}: HTTP ${answer.status}, ${refusal(target, login !== undefined)}`,
        answer.status,
      );
    }
    if (answer.status !== 200) {
      throw fail('bad-answer', `${what}: unexpected HTTP ${answer.status}`, answer.status);
    }
    const parsed = tokenSchema.safeParse(readJsonAnswer(answer.body));
    if (!parsed.success) {
      throw fail('bad-answer', `${what}: the answer holds no token`, answer.status);
    }
    const token = (parsed.data.token ?? parsed.data.access_token) as string;
    lastTokens.push(token);
    if (lastTokens.length > lastTokensKept) lastTokens.shift();
    // issued_at is left aside: this machine's clock and the service's may differ.
    const life = parsed.data.expires_in ? parsed.data.expires_in * 1000 : defaultTokenLife;
    const key = `${target.endpoint} ${scope}`;
    const withLogin = login !== undefined;
    keepToken(key, token, life, withLogin);
    deps.log.debug({ registry: target.registry, scope }, `got a token for ${target.display}`);
    return { kind: 'bearer', token, key, withLogin };
  }

  /** What to send after a 401: a token or a password, or why none can be. */
  async function answerChallenge(target: Target, answer: Answer, sent: Auth): Promise<Auth> {
    const challenge = parseChallenge(answer.headers['www-authenticate']);
    if (challenge?.scheme === 'bearer') {
      if (sent.kind === 'bearer') {
        tokens.delete(sent.key);
        deps.log.info(
          { registry: target.registry },
          `${target.registry} refused a cached token for ${target.display}, asking for a new one`,
        );
      }
      const key = `${target.endpoint} ${challenge.scope ?? target.scope}`;
      const cached = cachedToken(key);
      if (cached?.kind === 'bearer' && (sent.kind !== 'bearer' || cached.token !== sent.token)) {
        return cached;
      }
      return fetchToken(target, challenge);
    }
    if (challenge?.scheme === 'basic' && sent.kind === 'none') {
      const login = credentialsOf(target);
      if (login === undefined) {
        throw fail(
          'unauthorized',
          `reading ${target.display}: HTTP 401, the registry asks for a password: ${needsLogin(target)}`,
          401,
        );
      }
      basicHosts.add(target.endpoint);
      return { kind: 'basic', header: basic(login) };
    }
    throw fail(
      'unauthorized',
      `reading ${target.display}: HTTP 401, ${refusal(target, usedLogin(sent))}`,
      401,
    );
  }

  /** What the first HEAD sends: a token still fresh, a password the host asked for, or nothing. */
  function firstAuth(target: Target): Auth {
    const cached = cachedToken(`${target.endpoint} ${target.scope}`);
    if (cached !== undefined) return cached;
    if (basicHosts.has(target.endpoint)) {
      const login = credentialsOf(target);
      if (login !== undefined) return { kind: 'basic', header: basic(login) };
    }
    return { kind: 'none' };
  }

  function head(target: Target, auth: Auth): Promise<Answer> {
    const headers: Record<string, string> = { accept: manifestTypes };
    if (auth.kind === 'basic') headers.authorization = auth.header;
    if (auth.kind === 'bearer') headers.authorization = `Bearer ${auth.token}`;
    return send(`reading ${target.display}`, target.url, 'HEAD', headers);
  }

  function judge(target: Target, answer: Answer, sent: Auth): string {
    const what = `reading ${target.display}`;
    if (answer.status === 200) return readDigestHeader(what, answer);
    if (answer.status === 401 || answer.status === 403) {
      // A token refused even fresh is not tried first again: the next read starts anew.
      if (sent.kind === 'bearer') tokens.delete(sent.key);
      throw fail(
        'unauthorized',
        `${what}: HTTP ${answer.status}, ${refusal(target, usedLogin(sent))}`,
        answer.status,
      );
    }
    if (answer.status === 404) {
      throw fail('not-found', `${what}: no such repository or tag (HTTP 404)`, 404);
    }
    throw fail('bad-answer', `${what}: unexpected HTTP ${answer.status}`, answer.status);
  }

  function readDigestHeader(what: string, answer: Answer): string {
    const header = answer.headers['docker-content-digest'];
    const values = [
      ...new Set(Array.isArray(header) ? header : header === undefined ? [] : [header]),
    ];
    const digest = values.length === 1 ? (values[0] as string).trim() : undefined;
    if (digest === undefined) {
      throw fail(
        'bad-answer',
        `${what}: HTTP 200 without ${values.length === 0 ? 'a' : 'a single'} Docker-Content-Digest header, so no digest to read`,
        200,
      );
    }
    if (!isDigest(digest)) {
      throw fail('bad-answer', `${what}: '${digest.slice(0, 80)}' is not a digest`, 200);
    }
    return digest;
  }

  return {
    async readDigest(image) {
      const target = locate(image, fail);
      let sent = firstAuth(target);
      let answer = await head(target, sent);
      if (answer.status === 401) {
        sent = await answerChallenge(target, answer, sent);
        answer = await head(target, sent);
      }
      return judge(target, answer, sent);
    },
  };
}

/** Where an image's manifest is, or a not-found for a name no registry can hold. */
function locate(
  image: RegistryImage,
  fail: (kind: RegistryErrorKind, message: string) => RegistryError,
): Target {
  const given = image.registry.trim().toLowerCase();
  const hub = dockerHubHosts.includes(given);
  const registry = hub ? (dockerHubHosts[0] as string) : given;
  const name = hub && !image.name.includes('/') ? `library/${image.name}` : image.name;
  const display = `${registry}/${name}:${image.tag}`;
  const host = hub ? { hostname: dockerHubEndpoint, port: '' } : splitHost(registry);
  if (host === undefined) {
    throw fail('not-found', `reading ${display}: '${image.registry}' is not a registry host`);
  }
  if (!NAME.test(name)) {
    throw fail('not-found', `reading ${display}: '${name}' is not a repository name`);
  }
  if (!TAG.test(image.tag)) {
    throw fail('not-found', `reading ${display}: '${image.tag}' is not a tag`);
  }
  const endpoint = host.port === '' ? host.hostname : `${host.hostname}:${host.port}`;
  const scheme = isLoopback(host.hostname) ? 'http' : 'https';
  return {
    registry,
    endpoint,
    url: `${scheme}://${endpoint}/v2/${name}/manifests/${image.tag}`,
    display,
    scope: `repository:${name}:pull`,
  };
}

/** host[:port] split, the host a DNS name, an IPv4 address or a bracketed IPv6 one. */
function splitHost(text: string): { hostname: string; port: string } | undefined {
  const match = /^(\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)(?::(\d{1,5}))?$/.exec(text);
  if (match === null) return undefined;
  const hostname = match[1] as string;
  const port = match[2] ?? '';
  if (hostname.startsWith('[') && !isIPv6(hostname.slice(1, -1))) return undefined;
  if (port !== '' && (Number(port) < 1 || Number(port) > 65535)) return undefined;
  return { hostname, port };
}

// Docker itself speaks plain HTTP to these only, unless told otherwise:
// https://docs.docker.com/reference/api/engine/version/v1.57/schemas/RegistryServiceConfig/
function isLoopback(hostname: string): boolean {
  if (hostname === 'localhost') return true;
  if (isIPv4(hostname)) return hostname.startsWith('127.');
  if (hostname.startsWith('[') && isIPv6(hostname.slice(1, -1))) {
    return new URL(`http://${hostname}/`).hostname === '[::1]';
  }
  return false;
}

function isDigest(text: string): boolean {
  if (text.length > 256 || !DIGEST.test(text)) return false;
  const [algorithm, encoded] = text.split(':') as [string, string];
  const length = HEX_DIGESTS[algorithm];
  return length === undefined || new RegExp(`^[a-f0-9]{${length}}$`).test(encoded);
}

function basic(login: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${login.user}:${login.password}`).toString('base64')}`;
}

/** A realm for messages: its origin and path, never its query. */
function describeRealm(realm: string): string {
  try {
    const url = new URL(realm);
    return `${url.origin}${url.pathname}`;
  } catch {
    return 'the token service';
  }
}

function needsLogin(target: Target): string {
  const names = registryCredentialNames(target.registry);
  return `a private image needs ${names.user} and ${names.password}`;
}

/** Why a refusal may have come, and which variables hold the login that would change it. */
function refusal(target: Target, withLogin: boolean): string {
  const names = registryCredentialNames(target.registry);
  return withLogin
    ? `the login of ${names.user} may not read it (or it does not exist)`
    : `the registry refused an anonymous read: the image is private or does not exist; ${needsLogin(target)}`;
}

function usedLogin(sent: Auth): boolean {
  return sent.kind === 'basic' || (sent.kind === 'bearer' && sent.withLogin);
}
