import { Agent } from 'undici';
import { createHubApi, type HubApi } from '../../../webapp/registry/create-hub-api';
import { startFakeRegistry, type FakeRegistry } from '../../helpers/fake-registry';
import { captureLogs } from '../../helpers/logs';

const TOKEN = 'dckr_pat_loopback-SECRET';

describe('createHubApi against the fake registry on loopback', () => {
  let registry: FakeRegistry;
  let dispatcher: Agent;
  let api: HubApi;
  let logs: ReturnType<typeof captureLogs>;
  const waits: number[] = [];

  beforeEach(async () => {
    registry = await startFakeRegistry({ pageSize: 2 });
    dispatcher = new Agent();
    logs = captureLogs();
    waits.length = 0;
    api = createHubApi({
      baseUrl: registry.url,
      user: 'acme',
      token: TOKEN,
      dispatcher,
      timeout: 5000,
      retries: { initialDelay: 1000, maxDelay: 8000, giveUpAfter: 60_000 },
      log: logs.log,
      clock: {
        now: () => 0,
        random: () => 0,
        sleep: async (ms) => {
          waits.push(ms);
        },
      },
    });
  });

  afterEach(async () => {
    await dispatcher.close();
    await registry.close();
  });

  it('logs in, pages, renews an expired bearer and waits out a 429', async () => {
    const names = ['init', 'step-1', 'step-2', 'step-3', 'latest'];
    names.forEach((name, i) =>
      registry.recordPush('acme', 'app', name, new Date(Date.UTC(2026, 10, 26, 10, i))),
    );
    registry.recordPush('acme', 'app', 'init', new Date('2026-11-26T11:00:00.123Z'), 'sha256:i2');
    registry.requireLogin('acme', TOKEN);

    const { tags } = await api.listTags('acme', 'app');
    expect(tags.map((t) => t.name)).toEqual(['init', 'latest', 'step-3', 'step-2', 'step-1']);
    expect(tags[0]).toEqual({
      name: 'init',
      pushedAt: Date.parse('2026-11-26T11:00:00.123Z'),
      digest: 'sha256:i2',
    });
    expect(registry.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /v2/auth/token',
      'GET /v2/namespaces/acme/repositories/app/tags?page_size=100',
      'GET /v2/namespaces/acme/repositories/app/tags?page=2&page_size=2',
      'GET /v2/namespaces/acme/repositories/app/tags?page=3&page_size=2',
    ]);

    registry.revokeTokens();
    registry.setFailure({ status: 429, retryAfter: 7, times: 1 });
    expect(await api.getTag('acme', 'app', 'latest')).toMatchObject({ name: 'latest' });
    expect(waits).toEqual([7000]);
    expect(registry.requests.slice(4).map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /v2/namespaces/acme/repositories/app/tags/latest',
      'GET /v2/namespaces/acme/repositories/app/tags/latest',
      'POST /v2/auth/token',
      'GET /v2/namespaces/acme/repositories/app/tags/latest',
    ]);
    expect(logs.text()).not.toContain(TOKEN);
    expect(logs.text()).not.toContain('fake-bearer-');
  });

  it('says not-found for a missing tag and a missing repository', async () => {
    registry.recordPush('acme', 'app', 'init');
    registry.requireLogin('acme', TOKEN);
    await expect(api.getTag('acme', 'app', 'nope')).rejects.toMatchObject({ kind: 'not-found' });
    await expect(api.listTags('acme', 'other')).rejects.toMatchObject({ kind: 'not-found' });
  });

  it('says unauthorized when the token is wrong', async () => {
    registry.requireLogin('acme', 'another-token');
    await expect(api.listTags('acme', 'app')).rejects.toMatchObject({
      kind: 'unauthorized',
      status: 401,
    });
  });
});
