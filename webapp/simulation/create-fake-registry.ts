import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

export interface FakeRegistryRequest {
  method: string;
  /** with its query string */
  path: string;
  headers: IncomingMessage['headers'];
}

/** Answers Docker Hub's tag endpoints; returns false for a request it does not serve. */
export type FakeRegistryHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  body: string,
) => boolean;

export interface FakeRegistryOptions {
  /** tags per page at most, whatever page_size asks (100 by default) */
  pageSize?: number;
  /**
   * Sees each request the registry serves, once it is recorded and before it is answered;
   * returns true when it answered the request itself. Left out, the registry answers every
   * request as Docker Hub does for a public repository.
   */
  intercept?: (request: FakeRegistryRequest & { body: string }, res: ServerResponse) => boolean;
}

export interface FakeRegistryState {
  /** records a push of ns/repo:tag at `at` (now by default) with `digest` (made up by default) */
  recordPush(namespace: string, repository: string, tag: string, at?: Date, digest?: string): void;
  /** every request served, in order */
  requests: FakeRegistryRequest[];
  /** tags per page at most, whatever page_size asks */
  pageSize: number;
  handle: FakeRegistryHandler;
}

type StoredTag = { name: string; pushedAt: Date; digest: string };

const TAGS = /^\/v2\/namespaces\/([^/]+)\/repositories\/([^/]+)\/tags\/?$/;
const ONE_TAG = /^\/v2\/namespaces\/([^/]+)\/repositories\/([^/]+)\/tags\/([^/]+)\/?$/;

/**
 * The state and request handler of a fake Docker Hub tag API, to mount in any node:http server
 * (the `next` links it gives are built from the request's Host header). It knows no accounts:
 * every repository reads as public, and a login is refused.
 */
export function createFakeRegistry(options: FakeRegistryOptions = {}): FakeRegistryState {
  const repositories = new Map<string, Map<string, StoredTag>>();

  const state: FakeRegistryState = {
    requests: [],
    pageSize: options.pageSize ?? 100,
    recordPush(namespace, repository, tag, at = new Date(), digest) {
      const key = `${namespace}/${repository}`;
      const tags = repositories.get(key) ?? new Map<string, StoredTag>();
      repositories.set(key, tags);
      const made = `sha256:${createHash('sha256').update(`${key}:${tag}@${at.toISOString()}`).digest('hex')}`;
      tags.set(tag, { name: tag, pushedAt: at, digest: digest ?? made });
    },
    handle(req, res, body) {
      const url = new URL(req.url ?? '/', 'http://fake');
      const method = req.method ?? 'GET';
      const isLogin = method === 'POST' && url.pathname === '/v2/auth/token';
      const list = method === 'GET' ? TAGS.exec(url.pathname) : null;
      const one = method === 'GET' ? ONE_TAG.exec(url.pathname) : null;
      if (!isLogin && list === null && one === null) return false;
      const request = { method, path: req.url ?? '/', headers: req.headers };
      state.requests.push(request);
      if (options.intercept?.({ ...request, body }, res) === true) return true;
      if (isLogin) {
        sendJson(res, 401, { detail: 'incorrect username or password' });
        return true;
      }

      const match = (list ?? one) as RegExpExecArray;
      const [namespace, repository] = [match[1], match[2]].map((part) =>
        decodeURIComponent(part as string),
      );
      const tags = repositories.get(`${namespace}/${repository}`);
      if (tags === undefined) {
        sendJson(res, 404, { message: 'object not found', errinfo: { namespace, repository } });
        return true;
      }
      if (one !== null) {
        const found = tags.get(decodeURIComponent(one[3] as string));
        if (found === undefined) sendJson(res, 404, { message: 'object not found' });
        else sendJson(res, 200, tagAnswer(found, namespace as string, repository as string));
        return true;
      }
      // Docker Hub lists the most recently updated tags first.
      const sorted = [...tags.values()].sort((a, b) => b.pushedAt.getTime() - a.pushedAt.getTime());
      const size = Math.min(state.pageSize, Number(url.searchParams.get('page_size') ?? 10) || 10);
      const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
      const link = (n: number): string | null => {
        if (n < 1 || (n - 1) * size >= sorted.length) return null;
        return `http://${req.headers.host ?? 'localhost'}${url.pathname}?page=${n}&page_size=${size}`;
      };
      sendJson(res, 200, {
        count: sorted.length,
        next: link(page + 1),
        previous: link(page - 1),
        results: sorted
          .slice((page - 1) * size, page * size)
          .map((tag) => tagAnswer(tag, namespace as string, repository as string)),
      });
      return true;
    },
  };
  return state;
}

function tagAnswer(tag: StoredTag, namespace: string, repository: string): Record<string, unknown> {
  const at = tag.pushedAt.toISOString().replace(/Z$/, '000Z');
  return {
    creator: 1,
    id: 1,
    images: [
      {
        architecture: 'amd64',
        os: 'linux',
        digest: tag.digest,
        status: 'active',
        last_pushed: at,
      },
    ],
    last_updated: at,
    last_updater_username: namespace,
    name: tag.name,
    repository: 1,
    full_size: 1024,
    v2: true,
    tag_status: 'active',
    tag_last_pulled: null,
    tag_last_pushed: at,
    media_type: 'application/vnd.oci.image.index.v1+json',
    content_type: 'image',
    digest: tag.digest,
    namespace,
    repository_name: repository,
  };
}

/** Answers `body` as JSON, as Docker Hub's API does. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}
