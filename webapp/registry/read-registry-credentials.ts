/** A login to one registry host. */
export interface RegistryCredentials {
  user: string;
  password: string;
}

/** The names Docker Hub's registry goes by; the first is the one its variables are named after. */
export const dockerHubHosts: readonly string[] = [
  'docker.io',
  'index.docker.io',
  'registry-1.docker.io',
];

/** Docker Hub's tag API login, which its registry accepts too. */
const hubApiNames = { user: 'DOCKERHUB_API_USER', password: 'DOCKERHUB_API_TOKEN' };

/**
 * The two variables that hold a registry host's login: ghcr.io is REGISTRY_GHCR_IO_USER and
 * REGISTRY_GHCR_IO_PASSWORD, registry.example.com:5000 is REGISTRY_REGISTRY_EXAMPLE_COM_5000_USER
 * and ..._PASSWORD. Docker Hub's names are docker.io's, whichever of its names is given.
 */
export function registryCredentialNames(host: string): { user: string; password: string } {
  const lower = host.trim().toLowerCase();
  const canonical = dockerHubHosts.includes(lower) ? (dockerHubHosts[0] as string) : lower;
  const stem = `REGISTRY_${canonical.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
  return { user: `${stem}_USER`, password: `${stem}_PASSWORD` };
}

/**
 * The login of each registry host, from the environment: the host's REGISTRY_<HOST>_USER and
 * REGISTRY_<HOST>_PASSWORD, else for Docker Hub DOCKERHUB_API_USER and DOCKERHUB_API_TOKEN. No
 * login is undefined (anonymous reads). Half a pair throws an Error that names both variables,
 * never a value. An empty variable counts as unset.
 */
export function readRegistryCredentials(
  env: NodeJS.ProcessEnv | Record<string, string | undefined>,
): (host: string) => RegistryCredentials | undefined {
  return (host) => {
    const names = registryCredentialNames(host);
    const own = readPair(env, names);
    if (own !== undefined || !dockerHubHosts.includes(host.trim().toLowerCase())) return own;
    return readPair(env, hubApiNames);
  };
}

/**
 * Every variable of a REGISTRY_<HOST>_USER and REGISTRY_<HOST>_PASSWORD pair that is set
 * without the other, as one line each, for the start-up check.
 */
export function checkRegistryCredentials(
  env: NodeJS.ProcessEnv | Record<string, string | undefined>,
): string[] {
  const stems = new Set<string>();
  for (const [name, value] of Object.entries(env)) {
    const match = /^(REGISTRY_[A-Z0-9_]+)_(USER|PASSWORD)$/.exec(name);
    if (match !== null && isSet(value)) stems.add(match[1] as string);
  }
  return [...stems]
    .sort()
    .map((stem) => ({ user: `${stem}_USER`, password: `${stem}_PASSWORD` }))
    .filter((names) => isSet(env[names.user]) !== isSet(env[names.password]))
    .map(halfPair);
}

function readPair(
  env: Record<string, string | undefined>,
  names: { user: string; password: string },
): RegistryCredentials | undefined {
  const user = env[names.user];
  const password = env[names.password];
  if (isSet(user) && isSet(password)) return { user, password };
  if (isSet(user) || isSet(password)) throw new Error(halfPair(names));
  return undefined;
}

function halfPair(names: { user: string; password: string }): string {
  return `${names.user} and ${names.password}: set both, or neither`;
}

function isSet(value: string | undefined): value is string {
  return value !== undefined && value !== '';
}
