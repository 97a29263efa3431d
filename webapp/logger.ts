import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** The root logger of one process; units take named children of it. */
export function createLogger(
  name: string,
  level: string,
  destination: DestinationStream = pino.destination({ dest: 1, sync: true }),
): Logger {
  return pino(
    {
      level,
      base: { name },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
