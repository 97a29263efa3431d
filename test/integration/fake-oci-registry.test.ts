import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { Agent } from 'undici';
import { createOciRegistry, type OciRegistry } from '../../webapp/registry/create-oci-registry';
import {
  startFakeHub,
  type FakeHubOptions,
  type RegistryBuild,
} from '../../webapp/simulation/start-fake-hub';
import { captureLogs } from '../helpers/logs';

const TOKEN = 'ghp_fakeRegistryToken0123';

/** The fake hub, read by the app's own registry reader and dispatched to as GitHub is. */
async function start(options: Partial<FakeHubOptions> = {}) {
  const webhooks: string[] = [];
  const hub = await startFakeHub({
    user: 'acme',
    repo: 'svc',
    byRepository: true,
    buildTime: 300,
    // Any webhook is a failure of these tests: the images are not on Docker Hub.
    webhookUrl: () => {
      webhooks.push('webhook');
      return 'http://127.0.0.1:9/never';
    },
    imageOf: (request) =>
      request.build.repository === 'acme/images'
        ? { on: 'registry', name: 'ghcr-io/acme/svc', tag: request.build.tag }
        : undefined,
    ...options,
  });
  const dispatcher = new Agent();
  const registry: OciRegistry = createOciRegistry({
    dispatcher,
    timeout: 2000,
    log: captureLogs().log,
    credentialsFor: () => undefined,
    retries: { initialDelay: 10, maxDelay: 50, giveUpAfter: 200 },
  });
  const host = new URL(hub.url).host;
  const read = (tag: string) =>
    registry.readDigest({ registry: host, name: 'ghcr-io/acme/svc', tag });
  const dispatch = async (tag: string) =>
    fetch(`${hub.url}/repos/acme/images/actions/workflows/build.yml/dispatches`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ref: 'main', inputs: { tag }, return_run_details: true }),
    });
  const readRun = async (id: number) =>
    (await (
      await fetch(`${hub.url}/repos/acme/images/actions/runs/${id}`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      })
    ).json()) as { status: string; conclusion: string | null };
  return {
    hub,
    read,
    dispatch,
    readRun,
    webhooks,
    close: async () => {
      await dispatcher.close();
      await hub.close();
    },
  };
}

describe("the fake hub's OCI registry", () => {
  let setup: Awaited<ReturnType<typeof start>> | undefined;
  afterEach(async () => {
    await setup?.close();
    setup = undefined;
  });

  it('answers the API check, and each tag recorded with the digest of its manifest, to anyone', async () => {
    setup = await start();
    const { hub } = setup;
    const check = await fetch(`${hub.url}/v2/`);
    expect(check.status).toBe(200);
    expect(check.headers.get('docker-distribution-api-version')).toBe('registry/2.0');

    const made = hub.oci.recordPush('ghcr-io/acme/svc', 'a');
    expect(await setup.read('a')).toBe(made);
    const manifest = await fetch(`${hub.url}/v2/ghcr-io/acme/svc/manifests/a`);
    const body = await manifest.text();
    expect(manifest.headers.get('docker-content-digest')).toBe(made);
    expect(`sha256:${createHash('sha256').update(body).digest('hex')}`).toBe(made);
    // read by its digest too
    expect((await fetch(`${hub.url}/v2/ghcr-io/acme/svc/manifests/${made}`)).status).toBe(200);

    // a tag built again is a new image
    const again = hub.oci.recordPush('ghcr-io/acme/svc', 'a');
    expect(again).not.toBe(made);
    expect(await setup.read('a')).toBe(again);
  });

  it('answers 404 for a tag or a repository it does not hold', async () => {
    setup = await start();
    setup.hub.oci.recordPush('ghcr-io/acme/svc', 'a');
    await expect(setup.read('b')).rejects.toMatchObject({ kind: 'not-found', status: 404 });
    const other = await fetch(`${setup.hub.url}/v2/quay-io/acme/none/manifests/a`);
    expect(other.status).toBe(404);
    expect(await other.json()).toMatchObject({ errors: [{ code: 'MANIFEST_UNKNOWN' }] });
  });

  it("changes a GitHub-built image's digest as its run ends, and sends no Docker Hub webhook", async () => {
    setup = await start();
    const { hub } = setup;
    const before = hub.oci.recordPush('ghcr-io/acme/svc', 'a');
    const built = once(hub, 'registry-build') as Promise<[RegistryBuild]>;
    const answer = await setup.dispatch('a');
    expect(answer.status).toBe(200);
    const { workflow_run_id: id } = (await answer.json()) as { workflow_run_id: number };
    expect(hub.runs).toEqual([
      expect.objectContaining({ id, image: 'ghcr-io/acme/svc:a', fails: false }),
    ]);
    // While it runs, the image is the one built before.
    expect(await setup.readRun(id)).toMatchObject({ status: 'in_progress', conclusion: null });
    expect(await setup.read('a')).toBe(before);

    const [build] = await built;
    expect(build).toMatchObject({ image: 'ghcr-io/acme/svc:a', run: { id } });
    expect(build.at).toBeGreaterThanOrEqual(hub.runs[0]?.endsAt ?? Infinity);
    const ended = once(hub, 'run-ended');
    expect(await setup.readRun(id)).toMatchObject({ status: 'completed', conclusion: 'success' });
    await ended;
    expect(await setup.read('a')).toBe(build.digest);
    expect(build.digest).not.toBe(before);
    expect(setup.webhooks).toEqual([]);
    expect(hub.deliveries).toEqual([]);
  });

  it('shows the new digest to a read that comes after the run ends, however late its timer is', async () => {
    setup = await start({ buildTime: 0 });
    const { hub } = setup;
    const before = hub.oci.recordPush('ghcr-io/acme/svc', 'a');
    const answer = await setup.dispatch('a');
    const { workflow_run_id: id } = (await answer.json()) as { workflow_run_id: number };
    // The run has ended by now (0 ms), whether or not the timer has fired yet.
    expect(await setup.readRun(id)).toMatchObject({ conclusion: 'success' });
    expect(await setup.read('a')).not.toBe(before);
  });

  it('keeps the digest of a run that fails', async () => {
    setup = await start({
      buildTime: 0,
      intercept: (request) => (request.build ? { fails: true } : undefined),
    });
    const { hub } = setup;
    const before = hub.oci.recordPush('ghcr-io/acme/svc', 'a');
    const answer = await setup.dispatch('a');
    const { workflow_run_id: id } = (await answer.json()) as { workflow_run_id: number };
    const ended = once(hub, 'run-ended');
    expect(await setup.readRun(id)).toMatchObject({ status: 'completed', conclusion: 'failure' });
    await ended;
    expect(await setup.read('a')).toBe(before);
    expect(hub.registryBuilds).toEqual([]);
    expect(setup.webhooks).toEqual([]);
  });
});
