import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An incoming webhook on loopback, as Slack's, Mattermost's or Discord's take notifications. */
export interface NotifyReceiver {
  /** the webhook's URL; its path stands for the secret a real one carries */
  url: string;
  /** the JSON bodies received and accepted, in order */
  received: { text?: unknown }[];
  /** every request, with the status it was answered and when it came (Date.now) */
  requests: { path: string; contentType: string | undefined; status: number; at: number }[];
  close(): Promise<void>;
}

/** Answers the first `failFirst` POSTs with 503, then 200 `ok` as Slack does. */
export async function startNotifyReceiver(
  secretPath = '/services/T0001/B0001/receiverSecretKey42',
  failFirst = 0,
): Promise<NotifyReceiver> {
  const received: NotifyReceiver['received'] = [];
  const requests: NotifyReceiver['requests'] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const status =
        req.method !== 'POST' || req.url !== secretPath
          ? 404
          : requests.length < failFirst
            ? 503
            : 200;
      requests.push({
        path: req.url ?? '',
        contentType: req.headers['content-type'],
        status,
        at: Date.now(),
      });
      if (status === 200) {
        received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as { text?: unknown });
      }
      res.writeHead(status, { 'content-type': 'text/plain' });
      res.end(status === 200 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${secretPath}`,
    received,
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
