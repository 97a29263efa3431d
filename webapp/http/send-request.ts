import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';

/** How much one request may cost: the whole exchange's time, the answer's size, and shutdown. */
export interface RequestLimits {
  /** ms from the first byte sent to the last byte read */
  deadline: number;
  /** bytes: a longer answer body is not read */
  maxBytes: number;
  /** aborts the request at once (shutdown) */
  signal?: AbortSignal;
}

export interface RequestOptions {
  method: 'GET' | 'HEAD' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  dispatcher: Dispatcher;
  /** keep the answer's body (false: read and drop it) */
  keepBody?: boolean;
}

/** Why an answer came without its body, when its status did come. */
export type BodyProblem = 'too-large' | 'timeout' | 'aborted' | 'broken';

/** An answer whose status arrived; its body is there only when it was wanted and whole. */
export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body?: string;
  bodyProblem?: BodyProblem;
}

export type RequestErrorKind = 'timeout' | 'aborted' | 'network';

/** No status came: the request may or may not have reached the server. */
export class RequestError extends Error {
  readonly kind: RequestErrorKind;

  constructor(kind: RequestErrorKind, message: string) {
    super(message);
    this.name = 'RequestError';
    this.kind = kind;
  }
}

/**
 * One HTTP exchange that ends within `limits.deadline` whatever the server does (a slow answer,
 * a body that trickles in), reads at most `limits.maxBytes` of the body, and stops at once when
 * `limits.signal` aborts. Throws RequestError when no status came; once a status came it
 * returns it, with the body's problem beside it, so a caller can count a request as received
 * even when its answer's body was cut off.
 */
export async function sendRequest(
  url: string,
  options: RequestOptions,
  limits: RequestLimits,
): Promise<Answer> {
  const controller = new AbortController();
  let why: 'timeout' | 'aborted' | undefined;
  const stop = (reason: 'timeout' | 'aborted') => {
    why ??= reason;
    controller.abort();
  };
  const timer = setTimeout(() => stop('timeout'), limits.deadline);
  const onAbort = () => stop('aborted');
  if (limits.signal?.aborted) stop('aborted');
  else limits.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    let response: Dispatcher.ResponseData;
    try {
      // Loaded at the first request, not at start: see createPool.
      const { request } = require('undici') as typeof import('undici');
      response = await request(url, {
        method: options.method,
        ...(options.headers === undefined ? {} : { headers: options.headers }),
        ...(options.body === undefined ? {} : { body: options.body }),
        dispatcher: options.dispatcher,
        signal: controller.signal,
        headersTimeout: limits.deadline,
        bodyTimeout: limits.deadline,
      });
    } catch (err) {
      if (why !== undefined) {
        throw new RequestError(
          why,
          why === 'timeout' ? `timeout: no answer within ${seconds(limits.deadline)}` : 'aborted',
        );
      }
      throw new RequestError('network', describeFailure(err));
    }
    const answer: Answer = { status: response.statusCode, headers: response.headers };
    const read = await readBody(response, limits.maxBytes, options.keepBody === true);
    if (typeof read === 'string') {
      if (options.keepBody === true) answer.body = read;
    } else {
      answer.bodyProblem = why ?? read.problem;
    }
    return answer;
  } finally {
    clearTimeout(timer);
    limits.signal?.removeEventListener('abort', onAbort);
  }
}

async function readBody(
  response: Dispatcher.ResponseData,
  maxBytes: number,
  keep: boolean,
): Promise<string | { problem: BodyProblem }> {
  const { body } = response;
  // A body announced too large is refused before a byte of it is read.
  if (Number(response.headers['content-length']) > maxBytes) {
    body.destroy();
    return { problem: 'too-large' };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) {
        body.destroy();
        return { problem: 'too-large' };
      }
      if (keep) chunks.push(chunk);
    }
  } catch {
    return { problem: 'broken' };
  }
  return keep ? Buffer.concat(chunks, size).toString('utf8') : '';
}

/** A byte count for people: "4 MiB", "64 KiB". */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

// Errors may come from another realm (Node's own, under a test runner's sandbox): judged by
// their shape, not by instanceof.
function describeFailure(err: unknown): string {
  const { message, code, cause } = (err ?? {}) as {
    message?: unknown;
    code?: unknown;
    cause?: unknown;
  };
  if (typeof message !== 'string') return 'request failed';
  const because = (cause as { message?: unknown } | undefined)?.message;
  return `${typeof code === 'string' ? `${code} ` : ''}${message}${typeof because === 'string' ? `: ${because}` : ''}`;
}
