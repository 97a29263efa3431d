import { MockAgent } from 'undici';
import * as redaction from '../../../webapp/secrets/redact';
import { createOciRegistry } from '../../../webapp/registry/create-oci-registry';
import { captureLogs } from '../../helpers/logs';

const DIGEST = 'sha256:6457d53fb065d6f250e1504b9bc42d5b6c65941d57532c072d929dd0628977d0';

describe('the registry reader kept tokens', () => {
  it('scrubs with the tokens that may still be used, not with every token ever issued', async () => {
    const agent = new MockAgent();
    agent.disableNetConnect();
    let issued = 0;
    let failNext = false;
    agent
      .get('https://ghcr.io')
      .intercept({ path: () => true, method: () => true })
      .reply((options) => {
        if (options.path.startsWith('/token')) {
          issued++;
          return { statusCode: 200, data: JSON.stringify({ token: `tok-${issued}-xxxxxxxx` }) };
        }
        const auth = String((options.headers as Record<string, string>).authorization ?? '');
        if (!auth.startsWith('Bearer ')) {
          return {
            statusCode: 401,
            data: '',
            responseOptions: {
              headers: {
                'www-authenticate': 'Bearer realm="https://ghcr.io/token",service="ghcr.io"',
              },
            },
          };
        }
        if (failNext) return { statusCode: 418, data: '' };
        return {
          statusCode: 200,
          data: '',
          responseOptions: { headers: { 'docker-content-digest': DIGEST } },
        };
      })
      .persist();
    let now = 1_000_000;
    const registry = createOciRegistry({
      dispatcher: agent,
      timeout: 5000,
      log: captureLogs().log,
      clock: { now: () => now, random: () => 0.5, sleep: async (ms) => void (now += ms) },
      credentialsFor: () => undefined,
      retries: { initialDelay: 1000, maxDelay: 8000, giveUpAfter: 20_000 },
    });
    // A look every RECONCILE_INTERVAL (600 s): each finds its token expired and gets a new one.
    for (let look = 0; look < 300; look++) {
      await registry.readDigest({ registry: 'ghcr.io', name: 'acme/svc', tag: 'a' });
      now += 600_000;
    }
    expect(issued).toBe(300);
    const spy = jest.spyOn(redaction, 'redact');
    failNext = true;
    await registry.readDigest({ registry: 'ghcr.io', name: 'acme/svc', tag: 'a' }).catch(() => {});
    const sizes = spy.mock.calls.map(([, secrets]) => secrets.length);
    spy.mockRestore();
    // At most the tokens still cached (and the login): not 300 and counting.
    expect(Math.max(...sizes)).toBeLessThanOrEqual(10);
  });
});
