import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A manifest read the fake registry answered. */
export interface ManifestRead {
  /** the repository's path, e.g. acme/svc */
  name: string;
  /** the tag or digest asked for */
  reference: string;
  /** the digest answered, or null for a 404 */
  digest: string | null;
  at: number;
}

export interface FakeOciRegistry {
  /** A new image under name:tag, built now: its manifest, and so its digest, is new. */
  recordPush(name: string, tag: string): string;
  /** the digest name:tag has now, if it has one */
  digestOf(name: string, tag: string): string | undefined;
  /**
   * Answers `GET /v2/` and `HEAD` or `GET /v2/<name>/manifests/<reference>`; false for any other
   * request. `onRead` sees each manifest read once it is answered.
   */
  handle(req: IncomingMessage, res: ServerResponse, onRead?: (read: ManifestRead) => void): boolean;
}

const mediaType = 'application/vnd.oci.image.manifest.v1+json';
// A path component of a repository's name, as the distribution spec allows it.
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const MANIFEST = new RegExp(`^/v2/(${COMPONENT}(?:/${COMPONENT})*)/manifests/([^/]+)$`);
const REFERENCE = /^(?:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}|sha256:[a-f0-9]{64})$/;
const empty = {
  mediaType: 'application/vnd.oci.empty.v1+json',
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
};

/**
 * An OCI Distribution registry's reads, to mount in any node:http server: the API check and the
 * manifests of the tags recorded, each with the Docker-Content-Digest of its body, for anyone
 * (no login). Every push makes a manifest of its own, so a tag built again has a new digest.
 */
export function createFakeOciRegistry(): FakeOciRegistry {
  const tags = new Map<string, { body: string; digest: string }>();
  let pushes = 0;

  const find = (name: string, reference: string) => {
    if (!reference.startsWith('sha256:')) return tags.get(`${name}:${reference}`);
    for (const [key, manifest] of tags) {
      if (key.startsWith(`${name}:`) && manifest.digest === reference) return manifest;
    }
    return undefined;
  };

  return {
    recordPush(name, tag) {
      pushes += 1;
      const body = JSON.stringify({
        schemaVersion: 2,
        mediaType,
        artifactType: 'application/vnd.example.simulated',
        config: empty,
        layers: [empty],
        annotations: {
          'org.opencontainers.image.ref.name': tag,
          'org.opencontainers.image.created': new Date().toISOString(),
          'org.opencontainers.image.revision': String(pushes),
        },
      });
      const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`;
      tags.set(`${name}:${tag}`, { body, digest });
      return digest;
    },
    digestOf: (name, tag) => tags.get(`${name}:${tag}`)?.digest,
    handle(req, res, onRead) {
      const method = req.method ?? 'GET';
      const path = (req.url ?? '/').split('?')[0] as string;
      if (method !== 'GET' && method !== 'HEAD') return false;
      const headers = { 'docker-distribution-api-version': 'registry/2.0' };
      if (path === '/v2/' || path === '/v2') {
        res.writeHead(200, { ...headers, 'content-type': 'application/json' });
        res.end(method === 'HEAD' ? undefined : '{}');
        return true;
      }
      const match = MANIFEST.exec(path);
      if (match === null) return false;
      const [name, reference] = [match[1] as string, decodeURIComponent(match[2] as string)];
      const manifest = REFERENCE.test(reference) ? find(name, reference) : undefined;
      if (manifest === undefined) {
        const body = JSON.stringify({
          errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: { name } }],
        });
        res.writeHead(404, { ...headers, 'content-type': 'application/json' });
        res.end(method === 'HEAD' ? undefined : body);
      } else {
        res.writeHead(200, {
          ...headers,
          'content-type': mediaType,
          'content-length': Buffer.byteLength(manifest.body),
          'docker-content-digest': manifest.digest,
          etag: `"${manifest.digest}"`,
        });
        res.end(method === 'HEAD' ? undefined : manifest.body);
      }
      onRead?.({ name, reference, digest: manifest?.digest ?? null, at: Date.now() });
      return true;
    },
  };
}
