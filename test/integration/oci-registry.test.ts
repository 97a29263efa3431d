import { Agent } from 'undici';
import {
  createOciRegistry,
  RegistryError,
  type OciRegistry,
} from '../../webapp/registry/create-oci-registry';
import { captureLogs } from '../helpers/logs';
import { startRegistry, type RunningRegistry } from '../helpers/start-registry';

let running: RunningRegistry;
let reader: OciRegistry;
const dispatcher = new Agent();

beforeAll(async () => {
  running = await startRegistry();
  reader = createOciRegistry({
    dispatcher,
    timeout: 5000,
    log: captureLogs().log,
    credentialsFor: () => undefined,
    retries: { initialDelay: 100, maxDelay: 400, giveUpAfter: 2000 },
  });
});

afterAll(async () => {
  await running?.stop();
  await dispatcher.close();
});

const image = (name: string, tag: string) => ({ registry: running.host, name, tag });

async function kindOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(RegistryError);
    return (err as RegistryError).kind;
  }
  throw new Error('expected a failure');
}

describe('createOciRegistry on a real registry', () => {
  it('reads the digest an OCI image was pushed with', async () => {
    const pushed = await running.pushImage('acme/svc', '1.0');
    expect(await reader.readDigest(image('acme/svc', '1.0'))).toBe(pushed);
  });

  it('reads the digest of a Docker v2 manifest', async () => {
    const pushed = await running.pushImage('acme/legacy', 'latest', 'legacy', 'docker');
    expect(await reader.readDigest(image('acme/legacy', 'latest'))).toBe(pushed);
  });

  it("reads a multi-platform tag's index digest, not one platform's", async () => {
    const amd64 = await running.pushImage('acme/multi', 'amd64', 'amd64');
    const arm64 = await running.pushImage('acme/multi', 'arm64', 'arm64');
    const index = await running.pushIndex('acme/multi', '2.0', [amd64, arm64]);
    const read = await reader.readDigest(image('acme/multi', '2.0'));
    expect(read).toBe(index);
    expect([amd64, arm64]).not.toContain(read);
  });

  it('reads the new digest once new content is pushed to the same tag', async () => {
    const first = await running.pushImage('acme/moving', 'stable', 'first');
    expect(await reader.readDigest(image('acme/moving', 'stable'))).toBe(first);
    const second = await running.pushImage('acme/moving', 'stable', 'second');
    expect(second).not.toBe(first);
    expect(await reader.readDigest(image('acme/moving', 'stable'))).toBe(second);
  });

  it('reads a repository whose name has two slashes', async () => {
    const pushed = await running.pushImage('team/group/svc', 'v3');
    expect(await reader.readDigest(image('team/group/svc', 'v3'))).toBe(pushed);
  });

  it('answers not-found for a missing tag and for a missing repository', async () => {
    await running.pushImage('acme/tagged', 'here');
    expect(await kindOf(reader.readDigest(image('acme/tagged', 'missing')))).toBe('not-found');
    expect(await kindOf(reader.readDigest(image('acme/never-pushed', 'here')))).toBe('not-found');
  });

  it('answers not-found once the manifest is deleted', async () => {
    const pushed = await running.pushImage('acme/gone', 'soon');
    await running.deleteManifest('acme/gone', pushed);
    expect(await kindOf(reader.readDigest(image('acme/gone', 'soon')))).toBe('not-found');
  });
});
