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
    ['', /is empty/],
    ['ghcr.io/x/y', /'ghcr.io' is a registry host/],
    ['localhost:5000/x', /registry host/],
    ['docker.io/library/alpine', /registry host/],
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
    expect(() => parseImageRef('ghcr.io/x/y')).toThrow(
      "'ghcr.io/x/y' is not a Docker Hub image reference",
    );
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
      parseImageList('alpine, ghcr.io/x/y, Acme/base,, alpine@sha256:00');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain("'ghcr.io/x/y'");
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
