import { maskUrl } from '../../../webapp/secrets/mask-url';

describe('maskUrl', () => {
  it.each([
    [
      'a legacy trigger URL',
      'https://registry.hub.docker.com/u/acme/app/trigger/T0KEN/',
      'https://registry.hub.docker.com/u/acme/app/trigger/***/',
    ],
    [
      'a newer trigger URL',
      'https://hub.docker.com/api/build/v1/source/ab-12/trigger/T0KEN/call/',
      'https://hub.docker.com/api/build/v1/source/ab-12/trigger/***/call/',
    ],
    ['user info', 'https://me:T0KEN@proxy.example/base', 'https://***:***@proxy.example/base'],
    ['a user alone', 'https://T0KEN@proxy.example', 'https://***@proxy.example'],
    [
      'query values',
      'https://proxy.example/hook?token=T0KEN&x=1&T0KEN2',
      'https://proxy.example/hook?token=***&x=***&***',
    ],
    [
      'an encoded token',
      'https://u:T0%40KEN@proxy.example/trigger/T0%2FKEN/?k=T0%20KEN',
      'https://***:***@proxy.example/trigger/***/?k=***',
    ],
    [
      'a base URL, as written',
      'https://registry.hub.docker.com',
      'https://registry.hub.docker.com',
    ],
  ])('masks %s', (_shape, url, shown) => {
    const masked = maskUrl(url);
    expect(masked.shown).toBe(shown);
    expect(masked.shown).not.toMatch(/T0/);
  });

  it('masks every path segment of an opaque URL without /trigger/', () => {
    expect(maskUrl('https://hooks.example/services/T0/B1/T0KEN', true).shown).toBe(
      'https://hooks.example/***/***/***/***',
    );
  });

  it('lists each secret part as written and decoded, to scrub it from other text', () => {
    expect(maskUrl('https://u:T0%40KEN@h.example/?k=a+b').secrets).toEqual(
      expect.arrayContaining(['u', 'T0%40KEN', 'T0@KEN', 'a+b', 'a b']),
    );
  });

  it('shows nothing of a URL it cannot read', () => {
    expect(maskUrl('not a url T0KEN')).toEqual({ shown: '***', secrets: ['not a url T0KEN'] });
  });
});
