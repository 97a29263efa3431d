import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogFormat } from '../types';

export type { Logger };

/**
 * The root logger of one process; units take named children of it. JSON lines, for Heroku and
 * CI, unless a person is watching: `pretty` (or `auto` on a terminal) uses pino-pretty, a
 * devDependency, and falls back to JSON where it is not installed.
 */
export function createLogger(
  name: string,
  level: string,
  format: LogFormat = 'auto',
  destination?: DestinationStream,
): Logger {
  const options = { level, base: { name }, timestamp: pino.stdTimeFunctions.isoTime };
  if (destination !== undefined) return pino(options, destination);
  const pretty =
    format === 'pretty' || (format === 'auto' && process.stdout.isTTY === true)
      ? loadPretty()
      : undefined;
  return pino(options, pretty ?? pino.destination({ dest: 1, sync: true }));
}

function loadPretty(): DestinationStream | undefined {
  try {
    // Loaded only here, so that production (devDependencies pruned) never needs it.
    const { build } = require('pino-pretty') as typeof import('pino-pretty');
    return build({
      colorize: true,
      sync: true,
      singleLine: true,
      translateTime: 'SYS:HH:MM:ss',
      ignore: 'pid,hostname',
      messageFormat: '{if unit}{unit}: {end}{msg}',
    });
  } catch {
    return undefined;
  }
}
