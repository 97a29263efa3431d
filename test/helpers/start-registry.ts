import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { freePort } from '../../webapp/simulation/run-procfile';

/** The manifest formats a test image can be pushed as. */
export type ManifestFormat = 'oci' | 'docker';

export interface RunningRegistry {
  /** 127.0.0.1:<port>, as an image names its registry */
  host: string;
  /** http://127.0.0.1:<port> */
  url: string;
  /**
   * Pushes a small image (a config and one layer made from `seed`, so that another seed is
   * another digest) under `name:tag`, and resolves to the digest the registry gave it.
   */
  pushImage(name: string, tag: string, seed?: string, format?: ManifestFormat): Promise<string>;
  /** Pushes an OCI index of manifests pushed before (by digest), as a multi-platform tag is. */
  pushIndex(name: string, tag: string, manifests: readonly string[]): Promise<string>;
  /** Deletes a manifest by its digest: every tag that pointed at it is gone with it. */
  deleteManifest(name: string, digest: string): Promise<void>;
  /** Stops the registry and removes its storage. */
  stop(): Promise<void>;
}

const binary = 'docker-registry';
const mediaTypes = {
  oci: {
    manifest: 'application/vnd.oci.image.manifest.v1+json',
    config: 'application/vnd.oci.image.config.v1+json',
    layer: 'application/vnd.oci.image.layer.v1.tar',
  },
  docker: {
    manifest: 'application/vnd.docker.distribution.manifest.v2+json',
    config: 'application/vnd.docker.container.image.v1+json',
    layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  },
};
const indexType = 'application/vnd.oci.image.index.v1+json';

/** The registry's path on this machine, or an error that says how to get it. */
function findRegistry(): string {
  const found = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', binary], { encoding: 'utf8' });
  if (found.status === 0 && found.stdout.trim() !== '') return found.stdout.trim();
  throw new Error(
    `no ${binary} found: install Debian's docker-registry package (apt-get install -y docker-registry), ` +
      'the CNCF Distribution registry; .ci/run installs it where it is missing',
  );
}

/**
 * A real OCI Distribution registry (CNCF Distribution, Debian's docker-registry) on loopback, its
 * storage in a fresh temporary folder, without auth. Resolves once it answers GET /v2/.
 */
export async function startRegistry(readyWithin = 15_000): Promise<RunningRegistry> {
  const path = findRegistry();
  // Another process may take the free port before the registry binds it: a new one is tried.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOn(path, await freePort(), readyWithin);
    } catch (err) {
      if (attempt >= 3 || !/address already in use/.test((err as Error).message)) throw err;
    }
  }
}

async function startOn(path: string, port: number, readyWithin: number): Promise<RunningRegistry> {
  const folder = mkdtempSync(join(tmpdir(), 'dtp-registry-'));
  const config = join(folder, 'config.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: warn',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${JSON.stringify(join(folder, 'storage'))}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n'),
  );
  // The registry reads REGISTRY_<SECTION>_<KEY> variables over its config file, and this app's
  // own REGISTRY_<HOST>_USER would be taken for such:
  // https://distribution.github.io/distribution/about/configuration/#override-specific-configuration-options
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('REGISTRY_')),
  );
  const child: ChildProcess = spawn(path, ['serve', config], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  let exited: string | undefined;
  const ended = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      exited = `${binary} exited (${signal ?? code})`;
      resolve();
    });
    child.on('error', (err) => {
      exited = `${binary} did not start: ${err.message}`;
      resolve();
    });
  });
  const host = `127.0.0.1:${port}`;
  const url = `http://${host}`;
  const dispatcher = new Agent({ connections: 4 });

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      if (exited === undefined) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await ended;
        clearTimeout(killer);
      }
      await dispatcher.close();
      rmSync(folder, { recursive: true, force: true });
    })());

  const deadline = Date.now() + readyWithin;
  for (;;) {
    if (exited !== undefined) {
      await stop();
      throw new Error(`${exited} before it was ready: ${stderr.trim()}`);
    }
    const ready = await request(`${url}/v2/`, { dispatcher, headersTimeout: 1000 })
      .then(async (answer) => {
        await answer.body.dump();
        return answer.statusCode === 200;
      })
      .catch(() => false);
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(
        `${binary} did not answer GET /v2/ within ${readyWithin} ms: ${stderr.trim()}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  /** One call to the registry's API, which must answer `expected`. */
  async function call(
    method: 'POST' | 'PUT' | 'DELETE',
    target: string,
    expected: number,
    body?: { content: Buffer; type: string },
  ): Promise<Record<string, string | string[] | undefined>> {
    const answer = await request(new URL(target, url), {
      method,
      dispatcher,
      ...(body === undefined
        ? {}
        : {
            body: body.content,
            headers: { 'content-type': body.type, 'content-length': String(body.content.length) },
          }),
    });
    const text = await answer.body.text();
    if (answer.statusCode !== expected) {
      throw new Error(`${method} ${target}: HTTP ${answer.statusCode} ${text} ${stderr.trim()}`);
    }
    return answer.headers;
  }

  /** A monolithic upload: a POST opens it, one PUT with the digest closes it. */
  async function pushBlob(name: string, content: Buffer, type: string) {
    const digest = sha256(content);
    const opened = await call('POST', `/v2/${name}/blobs/uploads/`, 202);
    const location = new URL(String(opened.location), url);
    location.searchParams.set('digest', digest);
    await call('PUT', location.href, 201, { content, type: 'application/octet-stream' });
    return { mediaType: type, digest, size: content.length };
  }

  const pushed = new Map<string, { mediaType: string; size: number }>();

  async function pushManifest(name: string, tag: string, document: object, type: string) {
    const content = Buffer.from(JSON.stringify(document));
    const headers = await call('PUT', `/v2/${name}/manifests/${tag}`, 201, { content, type });
    const digest = String(headers['docker-content-digest']);
    if (digest !== sha256(content)) {
      throw new Error(
        `the registry named ${digest} for a manifest whose digest is ${sha256(content)}`,
      );
    }
    pushed.set(digest, { mediaType: type, size: content.length });
    return digest;
  }

  return {
    host,
    url,
    async pushImage(name, tag, seed = `${name}:${tag}`, format = 'oci') {
      const types = mediaTypes[format];
      // The registry keeps blobs as they come: it never opens a layer, so any bytes will do.
      const layer = await pushBlob(name, Buffer.from(`the layer of ${seed}\n`), types.layer);
      const image = {
        architecture: 'amd64',
        os: 'linux',
        config: { Labels: { seed } },
        rootfs: { type: 'layers', diff_ids: [layer.digest] },
      };
      const config = await pushBlob(name, Buffer.from(JSON.stringify(image)), types.config);
      return pushManifest(
        name,
        tag,
        { schemaVersion: 2, mediaType: types.manifest, config, layers: [layer] },
        types.manifest,
      );
    },
    async pushIndex(name, tag, manifests) {
      const entries = manifests.map((digest) => {
        const known = pushed.get(digest);
        if (known === undefined) throw new Error(`${digest} was not pushed to this registry`);
        return { ...known, digest };
      });
      return pushManifest(
        name,
        tag,
        { schemaVersion: 2, mediaType: indexType, manifests: entries },
        indexType,
      );
    },
    async deleteManifest(name, digest) {
      await call('DELETE', `/v2/${name}/manifests/${digest}`, 202);
    },
    stop,
  };
}

function sha256(content: Buffer): string {
  return `sha256:${createHash('sha256').update(content).digest('hex')}`;
}
