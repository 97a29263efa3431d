import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type HookHandlerDoneFunction,
} from 'fastify';
import type { Config } from '../config';
import type { Clock } from '../types';
import type { Logger } from '../logging/create-logger';
import { judgeCredentials, type Verdict } from './check-credentials';
import { createPageGuard } from './create-page-guard';
import type { Decision } from '../chain/create-propagator';
import { createDeliveryParser } from './parse-delivery';
import type { StatusView } from './build-status-view';
import { renderStatusPage } from './render-status-page';
import { parseForm } from './parse-form';
import { renderTokenPage, type TokenPageReason } from './render-token-page';
import { isOnDockerHub } from '../chain/parse-image-ref';
import {
  addGitHubRoute,
  githubBodyLimit,
  githubRoute,
  type GitHubRouteDeps,
} from './add-github-route';

/** A delivery kept for the dyno that plans, which acts on it. */
export interface KeptDelivery {
  kind: 'kept';
  description: string;
}

export interface ServerDeps {
  config: Config;
  log: Logger;
  /**
   * acts on a push's delivery: the planner's decision, or `kept` when another dyno plans and
   * the delivery is kept for it
   */
  acceptPush: (tag: string, pushedAt: string | undefined) => Decision | KeptDelivery;
  /** what GET /status answers, and the page at GET / shows: never a secret */
  status: () => StatusView;
  /** the time, for the page's "in 2 min" and "3 h ago" */
  clock: Pick<Clock, 'now'>;
  /** ms a whole request may take, body included, before it is answered 408 and closed */
  requestTimeout?: number;
  /** acts on a verified GitHub delivery; left out, POST /github acts on nothing */
  deliverGitHub?: GitHubRouteDeps['deliver'];
}

/** Docker Hub sends a few KiB at once; a request still arriving after this is not a delivery. */
const defaultRequestTimeout = 20_000;

// Compiled once by fastify into a serializer, faster than JSON.stringify per answer.
const successSchema = {
  type: 'object',
  properties: {
    state: { type: 'string' },
    description: { type: 'string' },
    prev_tag: { type: 'string' },
    next_tag: { type: ['string', 'null'] },
    next: { type: 'array', items: { type: 'string' } },
    waiting: { type: 'array', items: { type: 'string' } },
    duplicate: { type: 'boolean' },
    kept: { type: 'boolean' },
  },
  required: ['state', 'description', 'prev_tag', 'next_tag'],
} as const;

/** The page has no script, loads nothing, and may be framed by nobody. */
const pagePolicy =
  "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/** Docker Hub's payloads are a few KiB; this leaves plenty of room and no more. */
const bodyLimit = 64 * 1024;

/** The token page's form holds one field of at most 256 characters, percent-encoded. */
const formLimit = 2 * 1024;

const statusOf: Record<string, number> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 413,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 415,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 400,
  FST_ERR_CTP_EMPTY_JSON_BODY: 400,
  FST_ERR_CTP_INVALID_JSON_BODY: 400,
};

const describe = (err: FastifyError, form: boolean, limit = bodyLimit): string => {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return `the body is larger than ${form ? formLimit : limit} bytes`;
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return form
        ? 'the form must be sent as application/x-www-form-urlencoded'
        : 'the body must be JSON (content-type: application/json)';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'the body is empty';
    default:
      // JSON.parse and secure-json-parse say what is wrong without quoting the body.
      return err instanceof SyntaxError ? `the body is not valid JSON` : err.message;
  }
};

/** The web process's HTTP server, not yet listening. */
export function buildServer(deps: ServerDeps): FastifyInstance {
  const { config } = deps;
  const log = deps.log.child({ unit: 'webhook' });
  const route = config.propagationRoute;
  const graphAnswers = config.graph.file !== null;
  const parse = createDeliveryParser({
    hubUrl: config.hubUrl,
    // Docker Hub's webhooks announce only images on Docker Hub.
    nodes: config.graph.nodes
      .filter((node) => isOnDockerHub(node.image))
      .map((node) => ({
        id: node.id,
        namespace: node.image.namespace,
        repository: node.image.repository,
        tag: node.image.tag,
      })),
    graphName: config.graph.file,
    callbackRequired: config.webhookSecrets.length === 0,
  });
  // The page and /status ask for the webhook's secret too: they tell when builds run.
  const guard = createPageGuard(config.webhookSecrets);
  const webhookForms = `send the secret as the password of Basic credentials (https://hook:<secret>@<host>${route}) or as ?token=<secret>`;

  const requestTimeout = deps.requestTimeout ?? defaultRequestTimeout;
  const app = Fastify({
    // No logger for fastify: its per-request child loggers cost a quarter of the throughput,
    // and the handlers below write the one line per delivery themselves.
    bodyLimit,
    return503OnClosing: true,
    forceCloseConnections: true,
    // Node checks for requests past their time every connectionsCheckingInterval (30 s unless
    // told): https://nodejs.org/api/http.html#httpcreateserveroptions-requestlistener
    requestTimeout,
    http: {
      requestTimeout,
      headersTimeout: requestTimeout,
      connectionsCheckingInterval: Math.min(1000, requestTimeout),
    },
  });
  // Only JSON is a delivery; anything else is a 415, not a string handed to the validator.
  app.removeContentTypeParser('text/plain');
  // fastify's own JSON parser calls a __proto__ key "not valid JSON": this one says what it is.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    try {
      done(null, parseJson(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  const reject = (reply: FastifyReply, status: number, description: string) => {
    log.warn({ status, reason: description }, 'delivery rejected');
    return reply.code(status).send({ state: 'error', description });
  };

  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = statusOf[err.code] ?? err.statusCode ?? 500;
    if (status >= 500) {
      log.error({ err }, 'request failed');
      return reply.code(500).send({ state: 'error', description: 'internal error' });
    }
    if (request.routeOptions.url !== route) {
      const form = request.routeOptions.url === '/' && request.method === 'POST';
      const limit = request.routeOptions.url === githubRoute ? githubBodyLimit : bodyLimit;
      return reply.code(status).send({ state: 'error', description: describe(err, form, limit) });
    }
    return reject(reply, status, describe(err, false));
  });

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({
      state: 'error',
      description: `no route ${request.method} ${withoutQuery(request.url)}`,
    }),
  );

  app.post(route, {
    // Checked before the body is read: a request without the secret costs nothing more. The
    // hooks and the handler take callbacks, not promises: each promise adds a microtask turn.
    onRequest: [
      ...(guard.open
        ? []
        : [
            (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
              const verdict = judgeCredentials(
                {
                  query: (request.query as Record<string, unknown>).token,
                  authorization: request.headers.authorization,
                  schemes: ['basic'],
                },
                guard.match,
              );
              if (verdict.kind !== 'right') {
                reject(reply, 403, `${refusal(verdict, 'the secret')}: ${webhookForms}`);
                return;
              }
              done();
            },
          ]),
      (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => {
        const problem = encodingProblem(request);
        if (problem === undefined) done();
        else reject(reply, 415, problem);
      },
    ],
    schema: { response: { 200: successSchema } },
    handler: (request, reply) => {
      const parsed = parse(request.body);
      if (!parsed.ok) {
        reject(reply, parsed.status, parsed.description);
        return;
      }
      const { tag, pushedAt } = parsed.delivery;
      const decision = deps.acceptPush(tag, pushedAt);
      if (decision.kind === 'kept') {
        log.info({ tag, pushedAt, decision: 'kept' }, decision.description);
        reply.send({
          state: 'success',
          description: decision.description,
          prev_tag: tag,
          next_tag: null,
          kept: true,
        });
        return;
      }
      const duplicate =
        decision.kind === 'duplicate' || (decision.kind === 'last' && decision.duplicate);
      const description = describeDecision(tag, decision, deps.clock.now(), graphAnswers);
      // Repeats of one push are expected (several webhooks per push): keep them out of the info log.
      log[duplicate ? 'debug' : 'info'](
        {
          tag,
          pushedAt,
          decision: decision.kind,
          next: decision.next.length === 1 ? decision.next[0] : decision.next,
          ...(decision.dueAt === undefined
            ? {}
            : { dueAt: new Date(decision.dueAt).toISOString() }),
          duplicate,
        },
        description,
      );
      reply.send({
        state: 'success',
        description,
        prev_tag: tag,
        next_tag: decision.next[0] ?? null,
        // A graph file's answers name every node; a line's keep the shape they always had.
        ...(graphAnswers ? { next: decision.next } : {}),
        ...(decision.waiting.length > 0
          ? { waiting: decision.waiting.map((entry) => entry.node) }
          : {}),
        ...(duplicate ? { duplicate: true } : {}),
      });
    },
  });

  app.route({
    method: ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'],
    url: route,
    handler: async (_request, reply) =>
      reject(reply.header('allow', 'POST'), 405, `only POST is allowed on ${route}`),
  });

  app.get('/healthz', async () => ({ ok: true }));

  addGitHubRoute(app, {
    secret: deps.deliverGitHub === undefined ? undefined : config.githubWebhookSecret,
    log: deps.log.child({ unit: 'github' }),
    deliver: deps.deliverGitHub ?? (() => ({ status: 204, description: 'not followed' })),
  });

  const pageLog = deps.log.child({ unit: 'page' });
  const logRefusal = (request: FastifyRequest, level: 'warn' | 'debug', why: string) =>
    pageLog[level]({ route: withoutQuery(request.url), status: 403 }, `status refused: ${why}`);
  const tokenPage = (reply: FastifyReply, reason: TokenPageReason) =>
    reply
      .code(403)
      .header('cache-control', 'no-store')
      .type('text/html; charset=utf-8')
      .header('content-security-policy', pagePolicy)
      .send(renderTokenPage(reason));

  // The page takes its token from the form alone: an address with a token ends up in the logs.
  const guardPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply | undefined> => {
    if (guard.open) return undefined;
    if ((request.query as Record<string, unknown>).token !== undefined) {
      logRefusal(request, 'warn', 'a token in the address is not taken, as it is logged');
      return tokenPage(reply, 'address');
    }
    const admission = guard.admitCookie(request.headers.cookie);
    if (admission === 'cookie') return undefined;
    logRefusal(request, admission === 'wrong' ? 'warn' : 'debug', `the token is ${admission}`);
    return tokenPage(reply, admission);
  };

  // Scripts read /status with ?token= (logged), or with an Authorization header (not logged).
  const guardStatus = async (
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply | undefined> => {
    if (guard.open) return undefined;
    let verdict = judgeCredentials(
      {
        query: (request.query as Record<string, unknown>).token,
        authorization: request.headers.authorization,
        schemes: ['basic', 'bearer'],
      },
      guard.match,
    );
    if (verdict.kind === 'right') return undefined;
    const admission = guard.admitCookie(request.headers.cookie);
    if (admission === 'cookie') return undefined;
    if (verdict.kind === 'missing' && admission === 'wrong') verdict = { kind: 'wrong' };
    logRefusal(
      request,
      verdict.kind === 'missing' ? 'debug' : 'warn',
      verdict.kind === 'malformed' ? verdict.problem : `the token is ${verdict.kind}`,
    );
    return reply
      .code(403)
      .header('cache-control', 'no-store')
      .send({
        state: 'error',
        description: `${refusal(verdict, 'the token')}: send the secret as Authorization: Bearer <secret>, as the password of Basic credentials, or as ?token=<secret>, which is logged`,
      });
  };

  app.get('/', { onRequest: guardPage }, async (_request, reply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .header('content-security-policy', pagePolicy)
      .header('x-content-type-options', 'nosniff')
      .send(renderStatusPage(deps.status(), deps.clock.now())),
  );

  app.get('/status', { onRequest: guardStatus }, async (_request, reply) =>
    reply.header('cache-control', 'no-store').send(deps.status()),
  );

  // The token page's form: its own parser, in a scope of its own, so that the webhook still
  // answers a form with 415.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: formLimit },
      (_request, body, done) => {
        try {
          done(null, parseForm(body as string));
        } catch (err) {
          done(err as Error, undefined);
        }
      },
    );
    scope.post('/', { bodyLimit: formLimit }, async (request, reply) => {
      if (guard.open) return reply.redirect('/', 303);
      const fields = request.body instanceof Map ? (request.body as Map<string, string[]>) : null;
      const tokens = fields?.get('token') ?? [];
      const index = tokens.length === 1 ? guard.match(tokens[0] as string) : -1;
      if (index < 0) {
        const reason = tokens.length === 0 ? 'missing' : 'wrong';
        logRefusal(request, reason === 'wrong' ? 'warn' : 'debug', `the token is ${reason}`);
        return tokenPage(reply, reason);
      }
      // Remembered for the session; the redirect turns the POST into a GET that can be reloaded.
      const secure = request.headers['x-forwarded-proto'] === 'https';
      return reply
        .header('set-cookie', guard.cookie(index, secure))
        .header('cache-control', 'no-store')
        .redirect('/', 303);
    });
  });

  return app;
}

/** The answer's one line: what this push makes the app trigger, and when. */
function describeDecision(tag: string, decision: Decision, now: number, graph: boolean): string {
  const waits = decision.waiting
    .map((entry) =>
      entry.blockedBy === undefined
        ? `${entry.node} waits for ${entry.waitsFor.join(' and ')}`
        : `${entry.node} is blocked by ${entry.blockedBy}, which failed`,
    )
    .join('; ');
  switch (decision.kind) {
    case 'last':
      return graph
        ? `${tag} pushed: nothing is built from it${decision.duplicate ? ' (a repeated delivery)' : ''}`
        : `${tag} is the last tag: nothing to trigger${decision.duplicate ? ' (a repeated delivery)' : ''}`;
    case 'waiting':
      return `${tag} pushed: ${waits}`;
    case 'duplicate':
      return decision.next.length === 0 && waits !== ''
        ? `${tag}: a repeated delivery; ${waits}`
        : `${tag}: ${decision.next.join(', ') || 'its next build'} is already queued or triggered for this push`;
    case 'queued': {
      const seconds = Math.max(0, Math.round(((decision.dueAt ?? now) - now) / 1000));
      return (
        `${tag} pushed: ${decision.next.join(', ')} will be triggered ${decision.next.length > 1 ? 'from' : 'in'} ${seconds} s` +
        (waits === '' ? '' : `; ${waits}`)
      );
    }
  }
}

const badBody = (description: string) => Object.assign(new Error(description), { statusCode: 400 });

function refusePrototypeKeys(key: string, value: unknown): unknown {
  if (key === '__proto__') throw badBody('the body has a __proto__ key, which is refused');
  if (key === 'constructor' && typeof value === 'object' && value !== null) {
    if (Object.hasOwn(value, 'prototype')) {
      throw badBody('the body has a constructor.prototype key, which is refused');
    }
  }
  return value;
}

/**
 * Whether a key of the text could be __proto__ or constructor: JSON can spell a letter of a key
 * only as itself or as a \u escape.
 */
const mayNamePrototypeKeys = (text: string) =>
  text.includes('__proto__') || text.includes('constructor') || text.includes('\\u');

/** JSON.parse, refusing the keys that could alter objects' prototypes once merged. */
function parseJson(text: string): unknown {
  if (text.length === 0) throw badBody('the body is empty');
  try {
    // A reviver makes JSON.parse about 3.5 times slower: only a body that may need it gets one.
    return mayNamePrototypeKeys(text) ? JSON.parse(text, refusePrototypeKeys) : JSON.parse(text);
  } catch (err) {
    if (err instanceof Error && 'statusCode' in err) throw err;
    // JSON.parse's message quotes the body; a RangeError means nesting too deep for the stack.
    throw badBody(
      err instanceof RangeError ? 'the body is nested too deeply' : 'the body is not valid JSON',
    );
  }
}

/** Why the body cannot be read as it is sent, if it cannot: only plain UTF-8 JSON is parsed. */
function encodingProblem(request: FastifyRequest): string | undefined {
  const encoding = request.headers['content-encoding']?.trim().toLowerCase();
  if (encoding !== undefined && encoding !== '' && encoding !== 'identity') {
    return 'the body must not be compressed or encoded (content-encoding)';
  }
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(request.headers['content-type'] ?? '');
  if (charset !== null && !/^utf-?8$/i.test(charset[1] ?? '')) {
    return 'the body must be JSON in UTF-8 (content-type: application/json; charset=utf-8)';
  }
  return undefined;
}

function withoutQuery(url: string): string {
  const query = url.indexOf('?');
  return query < 0 ? url : url.slice(0, query);
}

/** The first words of a refusal: what was wrong, never what was sent. */
function refusal(verdict: Exclude<Verdict, { kind: 'right' }>, what: string): string {
  return verdict.kind === 'malformed' ? verdict.problem : `${what} is missing or wrong`;
}
