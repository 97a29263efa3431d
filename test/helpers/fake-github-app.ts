import { generateKeyPairSync, randomBytes, verify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request as a server read it; the fake hub's HubRequest is one. */
export interface FakeAppRequest {
  method: string;
  /** with its query string */
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** An installation token the fake made. */
export interface MadeToken {
  token: string;
  installation: number;
  /** ms */
  at: number;
  /** ms */
  expiresAt: number;
}

export interface FakeGitHubAppOptions {
  /** the App ID a JWT's iss must name */
  appId: string;
  /** what a JWT's signature is checked with */
  publicKey: KeyObject;
  /** repository (owner/name) → installation id; may be changed later (uninstalled, reinstalled) */
  installations: Record<string, number>;
  /** ms each token is good for (one hour, as GitHub's) */
  tokenLifetime?: number;
  /** the fake's clock, in ms (Date.now) */
  now?: () => number;
}

export interface FakeGitHubApp {
  /** answers the App's requests (true), or leaves any other to the server (false) */
  handle(request: FakeAppRequest, res: ServerResponse): boolean;
  installations: Record<string, number>;
  /** every token made, in order */
  tokens: MadeToken[];
  /** every request answered, with the status it was given */
  requests: { method: string; path: string; headers: IncomingHttpHeaders; status: number }[];
  /** whether `token` may act now: made here, not expired nor revoked */
  isValid(token: string): boolean;
  /** revokes `token`: isValid says false from now on */
  expire(token: string): void;
  /** queues a failure: the next App request without one is answered `status`, with `headers` */
  failNext(status: number, headers?: Record<string, string>, message?: string): void;
}

const INSTALLATION = /^(?:\/api\/v3)?\/repos\/([^/]+)\/([^/]+)\/installation$/;
const ACCESS_TOKENS = /^(?:\/api\/v3)?\/app\/installations\/(\d+)\/access_tokens$/;

/**
 * GitHub's App endpoints, as far as installation tokens go: GET /repos/{owner}/{repo}/installation
 * and POST /app/installations/{id}/access_tokens, each with a JWT checked as GitHub checks it
 * (RS256 signature, iss, iat and exp), and a 401 with GitHub's JSON `message` when it fails.
 * In the fake hub: `intercept: (request, res) => (app.handle(request, res) ? { taken: true } : undefined)`.
 */
export function createFakeGitHubApp(options: FakeGitHubAppOptions): FakeGitHubApp {
  const now = options.now ?? Date.now;
  const lifetime = options.tokenLifetime ?? 3_600_000;
  const revoked = new Set<string>();
  const failures: { status: number; headers: Record<string, string>; message: string }[] = [];

  const app: FakeGitHubApp = {
    installations: options.installations,
    tokens: [],
    requests: [],
    isValid(token) {
      const made = app.tokens.find((entry) => entry.token === token);
      return made !== undefined && !revoked.has(token) && now() < made.expiresAt;
    },
    expire(token) {
      revoked.add(token);
    },
    failNext(status, headers = {}, message = 'Server Error') {
      failures.push({ status, headers, message });
    },
    handle(request, res) {
      const path = request.path.split('?')[0] as string;
      const lookup = request.method === 'GET' ? INSTALLATION.exec(path) : null;
      const create = request.method === 'POST' ? ACCESS_TOKENS.exec(path) : null;
      if (lookup === null && create === null) return false;
      const authorization = request.headers.authorization;
      const answer = (status: number, body: object, headers: Record<string, string> = {}) => {
        app.requests.push({
          method: request.method,
          path: request.path,
          headers: request.headers,
          status,
        });
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
        res.end(JSON.stringify(body));
        return true;
      };
      const failure = failures.shift();
      if (failure !== undefined) {
        return answer(failure.status, { message: failure.message }, failure.headers);
      }
      const refusal = checkJwt(authorization, options, Math.floor(now() / 1000));
      if (refusal !== undefined) return answer(401, { message: refusal });
      if (lookup !== null) {
        const repository = `${decodeURIComponent(lookup[1] as string)}/${decodeURIComponent(lookup[2] as string)}`;
        const id = app.installations[repository];
        if (id === undefined) return answer(404, { message: 'Not Found' });
        const owner = repository.split('/')[0] as string;
        return answer(200, {
          id,
          app_id: Number(options.appId),
          account: { login: owner },
          target_type: 'Organization',
          repository_selection: 'selected',
          access_tokens_url: `/app/installations/${id}/access_tokens`,
          permissions: { actions: 'write', metadata: 'read' },
        });
      }
      const installation = Number((create as RegExpExecArray)[1]);
      if (!Object.values(app.installations).includes(installation)) {
        return answer(404, { message: 'Not Found' });
      }
      const at = now();
      const made: MadeToken = {
        token: `ghs_${randomBytes(18).toString('hex')}`,
        installation,
        at,
        expiresAt: at + lifetime,
      };
      app.tokens.push(made);
      return answer(201, {
        token: made.token,
        // GitHub's expires_at has whole seconds
        expires_at: new Date(Math.floor(made.expiresAt / 1000) * 1000)
          .toISOString()
          .replace(/\.\d{3}Z$/, 'Z'),
        permissions: { actions: 'write', metadata: 'read' },
        repository_selection: 'selected',
      });
    },
  };
  return app;
}

/** Why GitHub would refuse this Authorization as an App's JWT, or nothing when it would not. */
function checkJwt(
  authorization: string | undefined,
  options: FakeGitHubAppOptions,
  seconds: number,
): string | undefined {
  const jwt = /^Bearer (\S+)$/.exec(authorization ?? '')?.[1];
  const parts = jwt?.split('.') ?? [];
  if (parts.length !== 3) return 'A JSON web token could not be decoded';
  const [header, claims, signature] = parts as [string, string, string];
  const read = (part: string): Record<string, unknown> | undefined => {
    try {
      return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  };
  const head = read(header);
  const payload = read(claims);
  if (head?.alg !== 'RS256' || payload === undefined) {
    return 'A JSON web token could not be decoded';
  }
  // iss names the App whose key checks the signature: another App is not found, and a
  // signature by another key cannot be decoded.
  if (String(payload.iss) !== options.appId) return 'Integration not found';
  const good = verify(
    'sha256',
    Buffer.from(`${header}.${claims}`),
    options.publicKey,
    Buffer.from(signature, 'base64url'),
  );
  if (!good) return 'A JSON web token could not be decoded';
  const { iat, exp } = payload;
  if (typeof iat !== 'number' || iat > seconds) {
    return "'Issued at' claim ('iat') must be an Integer representing a time in the past";
  }
  if (typeof exp !== 'number' || exp <= seconds) {
    return "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires";
  }
  if (exp > seconds + 600) return "'Expiration time' claim ('exp') is too far in the future";
  return undefined;
}

/** An App's key pair as GitHub makes it: RSA 2048, the private key a PKCS#1 PEM. */
export function generateAppKeyPair(): { privateKeyPem: string; publicKey: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  return { privateKeyPem, publicKey };
}

/** The fake alone on a loopback port, for tests that need no hub. */
export async function serveFakeGitHubApp(
  app: FakeGitHubApp,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: FakeAppRequest = {
        method: req.method ?? '',
        path: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      if (app.handle(request, res)) return;
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'Not Found' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
