/** One image tag on Docker Hub, e.g. library/alpine:3.20. */
export interface ImageRef {
  namespace: string;
  repository: string;
  tag: string;
  /** namespace/repository:tag, always with the namespace, so that two spellings compare equal */
  display: string;
}

// Docker's own grammar for one path component and for a tag; uppercase is not allowed in a name.
const NAME_PART = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/**
 * Reads a Docker Hub image reference: `alpine:3.20` (an official image, namespace `library`),
 * `acme/base` (tag `latest`) or `acme/base:1.2`. Throws an Error that says what is wrong.
 */
export function parseImageRef(text: string): ImageRef {
  const fail = (why: string): never => {
    throw new Error(`'${text}' is not a Docker Hub image reference: ${why}`);
  };
  if (text.length === 0) fail('it is empty');
  if (/\s/.test(text)) fail('it contains a space');
  if (text.includes('@')) fail('digests (@sha256:...) are not supported, name a tag');

  const slash = text.lastIndexOf('/');
  const colon = text.indexOf(':', slash + 1);
  const name = colon === -1 ? text : text.slice(0, colon);
  const tag = colon === -1 ? 'latest' : text.slice(colon + 1);
  const parts = name.split('/');

  const first = parts[0] as string;
  if (parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    fail(
      `'${first}' is a registry host; only Docker Hub images are supported, write them without a host`,
    );
  }
  if (parts.length > 2) fail('Docker Hub names have at most one slash (namespace/repository)');
  if (parts.some((part) => part.length === 0)) fail('a part of the name is empty');
  for (const part of parts) {
    if (part !== part.toLowerCase()) fail(`'${part}' has uppercase letters`);
    if (!NAME_PART.test(part)) {
      fail(`'${part}' may only hold a-z, 0-9 and single . _ - between them`);
    }
  }
  if (tag.length === 0) fail('the tag after ":" is empty');
  if (!TAG.test(tag)) fail(`'${tag}' is not a valid tag`);

  const namespace = parts.length === 2 ? first : 'library';
  const repository = parts[parts.length - 1] as string;
  return { namespace, repository, tag, display: `${namespace}/${repository}:${tag}` };
}

/**
 * Reads a comma-separated list of image references (e.g. UPSTREAM_IMAGES). An empty or blank text
 * is an empty list. Throws one Error that names every bad item, so that one fix suffices.
 */
export function parseImageList(text: string): ImageRef[] {
  if (text.trim().length === 0) return [];
  const images: ImageRef[] = [];
  const problems: string[] = [];
  const seen = new Set<string>();
  text.split(',').forEach((raw, index) => {
    const item = raw.trim();
    if (item.length === 0) {
      problems.push(`item ${index + 1} is empty`);
      return;
    }
    try {
      const image = parseImageRef(item);
      if (seen.has(image.display)) {
        problems.push(`'${item}' is listed twice (as ${image.display})`);
        return;
      }
      seen.add(image.display);
      images.push(image);
    } catch (err) {
      problems.push((err as Error).message);
    }
  });
  if (problems.length > 0) {
    throw new Error(`bad image list '${text}': ${problems.join('; ')}`);
  }
  return images;
}
