/** The one challenge of a 401 that this app can answer: a token service's, or a password. */
export type Challenge =
  { scheme: 'bearer'; realm: string; service?: string; scope?: string } | { scheme: 'basic' };

interface RawChallenge {
  scheme: string;
  params: Map<string, string>;
}

// RFC 9110's token characters: https://www.rfc-editor.org/rfc/rfc9110#section-5.6.2
const TOKEN = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

/**
 * Reads a 401's WWW-Authenticate, one header or several, each of which may hold several
 * challenges (https://www.rfc-editor.org/rfc/rfc9110#section-11.6.1). Bearer with a realm is
 * preferred over Basic; a scheme this app cannot answer, or none at all, is undefined.
 */
export function parseChallenge(header: string | string[] | undefined): Challenge | undefined {
  const texts = header === undefined ? [] : Array.isArray(header) ? header : [header];
  const challenges = texts.flatMap(readChallenges);
  for (const { scheme, params } of challenges) {
    const realm = params.get('realm');
    if (scheme !== 'bearer' || realm === undefined || realm === '') continue;
    const service = params.get('service');
    const scope = params.get('scope');
    return {
      scheme: 'bearer',
      realm,
      ...(service === undefined || service === '' ? {} : { service }),
      ...(scope === undefined || scope === '' ? {} : { scope }),
    };
  }
  return challenges.some((challenge) => challenge.scheme === 'basic')
    ? { scheme: 'basic' }
    : undefined;
}

/**
 * The challenges of one header: `Scheme name=value, name="quoted, \"value\"", Other ...`. A
 * token after a comma starts a new challenge unless `=` follows it. Reading stops at the first
 * character that fits nowhere, keeping what came before it.
 */
function readChallenges(text: string): RawChallenge[] {
  const challenges: RawChallenge[] = [];
  let at = 0;
  const skip = (pattern: RegExp) => {
    while (at < text.length && pattern.test(text[at] as string)) at++;
  };
  const token = (): string => {
    const start = at;
    while (at < text.length && TOKEN.test(text[at] as string)) at++;
    return text.slice(start, at);
  };
  // Unquoted values should be tokens, but realms and scopes (with their : and /) are sent bare.
  const bare = (): string => {
    const start = at;
    while (at < text.length && !/[\s,]/.test(text[at] as string)) at++;
    return text.slice(start, at);
  };
  const quoted = (): string | undefined => {
    let value = '';
    for (at++; at < text.length; at++) {
      const char = text[at] as string;
      if (char === '"') {
        at++;
        return value;
      }
      if (char === '\\') at++;
      value += text[at] ?? '';
    }
    return undefined;
  };
  let current: RawChallenge | undefined;
  for (;;) {
    skip(/[\s,]/);
    if (at >= text.length) break;
    const name = token();
    if (name === '') break;
    const before = at;
    skip(/\s/);
    if (current !== undefined && text[at] === '=') {
      at++;
      skip(/\s/);
      const value = text[at] === '"' ? quoted() : bare();
      if (value === undefined) break;
      const key = name.toLowerCase();
      // A name given twice is a broken header; the first one counts.
      if (!current.params.has(key)) current.params.set(key, value);
      continue;
    }
    at = before;
    current = { scheme: name.toLowerCase(), params: new Map() };
    challenges.push(current);
    // A token68 (Negotiate's, say) belongs to its scheme: read past it.
    skip(/[ \t]/);
    const rest = /^[A-Za-z0-9\-._~+/]+=*(?=\s*(,|$))/.exec(text.slice(at));
    if (rest !== null && !/^[^=]*=[^=]/.test(rest[0])) at += rest[0].length;
  }
  return challenges;
}
