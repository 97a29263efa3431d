import { connect, type Socket } from 'node:net';
import { request } from 'undici';
import { buildTestApp, delivery } from '../../helpers/app';

/** A connection that sends a delivery's headers, then its body one byte every 100 ms. */
function trickle(port: number) {
  const socket: Socket = connect(port, '127.0.0.1');
  const opened = Date.now();
  let answer = '';
  socket.on('data', (chunk: Buffer) => {
    answer += chunk.toString('latin1');
  });
  socket.on('error', () => undefined);
  const ended = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now())));
  socket.write(
    'POST /propagate HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n',
  );
  const drip = setInterval(() => socket.write(' '), 100);
  void ended.then(() => clearInterval(drip));
  return { opened, ended, answer: () => answer, destroy: () => socket.destroy() };
}

describe('a request whose body never ends', () => {
  it('is answered 408 and closed once the request timeout is over, while deliveries go on', async () => {
    const timeout = 1000;
    const t = buildTestApp({}, undefined, { requestTimeout: timeout });
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = t.app.server.address() as { port: number };
    const slow = Array.from({ length: 20 }, () => trickle(port));
    try {
      const started = Date.now();
      const response = await request(`http://127.0.0.1:${port}/propagate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(delivery('init')),
      });
      expect(response.statusCode).toBe(200);
      await response.body.dump();
      expect(Date.now() - started).toBeLessThan(timeout / 2);

      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(
          () => reject(new Error('waited 10 s for the trickling connections to be closed')),
          10_000,
        );
      });
      const closedAt = await Promise.race([Promise.all(slow.map((s) => s.ended)), deadline]);
      clearTimeout(timer);
      slow.forEach((s, index) => {
        const lasted = (closedAt[index] as number) - s.opened;
        // never early; late by at most Node's check interval and a busy machine's second
        expect(lasted).toBeGreaterThanOrEqual(timeout - 50);
        expect(lasted).toBeLessThan(timeout + 1000 + 1500);
        expect(s.answer()).toMatch(/^HTTP\/1\.1 408 /);
      });
    } finally {
      slow.forEach((s) => s.destroy());
      await t.app.close();
    }
  });
});
