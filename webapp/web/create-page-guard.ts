import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** The cookie that remembers, for the browser's session, that the token was given. */
export const pageCookie = 'status_token';

export type Admission = 'open' | 'token' | 'cookie' | 'missing' | 'wrong';

export interface PageGuard {
  /** whether a request with this `?token=` and Cookie header may read the status */
  admit(token: unknown, cookieHeader: string | undefined): Admission;
  /** the Set-Cookie header that remembers the token; `secure` on HTTPS */
  cookie(secure: boolean): string;
}

/**
 * The check of the status page and of GET /status: the webhook's secret, compared in constant
 * time. The cookie holds a value derived from the secret, never the secret itself, so a leaked
 * cookie reads the status but cannot propagate builds.
 */
export function createPageGuard(secret: string | undefined): PageGuard {
  if (secret === undefined) return { admit: () => 'open', cookie: () => '' };
  const secretDigest = digest(secret);
  const pass = createHmac('sha256', secret).update('status page').digest('hex');
  const passDigest = digest(pass);
  return {
    admit(token, cookieHeader) {
      if (token !== undefined) {
        return typeof token === 'string' && timingSafeEqual(digest(token), secretDigest)
          ? 'token'
          : 'wrong';
      }
      const remembered = readCookie(cookieHeader, pageCookie);
      if (remembered === undefined) return 'missing';
      return timingSafeEqual(digest(remembered), passDigest) ? 'cookie' : 'wrong';
    },
    cookie: (secure) =>
      `${pageCookie}=${pass}; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`,
  };
}

function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const equals = part.indexOf('=');
    if (equals > 0 && part.slice(0, equals).trim() === name) return part.slice(equals + 1).trim();
  }
  return undefined;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
