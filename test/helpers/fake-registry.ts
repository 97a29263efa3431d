import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createFakeRegistry,
  sendJson,
  type FakeRegistryState,
} from '../../webapp/simulation/create-fake-registry';

export interface FakeRegistry extends Omit<FakeRegistryState, 'handle'> {
  url: string;
  close(): Promise<void>;
}

/** A fake Docker Hub tag API on a loopback port of its own. */
export async function startFakeRegistry(
  options: { pageSize?: number } = {},
): Promise<FakeRegistry> {
  const state = createFakeRegistry(options);
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
