import { parseChallenge } from '../../../webapp/registry/parse-challenge';

describe('parseChallenge', () => {
  it("reads Docker Hub's bearer challenge", () => {
    expect(
      parseChallenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
      ),
    ).toEqual({
      scheme: 'bearer',
      realm: 'https://auth.docker.io/token',
      service: 'registry.docker.io',
      scope: 'repository:library/alpine:pull',
    });
  });

  it('keeps commas and escaped quotes inside quoted values', () => {
    expect(
      parseChallenge(
        'Bearer realm="https://auth.example.com/token?a=1,b=2",scope="repository:acme/svc:pull,push",service="say \\"hi\\""',
      ),
    ).toEqual({
      scheme: 'bearer',
      realm: 'https://auth.example.com/token?a=1,b=2',
      service: 'say "hi"',
      scope: 'repository:acme/svc:pull,push',
    });
  });

  it('reads the scheme and the parameter names whatever their case, with spaces around =', () => {
    expect(parseChallenge('BEARER Realm = "https://ghcr.io/token" , SERVICE="ghcr.io"')).toEqual({
      scheme: 'bearer',
      realm: 'https://ghcr.io/token',
      service: 'ghcr.io',
    });
  });

  it('reads bare values, slashes and colons included', () => {
    expect(
      parseChallenge(
        'Bearer realm=https://quay.io/v2/auth,service=quay.io,scope=repository:a/b:pull',
      ),
    ).toEqual({
      scheme: 'bearer',
      realm: 'https://quay.io/v2/auth',
      service: 'quay.io',
      scope: 'repository:a/b:pull',
    });
  });

  it('prefers Bearer to Basic, in one header or in several, whichever comes first', () => {
    const bearer = { scheme: 'bearer', realm: 'https://r.example/token' };
    expect(parseChallenge('Basic realm="x", Bearer realm="https://r.example/token"')).toEqual(
      bearer,
    );
    expect(
      parseChallenge(['Basic realm="Registry Realm"', 'Bearer realm="https://r.example/token"']),
    ).toEqual(bearer);
    expect(parseChallenge('Negotiate abc==, Bearer realm="https://r.example/token"')).toEqual(
      bearer,
    );
  });

  it('answers Basic when that is the only scheme it can answer', () => {
    expect(parseChallenge('Basic realm="Registry Realm"')).toEqual({ scheme: 'basic' });
    expect(parseChallenge(['Negotiate', 'basic realm="a, b"'])).toEqual({ scheme: 'basic' });
  });

  it('answers nothing for no header, an unknown scheme, or a Bearer without a realm', () => {
    expect(parseChallenge(undefined)).toBeUndefined();
    expect(parseChallenge([])).toBeUndefined();
    expect(parseChallenge('')).toBeUndefined();
    expect(parseChallenge('Negotiate')).toBeUndefined();
    expect(parseChallenge('Bearer service="registry.docker.io"')).toBeUndefined();
    expect(parseChallenge('Bearer realm=""')).toBeUndefined();
  });

  it('keeps the first of a parameter given twice', () => {
    expect(parseChallenge('Bearer realm="https://a/token", realm="https://b/token"')).toEqual({
      scheme: 'bearer',
      realm: 'https://a/token',
    });
  });

  it('does not take a parameter of a later challenge for the Bearer one', () => {
    expect(
      parseChallenge('Bearer realm="https://a/token", Basic realm="b", scope="repository:x:pull"'),
    ).toEqual({ scheme: 'bearer', realm: 'https://a/token' });
  });

  it('drops a quoted value that never ends, keeping what came before it', () => {
    expect(parseChallenge('Bearer realm="https://a/token", scope="repository:x')).toEqual({
      scheme: 'bearer',
      realm: 'https://a/token',
    });
  });
});
