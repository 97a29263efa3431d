import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

/** A real pino logger writing into memory, to check what reaches the logs. */
export function captureLog(): { log: Logger; text(): string; lines(): Record<string, unknown>[] } {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return {
    log: pino({ level: 'debug' }, sink),
    text: () => text,
    lines: () =>
      text
        .split('\n')
        .filter((line) => line.length > 0)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}
