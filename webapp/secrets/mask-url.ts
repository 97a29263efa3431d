/** A configured URL as it may be shown, and the parts of it that must never be. */
export interface MaskedUrl {
  /** the URL with each secret part replaced by `***` */
  shown: string;
  /** each secret part, as written in the URL and decoded, to scrub from any other text */
  secrets: string[];
}

/**
 * Masks what may be secret in a URL: its user info, every query value, and the path segment
 * after `trigger` (Docker Hub's token). With `opaquePath`, when no such segment is found, every
 * path segment is masked: a trigger URL of unknown shape may carry its token anywhere.
 */
export function maskUrl(url: string, opaquePath = false): MaskedUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { shown: '***', secrets: [url] };
  }
  const secrets: string[] = [];
  const hide = (part: string): string => {
    if (part.length > 0) secrets.push(part, safeDecode(part));
    return part.length > 0 ? '***' : part;
  };
  const userInfo =
    parsed.username === '' && parsed.password === ''
      ? ''
      : `${hide(parsed.username)}${parsed.password === '' ? '' : `:${hide(parsed.password)}`}@`;
  const segments = parsed.pathname.split('/');
  const token = segments.findIndex(
    (_segment, index) => index > 0 && segments[index - 1] === 'trigger',
  );
  const path = segments
    .map((segment, index) =>
      index === token || (opaquePath && token < 0 && segment !== '') ? hide(segment) : segment,
    )
    .join('/');
  const query = parsed.search
    .slice(1)
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => {
      const equals = pair.indexOf('=');
      return equals < 0 ? hide(pair) : `${pair.slice(0, equals)}=${hide(pair.slice(equals + 1))}`;
    });
  if (parsed.hash.length > 1) hide(parsed.hash.slice(1));
  // new URL() writes '/' for an empty path: keep a base URL as it was written.
  const shownPath = path === '/' && !/^[a-z+.-]+:\/\/[^/?#]*\//i.test(url) ? '' : path;
  return {
    shown: `${parsed.protocol}//${userInfo}${parsed.host}${shownPath}${query.length > 0 ? `?${query.join('&')}` : ''}`,
    secrets: [...new Set(secrets)].filter((secret) => secret.length > 0),
  };
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part.replace(/\+/g, ' '));
  } catch {
    return part;
  }
}
