import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../webapp/logging/create-logger';

export interface CapturedLogs {
  log: Logger;
  /** every line written so far, parsed */
  entries(): Record<string, unknown>[];
  /** everything written so far, raw */
  text(): string;
}

/** A real pino root logger that writes into memory. */
export function captureLogs(name = 'test', level = 'debug'): CapturedLogs {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return {
    log: createLogger(name, level, 'json', sink),
    entries: () =>
      text
        .split('\n')
        .filter((line) => line.length > 0)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    text: () => text,
  };
}
