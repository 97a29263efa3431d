/** How a request may carry the secret in its Authorization header. */
export type Scheme = 'basic' | 'bearer';

export type Authorization =
  { kind: 'none' } | { kind: Scheme; secret: string } | { kind: 'malformed'; problem: string };

export type Verdict =
  | { kind: 'right'; index: number }
  | { kind: 'missing' }
  | { kind: 'wrong' }
  | { kind: 'malformed'; problem: string };

export interface Presented {
  /** `?token=` as the query parser gives it: a string, an array when repeated, or undefined */
  query: unknown;
  authorization: string | undefined;
  /** the schemes of the Authorization header that the route takes */
  schemes: readonly Scheme[];
}

/**
 * The secret an Authorization header carries: Basic credentials (any user, the secret as the
 * password) or a Bearer token. What is wrong with it never quotes it.
 */
export function readAuthorization(header: string | undefined): Authorization {
  if (header === undefined || header.trim() === '') return { kind: 'none' };
  const parts = /^\s*([A-Za-z]+)\s+(\S+)\s*$/.exec(header);
  const scheme = parts?.[1]?.toLowerCase();
  const value = parts?.[2] ?? '';
  if (scheme === 'bearer') return { kind: 'bearer', secret: value };
  if (scheme !== 'basic') {
    return { kind: 'malformed', problem: 'the Authorization header holds no Basic credentials' };
  }
  const decoded = decodeBase64(value);
  if (decoded === undefined) {
    return {
      kind: 'malformed',
      problem: "the Authorization header's Basic credentials are not base64",
    };
  }
  const colon = decoded.indexOf(':');
  if (colon < 0) {
    return {
      kind: 'malformed',
      problem: "the Authorization header's Basic credentials have no ':' between user and password",
    };
  }
  return { kind: 'basic', secret: decoded.slice(colon + 1) };
}

/**
 * Whether a request carries one of the secrets. Any right credential admits it; otherwise a
 * malformed header is named, so that the sender learns what to fix.
 */
export function judgeCredentials(presented: Presented, match: (given: string) => number): Verdict {
  const candidates: string[] = [];
  let given = presented.query !== undefined;
  if (typeof presented.query === 'string') candidates.push(presented.query);
  let authorization = readAuthorization(presented.authorization);
  if (authorization.kind === 'bearer' && !presented.schemes.includes('bearer')) {
    authorization = {
      kind: 'malformed',
      problem: 'the Authorization header holds a Bearer token, not Basic credentials',
    };
  }
  if (authorization.kind === 'basic' || authorization.kind === 'bearer') {
    candidates.push(authorization.secret);
  }
  if (authorization.kind !== 'none') given = true;
  for (const candidate of candidates) {
    const index = match(candidate);
    if (index >= 0) return { kind: 'right', index };
  }
  if (authorization.kind === 'malformed') return authorization;
  return given ? { kind: 'wrong' } : { kind: 'missing' };
}

/** Strict base64: text that decodes and encodes back to itself, padding aside. */
function decodeBase64(text: string): string | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  const unpadded = (value: string) => value.replace(/=+$/, '');
  if (unpadded(bytes.toString('base64')) !== unpadded(text)) return undefined;
  return bytes.toString('utf8');
}
