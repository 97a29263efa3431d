import {
  checkRegistryCredentials,
  readRegistryCredentials,
  registryCredentialNames,
} from '../../../webapp/registry/read-registry-credentials';

describe('registryCredentialNames', () => {
  it('names a host with its port, upper-cased, every other character an underscore', () => {
    expect(registryCredentialNames('ghcr.io')).toEqual({
      user: 'REGISTRY_GHCR_IO_USER',
      password: 'REGISTRY_GHCR_IO_PASSWORD',
    });
    expect(registryCredentialNames('registry.example.com:5000')).toEqual({
      user: 'REGISTRY_REGISTRY_EXAMPLE_COM_5000_USER',
      password: 'REGISTRY_REGISTRY_EXAMPLE_COM_5000_PASSWORD',
    });
    expect(registryCredentialNames('My-Registry.example')).toEqual({
      user: 'REGISTRY_MY_REGISTRY_EXAMPLE_USER',
      password: 'REGISTRY_MY_REGISTRY_EXAMPLE_PASSWORD',
    });
  });

  it("gives Docker Hub docker.io's names under each of its names", () => {
    for (const host of ['docker.io', 'index.docker.io', 'registry-1.docker.io', 'Docker.IO']) {
      expect(registryCredentialNames(host).user).toBe('REGISTRY_DOCKER_IO_USER');
    }
  });
});

describe('readRegistryCredentials', () => {
  it("reads a host's pair, and nothing for a host without one", () => {
    const credentialsFor = readRegistryCredentials({
      REGISTRY_GHCR_IO_USER: 'octocat',
      REGISTRY_GHCR_IO_PASSWORD: 'ghp_secret',
    });
    expect(credentialsFor('ghcr.io')).toEqual({ user: 'octocat', password: 'ghp_secret' });
    expect(credentialsFor('GHCR.io')).toEqual({ user: 'octocat', password: 'ghp_secret' });
    expect(credentialsFor('quay.io')).toBeUndefined();
  });

  it('falls back to DOCKERHUB_API_USER and DOCKERHUB_API_TOKEN for Docker Hub only', () => {
    const hubOnly = readRegistryCredentials({
      DOCKERHUB_API_USER: 'acme',
      DOCKERHUB_API_TOKEN: 'dckr_pat_x',
    });
    expect(hubOnly('docker.io')).toEqual({ user: 'acme', password: 'dckr_pat_x' });
    expect(hubOnly('registry-1.docker.io')).toEqual({ user: 'acme', password: 'dckr_pat_x' });
    expect(hubOnly('ghcr.io')).toBeUndefined();
    const both = readRegistryCredentials({
      DOCKERHUB_API_USER: 'acme',
      DOCKERHUB_API_TOKEN: 'dckr_pat_x',
      REGISTRY_DOCKER_IO_USER: 'puller',
      REGISTRY_DOCKER_IO_PASSWORD: 'dckr_pat_y',
    });
    expect(both('index.docker.io')).toEqual({ user: 'puller', password: 'dckr_pat_y' });
  });

  it('counts an empty variable as unset', () => {
    const credentialsFor = readRegistryCredentials({
      REGISTRY_GHCR_IO_USER: '',
      REGISTRY_GHCR_IO_PASSWORD: '',
    });
    expect(credentialsFor('ghcr.io')).toBeUndefined();
  });

  it('refuses half a pair, naming both variables and neither value', () => {
    const credentialsFor = readRegistryCredentials({ REGISTRY_GHCR_IO_PASSWORD: 'ghp_secret' });
    expect(() => credentialsFor('ghcr.io')).toThrow(
      'REGISTRY_GHCR_IO_USER and REGISTRY_GHCR_IO_PASSWORD: set both, or neither',
    );
    try {
      credentialsFor('ghcr.io');
    } catch (err) {
      expect((err as Error).message).not.toContain('ghp_secret');
    }
  });
});

describe('checkRegistryCredentials', () => {
  it('lists each half-set pair once, and nothing for whole or empty ones', () => {
    expect(
      checkRegistryCredentials({
        REGISTRY_GHCR_IO_USER: 'octocat',
        REGISTRY_GHCR_IO_PASSWORD: 'ghp_secret',
        REGISTRY_QUAY_IO_PASSWORD: 'quay_secret',
        REGISTRY_LOCALHOST_5000_USER: 'me',
        REGISTRY_REGISTRY_EXAMPLE_COM_USER: '',
        PATH: '/bin',
      }),
    ).toEqual([
      'REGISTRY_LOCALHOST_5000_USER and REGISTRY_LOCALHOST_5000_PASSWORD: set both, or neither',
      'REGISTRY_QUAY_IO_USER and REGISTRY_QUAY_IO_PASSWORD: set both, or neither',
    ]);
  });

  it('holds no value in what it says', () => {
    const problems = checkRegistryCredentials({ REGISTRY_QUAY_IO_PASSWORD: 'quay_secret' });
    expect(problems).toHaveLength(1);
    expect(problems.join('\n')).not.toContain('quay_secret');
  });
});
