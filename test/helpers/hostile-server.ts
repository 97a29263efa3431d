import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How a hostile server answers every request. */
export type Hostility =
  /** never answers */
  | { kind: 'hang' }
  /** the status and headers at once, then one byte of the body every `every` ms, never ending */
  | { kind: 'trickle'; status: number; every: number; contentType?: string }
  /** a body of `bytes` bytes, as fast as the socket takes it; `declared` sends Content-Length */
  | { kind: 'huge'; status: number; bytes: number; declared: boolean };

export interface HostileServer {
  url: string;
  /** requests received, by path */
  requests: string[];
  /** bytes of body written so far */
  written(): number;
  close(): Promise<void>;
}

/** A server on loopback that answers slowly, endlessly or hugely, as a broken service may. */
export async function startHostileServer(hostility: Hostility): Promise<HostileServer> {
  const requests: string[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let written = 0;
  const answer = (req: IncomingMessage, res: ServerResponse) => {
    requests.push(req.url ?? '');
    req.resume();
    if (hostility.kind === 'hang') return;
    if (hostility.kind === 'trickle') {
      res.writeHead(hostility.status, {
        'content-type': hostility.contentType ?? 'application/json',
      });
      res.write('{');
      written += 1;
      const timer = setInterval(() => {
        res.write(' ');
        written += 1;
      }, hostility.every);
      timers.add(timer);
      res.on('close', () => {
        clearInterval(timer);
        timers.delete(timer);
      });
      return;
    }
    res.writeHead(hostility.status, {
      'content-type': 'application/json',
      ...(hostility.declared ? { 'content-length': String(hostility.bytes) } : {}),
    });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let left = hostility.bytes;
    const pump = () => {
      while (left > 0) {
        const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
        left -= part.length;
        written += part.length;
        if (!res.write(part)) {
          res.once('drain', pump);
          return;
        }
      }
      res.end();
    };
    res.on('close', () => {
      left = 0;
    });
    pump();
  };
  const server = createServer(answer);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    written: () => written,
    close: async () => {
      for (const timer of timers) clearInterval(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
