import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createFakeRegistry,
  sendJson,
  type FakeRegistryState,
} from '../../webapp/simulation/create-fake-registry';

export type FakeRegistryFailure = { status: number; retryAfter?: number; times?: number };

/** The simulation's fake registry, with the failures and the logins tests need. */
export interface TestRegistryState extends FakeRegistryState {
  /** answer the next `times` requests (all of them without times) with status; undefined stops */
  setFailure(mode: FakeRegistryFailure | undefined): void;
  /** from now on the tag endpoints need a bearer from POST /v2/auth/token with these */
  requireLogin(user: string, token: string): void;
  /** makes every bearer given so far invalid, as when it expires */
  revokeTokens(): void;
}

export interface FakeRegistry extends Omit<TestRegistryState, 'handle'> {
  url: string;
  close(): Promise<void>;
}

/** A fake Docker Hub tag API to mount in a server, that fails and asks for logins on demand. */
export function createTestRegistry(options: { pageSize?: number } = {}): TestRegistryState {
  const bearers = new Set<string>();
  let login: { user: string; token: string } | undefined;
  let failure: FakeRegistryFailure | undefined;
  const state = createFakeRegistry({
    ...options,
    intercept: (request, res) => {
      if (failure !== undefined) {
        const { status, retryAfter } = failure;
        if (failure.times !== undefined && --failure.times <= 0) failure = undefined;
        const headers = retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) };
        sendJson(res, status, { message: `fake failure ${status}` }, headers);
        return true;
      }
      // without an account, the registry refuses every login itself
      if (login === undefined) return false;
      if (request.method === 'POST' && request.path.split('?')[0] === '/v2/auth/token') {
        const given = parseJson(request.body) as { identifier?: unknown; secret?: unknown };
        if (given.identifier !== login.user || given.secret !== login.token) {
          sendJson(res, 401, { detail: 'incorrect username or password' });
          return true;
        }
        const bearer = `fake-bearer-${randomBytes(12).toString('hex')}`;
        bearers.add(bearer);
        sendJson(res, 200, { access_token: bearer });
        return true;
      }
      const auth = /^Bearer (.+)$/.exec(request.headers.authorization ?? '');
      if (auth === null || !bearers.has(auth[1] as string)) {
        sendJson(res, 401, { message: 'authentication required' });
        return true;
      }
      return false;
    },
  });
  return Object.assign(state, {
    setFailure(mode: FakeRegistryFailure | undefined) {
      failure = mode === undefined ? undefined : { ...mode };
    },
    requireLogin(user: string, token: string) {
      login = { user, token };
    },
    revokeTokens() {
      bearers.clear();
    },
  });
}

/** A fake Docker Hub tag API on a loopback port of its own. */
export async function startFakeRegistry(
  options: { pageSize?: number } = {},
): Promise<FakeRegistry> {
  const state = createTestRegistry(options);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (!state.handle(req, res, Buffer.concat(chunks).toString('utf8'))) {
        sendJson(res, 404, { message: 'not found' });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const registry: FakeRegistry = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: state.requests,
    recordPush: state.recordPush,
    setFailure: state.setFailure,
    requireLogin: state.requireLogin,
    revokeTokens: state.revokeTokens,
    get pageSize() {
      return state.pageSize;
    },
    set pageSize(size: number) {
      state.pageSize = size;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return registry;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) ?? {};
  } catch {
    return {};
  }
}
