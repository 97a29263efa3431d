import { createHmac } from 'node:crypto';
import { createSecretMatcher } from '../secrets/create-secret-matcher';

/** The cookie that remembers, for the browser's session, that the token was given. */
export const pageCookie = 'status_token';

export interface PageGuard {
  /** no secret is set: the page and /status are open to all */
  open: boolean;
  /** which secret a text is, by its index, or -1; compared in constant time */
  match(given: string): number;
  /** whether the Cookie header holds the pass of one of the secrets */
  admitCookie(cookieHeader: string | undefined): 'cookie' | 'missing' | 'wrong';
  /** the Set-Cookie header that remembers the secret of that index; `secure` on HTTPS */
  cookie(index: number, secure: boolean): string;
}

/**
 * The check of the status page and of GET /status: the webhook's secrets, compared in constant
 * time. The cookie holds a value derived from a secret, never the secret itself, so a leaked
 * cookie reads the status but cannot propagate builds. While two secrets are set, a cookie of
 * either is good, and a cookie of the one dropped stops opening the page once it is dropped.
 */
export function createPageGuard(secrets: readonly string[]): PageGuard {
  const passes = secrets.map((secret) =>
    createHmac('sha256', secret).update('status page').digest('hex'),
  );
  const match = createSecretMatcher(secrets);
  const matchPass = createSecretMatcher(passes);
  return {
    open: secrets.length === 0,
    match,
    admitCookie(cookieHeader) {
      const remembered = readCookie(cookieHeader, pageCookie);
      if (remembered === undefined) return 'missing';
      return matchPass(remembered) >= 0 ? 'cookie' : 'wrong';
    },
    cookie: (index, secure) =>
      `${pageCookie}=${passes[index] ?? ''}; Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`,
  };
}

function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const equals = part.indexOf('=');
    if (equals > 0 && part.slice(0, equals).trim() === name) return part.slice(equals + 1).trim();
  }
  return undefined;
}
