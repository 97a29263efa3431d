/** One image tag: on Docker Hub (library/alpine:3.20), or on a registry it names by host. */
export interface ImageRef {
  /**
   * The registry host (with its port) the reference names, lower case: `docker.io` for Docker
   * Hub named with a host. Left out for a Docker Hub image named without one.
   */
  registry?: string;
  /** the path before the last part of the name: the Docker Hub namespace, or '' for none */
  namespace: string;
  repository: string;
  tag: string;
  /**
   * namespace/repository:tag for Docker Hub, whichever way it is spelled, so that two spellings
   * compare equal; host/path:tag for any other registry
   */
  display: string;
}

// Docker's own grammar for one path component and for a tag; uppercase is not allowed in a name.
const NAME_PART = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const HOST =
  /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/;
/** The names Docker Hub's registry goes by. */
const DOCKER_HUB_HOSTS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/**
 * A registry host as one spelling: lower case, its port without leading zeros. Undefined when
 * it is none: a bad name, a port outside 1 to 65535, an IPv4 address with a part over 255.
 */
function normalHost(host: string): string | undefined {
  const lower = host.toLowerCase();
  if (!HOST.test(lower)) return undefined;
  const port = /:(\d+)$/.exec(lower)?.[1];
  const name = port === undefined ? lower : lower.slice(0, -port.length - 1);
  if (port !== undefined && !(Number(port) >= 1 && Number(port) <= 65535)) return undefined;
  if (/^\d+(\.\d+){3}$/.test(name) && name.split('.').some((part) => Number(part) > 255)) {
    return undefined;
  }
  return port === undefined ? name : `${name}:${Number(port)}`;
}

/** Whether the first part of a name is a registry host, by Docker's own rule. */
function isHost(part: string): boolean {
  return part.includes('.') || part.includes(':') || part.toLowerCase() === 'localhost';
}

/**
 * Reads an image reference: `alpine:3.20` (an official image, namespace `library`), `acme/base`
 * (tag `latest`), `acme/base:1.2`, or one on a registry named by its host:
 * `ghcr.io/acme/svc:a`, `registry.example.com:5000/team/app`, `docker.io/library/alpine:3.20`.
 * Throws an Error that says what is wrong.
 */
export function parseImageRef(text: string): ImageRef {
  const fail = (why: string): never => {
    throw new Error(`'${text}' is not an image reference: ${why}`);
  };
  if (text.length === 0) fail('it is empty');
  if (/\s/.test(text)) fail('it contains a space');
  if (text.includes('@')) fail('digests (@sha256:...) are not supported, name a tag');

  const parts = text.split('/');
  const host = parts.length > 1 && isHost(parts[0] as string) ? (parts.shift() as string) : '';
  const registry = normalHost(host);
  if (host !== '' && registry === undefined) fail(`'${host}' is not a registry host`);
  const hub = host === '' || DOCKER_HUB_HOSTS.has(registry as string);
  const last = parts.pop() as string;
  const colon = last.indexOf(':');
  parts.push(colon === -1 ? last : last.slice(0, colon));
  const tag = colon === -1 ? 'latest' : last.slice(colon + 1);

  if (hub && parts.length > 2)
    fail('Docker Hub names have at most one slash (namespace/repository)');
  if (parts.some((part) => part.length === 0)) fail('a part of the name is empty');
  for (const part of parts) {
    if (part !== part.toLowerCase()) fail(`'${part}' has uppercase letters`);
    if (!NAME_PART.test(part)) {
      fail(`'${part}' may only hold a-z, 0-9 and single . _ - between them`);
    }
  }
  if (tag.length === 0) fail('the tag after ":" is empty');
  if (!TAG.test(tag)) fail(`'${tag}' is not a valid tag`);

  const repository = parts.pop() as string;
  const namespace = hub ? (parts[0] ?? 'library') : parts.join('/');
  const path = namespace === '' ? repository : `${namespace}/${repository}`;
  return {
    ...(host === '' ? {} : { registry: hub ? 'docker.io' : (registry as string) }),
    namespace,
    repository,
    tag,
    display: hub ? `${path}:${tag}` : `${registry as string}/${path}:${tag}`,
  };
}

/** Whether `image` is on Docker Hub, however it was named. */
export function isOnDockerHub(image: ImageRef): boolean {
  return image.registry === undefined || image.registry === 'docker.io';
}

/** The repository, as people name it: acme/svc on Docker Hub, ghcr.io/acme/svc elsewhere. */
export function repositoryName(image: ImageRef): string {
  const path = repositoryPath(image);
  return isOnDockerHub(image) ? path : `${image.registry}/${path}`;
}

/** The repository's path on its registry: library/alpine, acme/svc, team/sub/app. */
export function repositoryPath(image: ImageRef): string {
  return image.namespace === '' ? image.repository : `${image.namespace}/${image.repository}`;
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
