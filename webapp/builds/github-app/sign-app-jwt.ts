import { sign, type KeyObject } from 'node:crypto';

/** ms: how far back `iat` is set, for a clock a little ahead of GitHub's. */
export const appJwtBackdate = 60_000;
/** ms: how long a JWT is good for after it is signed; GitHub refuses more than 10 minutes. */
export const appJwtLifetime = 9 * 60_000;

/**
 * The JWT a GitHub App authenticates as itself with (RS256, `iss` its App ID), valid from
 * a minute before `now` (ms) to nine minutes after:
 * https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app
 */
export function signAppJwt(appId: string, key: KeyObject, now: number): string {
  const seconds = Math.floor(now / 1000);
  const header = { alg: 'RS256', typ: 'JWT' };
  const claims = {
    iat: seconds - appJwtBackdate / 1000,
    exp: seconds + appJwtLifetime / 1000,
    iss: appId,
  };
  const signed = `${encode(header)}.${encode(claims)}`;
  const signature = sign('sha256', Buffer.from(signed), key).toString('base64url');
  return `${signed}.${signature}`;
}

function encode(part: object): string {
  return Buffer.from(JSON.stringify(part)).toString('base64url');
}
