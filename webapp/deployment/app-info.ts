import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The app's directory: the nearest with a package.json, from the source or the build. */
export function appDir(): string {
  for (let dir = __dirname; dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
  }
  return process.cwd();
}

/** The version in the app's package.json. */
export function appVersion(): string {
  const file = join(appDir(), 'package.json');
  return existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version
    : 'unknown';
}
