import { MockAgent } from 'undici';
import { loadConfig } from '../../../webapp/config';
import { createOciRegistry } from '../../../webapp/registry/create-oci-registry';
import { captureLogs } from '../../helpers/logs';

describe('a GitHub App set by half', () => {
  it('is a config error naming GITHUB_APP_PRIVATE_KEY', () => {
    let problem = 'accepted';
    try {
      const config = loadConfig({
        BUILD_TARGET: 'github',
        BUILD_GITHUB_REPOSITORY: 'acme/images',
        BUILD_GITHUB_WORKFLOW: 'build.yml',
        GITHUB_APP_ID: '123456',
      });
      problem = `accepted (dryRun: ${String(config.dryRun)})`;
    } catch (err) {
      problem = (err as Error).message;
    }
    expect(problem).toContain('GITHUB_APP_PRIVATE_KEY');
  });
});

describe('a registry asking to wait a year', () => {
  it('is read again within the hour', async () => {
    const agent = new MockAgent();
    agent.disableNetConnect();
    let heads = 0;
    agent
      .get('https://ghcr.io')
      .intercept({ path: () => true, method: 'HEAD' })
      .reply(() => {
        heads++;
        return heads === 1
          ? {
              statusCode: 429,
              data: '',
              responseOptions: { headers: { 'retry-after': '31536000' } },
            }
          : {
              statusCode: 200,
              data: '',
              responseOptions: {
                headers: {
                  'docker-content-digest':
                    'sha256:6457d53fb065d6f250e1504b9bc42d5b6c65941d57532c072d929dd0628977d0',
                },
              },
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
    const image = { registry: 'ghcr.io', name: 'acme/svc', tag: 'a' };
    await registry.readDigest(image).catch(() => {});
    now += 3600_000;
    const second = await registry.readDigest(image).then(
      (digest) => digest,
      (err: Error) => err.message,
    );
    expect(second).toMatch(/^sha256:/);
  });
});
