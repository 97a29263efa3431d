import type { MockAgent } from 'undici';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHmac } from 'node:crypto';

/** X-Hub-Signature-256 as GitHub computes it: `sha256=` and the hex HMAC of the raw body. */
export function signBody(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export interface RunFields {
  /** owner/name */
  repository?: string;
  id?: number;
  action?: string;
  status?: string;
  conclusion?: string | null;
  display_title?: string;
  head_branch?: string;
  event?: string;
  created_at?: string;
}

/**
 * A workflow_run delivery shaped as GitHub's webhook payload docs show it: the run (with its
 * id, status, conclusion and page), the workflow, the repository and the sender.
 */
export function workflowRunPayload(fields: RunFields = {}): Record<string, unknown> {
  const repository = fields.repository ?? 'acme/images';
  const [owner, name] = repository.split('/') as [string, string];
  const id = fields.id ?? 4242;
  const created = fields.created_at ?? '2026-11-26T12:00:05Z';
  return {
    action: fields.action ?? 'completed',
    workflow_run: {
      id,
      name: 'build',
      node_id: 'WFR_kwLOAAAAAA',
      head_branch: fields.head_branch ?? 'main',
      head_sha: '0e2a89b191332bb87b4f2fefef2f597eba2197b3',
      path: '.github/workflows/build.yml',
      display_title: fields.display_title ?? 'build',
      run_number: 17,
      event: fields.event ?? 'workflow_dispatch',
      status: fields.status ?? 'completed',
      conclusion: fields.conclusion === undefined ? 'success' : fields.conclusion,
      workflow_id: 161335,
      url: `https://api.github.com/repos/${repository}/actions/runs/${id}`,
      html_url: `https://github.com/${repository}/actions/runs/${id}`,
      created_at: created,
      updated_at: created,
      run_attempt: 1,
      run_started_at: created,
      actor: { login: owner, type: 'User' },
      repository: { id: 186853002, name, full_name: repository, owner: { login: owner } },
    },
    workflow: {
      id: 161335,
      name: 'build',
      path: '.github/workflows/build.yml',
      state: 'active',
    },
    repository: {
      id: 186853002,
      name,
      full_name: repository,
      private: false,
      owner: { login: owner, type: 'Organization' },
      html_url: `https://github.com/${repository}`,
    },
    sender: { login: owner, type: 'User' },
  };
}

export interface PackageFields {
  action?: string;
  /** the package's owner (an organisation or a user) */
  owner?: string;
  /** the package's name: the image's repository */
  name?: string;
  tag?: string;
  digest?: string;
  package_type?: string;
  /**
   * registry.url: GitHub's real container deliveries (and its docs' example) name
   * https://CONTAINER.pkg.github.com/<owner>, though the image is pulled from ghcr.io
   */
  registryUrl?: string;
}

/** A digest of 64 hex digits made of `seed`, for tests that need several. */
export const digestOf = (seed: string) =>
  `sha256:${createHmac('sha256', 'digest').update(seed).digest('hex')}`;

/**
 * A registry_package published delivery of a container image on GitHub's registry, shaped as
 * GitHub sends it for `docker push ghcr.io/<owner>/<name>:<tag>`.
 */
export function registryPackagePayload(fields: PackageFields = {}): Record<string, unknown> {
  const owner = fields.owner ?? 'acme';
  const name = fields.name ?? 'base';
  const tag = fields.tag ?? 'latest';
  const digest = fields.digest ?? digestOf(`${owner}/${name}:${tag}`);
  const type = fields.package_type ?? 'CONTAINER';
  return {
    action: fields.action ?? 'published',
    registry_package: {
      id: 9056324,
      name,
      namespace: owner,
      description: '',
      ecosystem: type,
      package_type: type,
      html_url: `https://github.com/orgs/${owner}/packages/container/package/${name}`,
      created_at: '2026-09-19T19:21:05Z',
      updated_at: '2026-11-26T12:00:05Z',
      owner: { login: owner, id: 7076013, type: 'Organization' },
      package_version: {
        id: 564296960,
        version: digest,
        name: digest,
        description: '',
        summary: '',
        manifest: '',
        html_url: `https://github.com/orgs/${owner}/packages/container/${name}/564296960`,
        target_commitish: 'main',
        target_oid: '0e2a89b191332bb87b4f2fefef2f597eba2197b3',
        created_at: '0001-01-01T00:00:00Z',
        updated_at: '0001-01-01T00:00:00Z',
        metadata: [],
        container_metadata: {
          tag: { name: tag, digest },
          labels: { description: '', source: '', revision: '', image_url: '', licenses: '' },
          manifest: {
            digest,
            media_type: 'application/vnd.oci.image.index.v1+json',
            uri: `repositories/${owner}/${name}/manifests/${digest}`,
            size: 685,
          },
        },
        package_files: [],
        installation_command: `docker pull ghcr.io/${owner}/${name}:${tag}`,
        package_url: `ghcr.io/${owner}/${name}:${tag}`,
      },
      registry: {
        about_url:
          'https://docs.github.com/packages/learn-github-packages/introduction-to-github-packages',
        name: 'GitHub CONTAINER registry',
        type: 'CONTAINER',
        url: fields.registryUrl ?? `https://CONTAINER.pkg.github.com/${owner}`,
        vendor: 'GitHub Inc',
      },
    },
    repository: {
      id: 1060841726,
      name,
      full_name: `${owner}/${name}`,
      owner: { login: owner, type: 'Organization' },
    },
    sender: { login: owner, type: 'User' },
  };
}

/**
 * A graph file of a line of images on GHCR, `ghcr.io/acme/<name>:latest` each built FROM the one
 * before, by the `build.yml` workflow of `acme/<name>` with the token in GH_BUILD_TOKEN; its path.
 */
export function writeGhcrLine(names: readonly string[], delay = 10): string {
  const file = join(mkdtempSync(join(tmpdir(), 'dtp-ghcr-')), 'chains.yml');
  const images = names.map((name, index) => {
    const from = index === 0 ? '' : `\n    from: [ghcr.io/acme/${names[index - 1]}]`;
    return `  - image: ghcr.io/acme/${name}:latest${from}
    build: { target: github, repository: acme/${name}, workflow: build.yml, token_env: GH_BUILD_TOKEN }`;
  });
  writeFileSync(file, `delay: ${delay}\nimages:\n${images.join('\n')}\n`);
  return file;
}

/**
 * ghcr.io, on a MockAgent, for the images of `writeGhcrLine`: each manifest read (HEAD) answers
 * `digestOf(name)` as GHCR does (an OCI index), or 404 when it gives none. Read at each request,
 * so a test may change what it answers. Returns the names read, in order.
 */
export function answerGhcrDigests(
  agent: MockAgent,
  digestOf: (name: string) => string | undefined,
): string[] {
  const heads: string[] = [];
  agent
    .get('https://ghcr.io')
    .intercept({ path: /^\/v2\/acme\/\w+\/manifests\/latest$/, method: 'HEAD' })
    .reply((request) => {
      const name = /\/v2\/acme\/(\w+)\//.exec(request.path)?.[1] ?? '';
      heads.push(name);
      const digest = digestOf(name);
      return digest === undefined
        ? { statusCode: 404, data: '' }
        : {
            statusCode: 200,
            data: '',
            responseOptions: {
              headers: {
                'docker-content-digest': digest,
                'content-type': 'application/vnd.oci.image.index.v1+json',
              },
            },
          };
    })
    .persist();
  return heads;
}
