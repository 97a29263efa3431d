import { parseImageList, parseImageRef } from '../../../webapp/chain/parse-image-ref';

describe('parseImageRef', () => {
  it.each([
    ['alpine:3.20', 'library', 'alpine', '3.20'],
    ['alpine', 'library', 'alpine', 'latest'],
    ['library/node:22-slim', 'library', 'node', '22-slim'],
    ['acme/base', 'acme', 'base', 'latest'],
    ['acme/my_base-image.v2:1.2.3-RC1', 'acme', 'my_base-image.v2', '1.2.3-RC1'],
  ])('reads %s', (text, namespace, repository, tag) => {
    expect(parseImageRef(text)).toEqual({
      namespace,
      repository,
      tag,
      display: `${namespace}/${repository}:${tag}`,
    });
  });

  it.each([
    ['ghcr.io/acme/svc:a', 'ghcr.io', 'acme', 'svc', 'a', 'ghcr.io/acme/svc:a'],
    ['quay.io/x/y:1', 'quay.io', 'x', 'y', '1', 'quay.io/x/y:1'],
    [
      'registry.example.com:5000/team/sub/app',
      'registry.example.com:5000',
      'team/sub',
      'app',
      'latest',
      'registry.example.com:5000/team/sub/app:latest',
    ],
    ['localhost:5000/app', 'localhost:5000', '', 'app', 'latest', 'localhost:5000/app:latest'],
    [
      '127.0.0.1:5000/acme/svc:a',
      '127.0.0.1:5000',
      'acme',
      'svc',
      'a',
      '127.0.0.1:5000/acme/svc:a',
    ],
    ['GHCR.io/acme/svc', 'ghcr.io', 'acme', 'svc', 'latest', 'ghcr.io/acme/svc:latest'],
    [
      '127.0.0.1:05101/acme/svc:a',
      '127.0.0.1:5101',
      'acme',
      'svc',
      'a',
      '127.0.0.1:5101/acme/svc:a',
    ],
    // Docker Hub named with its host is the same image as without one.
    [
      'docker.io/library/alpine:3.20',
      'docker.io',
      'library',
      'alpine',
      '3.20',
      'library/alpine:3.20',
    ],
    ['docker.io/alpine', 'docker.io', 'library', 'alpine', 'latest', 'library/alpine:latest'],
    ['index.docker.io/acme/base:1', 'docker.io', 'acme', 'base', '1', 'acme/base:1'],
  ])('reads %s on its registry', (text, registry, namespace, repository, tag, display) => {
    expect(parseImageRef(text)).toEqual({ registry, namespace, repository, tag, display });
  });

  it.each([
    ['', /is empty/],
    ['ghcr..io/x/y', /'ghcr..io' is not a registry host/],
    ['127.0.0.1:99999/x/y', /'127.0.0.1:99999' is not a registry host/],
    ['127.0.0.1:0/x/y', /is not a registry host/],
    ['999.999.999.999:5101/x/y', /is not a registry host/],
    ['docker.io/a/b/c', /at most one slash/],
    ['ghcr.io/acme/Svc', /'Svc' has uppercase/],
    ['a/b/c', /at most one slash/],
    ['alpine@sha256:0123456789abcdef', /digests/],
    ['alpine:3.20@sha256:0123', /digests/],
    ['/alpine', /part of the name is empty/],
    ['acme/', /part of the name is empty/],
    ['alpine:', /tag after ":" is empty/],
    [':3.20', /part of the name is empty/],
    ['Acme/base', /'Acme' has uppercase/],
    ['acme/base:a b', /contains a space/],
    [' alpine', /contains a space/],
    ['acme/-base', /may only hold/],
    ['acme/base:.hidden', /not a valid tag/],
  ])('rejects %j', (text, message) => {
    expect(() => parseImageRef(text)).toThrow(message);
  });

  it('quotes the text it rejects', () => {
    expect(() => parseImageRef('ghcr.io/x/Y')).toThrow("'ghcr.io/x/Y' is not an image reference");
  });
});

describe('parseImageList', () => {
  it('reads a comma-separated list, spaces allowed around items', () => {
    expect(
      parseImageList('alpine:3.20, acme/base ,library/node:22-slim').map((i) => i.display),
    ).toEqual(['library/alpine:3.20', 'acme/base:latest', 'library/node:22-slim']);
  });

  it('is empty for an empty or blank value', () => {
    expect(parseImageList('')).toEqual([]);
    expect(parseImageList('  ')).toEqual([]);
  });

  it('names every bad item in one message', () => {
    let message = '';
    try {
      parseImageList('alpine, ghcr.io/x/Y, Acme/base,, alpine@sha256:00');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain("'ghcr.io/x/Y'");
    expect(message).toContain("'Acme/base'");
    expect(message).toContain('item 4 is empty');
    expect(message).toContain("'alpine@sha256:00'");
    expect(message).not.toContain("'alpine' is not");
  });

  it('rejects the same image named twice, even spelled differently', () => {
    expect(() => parseImageList('alpine:latest, library/alpine')).toThrow(
      "'library/alpine' is listed twice (as library/alpine:latest)",
    );
  });
});
