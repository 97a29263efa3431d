import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startFakeHub,
  type FakeHub,
  type HubRequest,
  type HubTurn,
} from '../../webapp/simulation/start-fake-hub';
import { startLocalDyno, type LocalDyno } from '../../webapp/simulation/start-local-dyno';
import { eventually, eventuallyRead } from '../helpers/eventually';
import {
  createFakeGitHubApp,
  generateAppKeyPair,
  type FakeGitHubApp,
} from '../helpers/fake-github-app';
import { startRegistry, type RunningRegistry } from '../helpers/start-registry';

/** seconds from a parent's build to its child's trigger */
const DELAY = 2;
/** ms a fake GitHub run takes */
const BUILD = 2000;
const TOKEN = 'ghp_e2eRegistryToken0123';
const HOOK_SECRET = 'e2e-github-webhook-secret-0123456789';

interface Status {
  upstream: { image: string; digest: string | null; readAt: string | null }[];
  graph: {
    nodes: { id: string; state: string | null; warning?: string }[];
    wave: { by: string } | null;
    lastWave: { built: number; total: number; failed: number; outcome?: string } | null;
  };
}

/** A graph on the real registry: svc:a built FROM its alpine, app FROM svc:a, both on GitHub. */
function graphFile(host: string, api: string, build = 'token_env: GH_TOKEN'): string {
  const file = join(mkdtempSync(join(tmpdir(), 'dtp-ci-')), 'chains.yml');
  writeFileSync(
    file,
    `delay: ${DELAY}
images:
  - image: ${host}/acme/svc:a
    from: ${host}/library/alpine:3.20
    build: { target: github, repository: acme/svc, workflow: build.yml, api_url: "${api}", ${build} }
  - image: ${host}/acme/app:latest
    from: ${host}/acme/svc:a
    build: { target: github, repository: acme/app, workflow: build.yml, api_url: "${api}", ${build} }
`,
  );
  return file;
}

interface Setup {
  hub: FakeHub;
  dyno: LocalDyno;
  status(): Promise<Status>;
  /** the dispatches of `repository` (acme/svc, acme/app) */
  dispatches(repository: string): { at: number; headers: Record<string, unknown> }[];
  /** SIGKILLs the whole tree and starts it again on the same disk */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

describe('images built on CI and kept on an OCI registry, end to end', () => {
  let registry: RunningRegistry;
  let setup: Setup | undefined;

  beforeAll(async () => {
    registry = await startRegistry();
  });
  afterAll(async () => {
    await registry?.stop();
  });
  afterEach(async () => {
    await setup?.stop();
    setup = undefined;
  });

  /**
   * The real registry holds the three images as built before; a fake GitHub builds each
   * dispatch in BUILD ms and then pushes its image there (no Docker Hub, no webhook), or fails
   * the run of the repositories in `failing`.
   */
  async function start(
    options: {
      env?: Record<string, string>;
      failing?: string[];
      /** repositories whose runs succeed without pushing anything */
      unpushed?: string[];
      app?: FakeGitHubApp;
      build?: string;
    } = {},
  ): Promise<Setup> {
    // Each test pushes images of its own: no digest of another test is ever the one read.
    const name = `t${Date.now().toString(36)}`;
    await registry.pushImage('library/alpine', '3.20', `${name}-alpine-1`);
    await registry.pushImage('acme/svc', 'a', `${name}-svc-0`);
    await registry.pushImage('acme/app', 'latest', `${name}-app-0`);
    let built = 0;
    const hub = await startFakeHub({
      user: 'acme',
      repo: 'svc',
      byRepository: true,
      buildTime: BUILD,
      intercept: (request: HubRequest, res): HubTurn | undefined => {
        if (options.app?.handle(request, res) === true) return { taken: true };
        if (request.build === undefined) return undefined;
        if (options.app !== undefined) {
          const bearer = /^Bearer (\S+)$/.exec(String(request.headers.authorization ?? ''))?.[1];
          if (bearer === undefined || !options.app.isValid(bearer)) return { status: 401 };
        }
        const { repository, tag } = request.build;
        if (options.failing?.includes(repository) === true) return { fails: true };
        // The image is pushed halfway through the run, as a workflow's push step does it.
        built += 1;
        const seed = `${name}-${repository}-${built}`;
        if (options.unpushed?.includes(repository) !== true) {
          // A run ends after its push step, however long the push takes on a busy machine.
          const pushed = () => {
            const run = hub.runs.findLast((entry) => entry.repository === repository);
            if (run !== undefined) run.endsAt = Math.max(run.endsAt, Date.now() + 100);
          };
          setTimeout(
            () => registry.pushImage(repository, tag, seed).then(pushed, () => {}),
            BUILD / 2,
          );
        }
        // No push webhook: the run's end and the registry are all there is.
        return { onBuilt: () => undefined };
      },
    });
    const env = {
      HOME: process.env.HOME ?? '/tmp',
      STATE_FILE: join(mkdtempSync(join(tmpdir(), 'dtp-state-')), 'pending.json'),
      GRAPH_FILE: graphFile(registry.host, hub.url, options.build),
      GH_TOKEN: TOKEN,
      DOCKERHUB_URL: hub.url,
      DOCKERHUB_API_URL: hub.url,
      TRIGGER_SCHEDULE: '0 0 0 1 1 *',
      UPSTREAM_POLL_INTERVAL: '1',
      UPSTREAM_QUIET: '0',
      RECONCILE_INTERVAL: '1',
      BUILD_POLL_INTERVAL: '1',
      ...options.env,
    };
    let dyno = await startLocalDyno(env);
    const status = async () =>
      (await (await fetch(`${dyno.url}/status`)).json()) as unknown as Status;
    return {
      hub,
      get dyno() {
        return dyno;
      },
      async restart() {
        await dyno.web.stop('SIGKILL');
        dyno = await startLocalDyno(env);
      },
      status,
      dispatches: (repository) =>
        hub.triggers
          .filter((call) => call.repository === repository)
          .map((call) => ({ at: call.at, headers: call.headers })),
      async stop() {
        await dyno.web.stop('SIGTERM');
        await hub.close();
      },
    };
  }

  /** Resolves once the upstream image has been read twice since the app started. */
  async function readsUpstreamTwice(t: Setup): Promise<void> {
    const first = await eventuallyRead(
      t.status,
      (status) => status.upstream[0]?.readAt != null,
      'a first read of the upstream image',
    );
    await eventually(
      async () => (await t.status()).upstream[0]?.readAt !== first.upstream[0]?.readAt,
      'a second read of the upstream image',
    );
  }

  const nodeState = (status: Status, id: string) =>
    status.graph.nodes.find((node) => node.id === id)?.state;

  it('starts the wave once when a new base image is pushed to the registry (not at the first read), and builds the child once its parent’s run succeeded, after the delay', async () => {
    setup = await start();
    const t = setup;
    await readsUpstreamTwice(t);
    expect(t.hub.triggers).toEqual([]);

    await registry.pushImage('library/alpine', '3.20', `new-base-${Date.now()}`);
    await eventually(() => t.dispatches('acme/svc').length === 1, 'the dispatch of svc:a', 15_000);
    const svcRun = t.hub.runs[0];
    expect(svcRun).toMatchObject({ api: 'github', tag: 'a', repository: 'acme/svc' });
    await eventually(() => t.dispatches('acme/app').length === 1, 'the dispatch of app', 15_000);
    const app = t.dispatches('acme/app')[0]?.at ?? 0;
    // never early; late by at most a poll and about a second on a busy machine
    expect(app - (svcRun?.endsAt ?? 0)).toBeGreaterThanOrEqual(DELAY * 1000 - 50);
    expect(app - (svcRun?.endsAt ?? 0)).toBeLessThan(DELAY * 1000 + 2500);

    const done = await eventuallyRead(
      t.status,
      (status) => status.graph.wave === null && status.graph.lastWave !== null,
      'the wave to end',
      15_000,
    );
    expect(done.graph.lastWave).toMatchObject({ built: 2, total: 2, failed: 0 });
    expect(done.graph.nodes.filter((node) => node.warning !== undefined)).toEqual([]);
    expect(t.dispatches('acme/svc')).toHaveLength(1);
    expect(t.dispatches('acme/app')).toHaveLength(1);
    // No Docker Hub webhook was ever sent: the runs' ends and the registry told it all.
    expect(t.hub.deliveries).toEqual([]);
    expect(t.dyno.web.output()).not.toContain(TOKEN);
  });

  it('builds the child once when its parent’s run ends while the app is down, after a restart on the same disk', async () => {
    setup = await start({ env: { RECONCILE_INTERVAL: '0' } });
    const t = setup;
    await readsUpstreamTwice(t);
    await registry.pushImage('library/alpine', '3.20', `new-base-${Date.now()}`);
    await eventually(() => t.dispatches('acme/svc').length === 1, 'the dispatch of svc:a', 15_000);
    await t.restart();
    // The run ended while nothing ran: found again among the workflow's runs, its end counts.
    await eventually(() => t.dispatches('acme/app').length === 1, 'the dispatch of app', 20_000);
    const app = t.dispatches('acme/app')[0]?.at ?? 0;
    expect(app - (t.hub.runs[0]?.endsAt ?? 0)).toBeGreaterThanOrEqual(DELAY * 1000 - 50);
    await eventuallyRead(
      t.status,
      (status) => status.graph.wave === null && status.graph.lastWave !== null,
      'the wave to end',
      15_000,
    );
    expect(t.dispatches('acme/svc')).toHaveLength(1);
    expect(t.dispatches('acme/app')).toHaveLength(1);
  });

  it('triggers nothing after a run that fails, and shows the node failed', async () => {
    setup = await start({ failing: ['acme/svc'] });
    const t = setup;
    await readsUpstreamTwice(t);
    await registry.pushImage('library/alpine', '3.20', `new-base-${Date.now()}`);
    await eventually(() => t.dispatches('acme/svc').length === 1, 'the dispatch of svc:a', 15_000);
    const ended = await eventuallyRead(
      t.status,
      (status) => status.graph.wave === null && status.graph.lastWave !== null,
      'the wave to end',
      15_000,
    );
    expect(nodeState(ended, `${registry.host}/acme/svc:a`)).toBe('failed');
    expect(nodeState(ended, `${registry.host}/acme/app:latest`)).toBe('blocked');
    expect(ended.graph.lastWave).toMatchObject({ failed: 1, outcome: 'failed' });
    expect(t.dispatches('acme/app')).toEqual([]);
  });

  it('says so on the page when a run succeeds without changing the image, and goes on', async () => {
    setup = await start({ unpushed: ['acme/svc'] });
    const t = setup;
    await readsUpstreamTwice(t);
    await registry.pushImage('library/alpine', '3.20', `new-base-${Date.now()}`);
    await eventually(() => t.dispatches('acme/app').length === 1, 'the dispatch of app', 15_000);
    const status = await t.status();
    const svc = status.graph.nodes.find((node) => node.id === `${registry.host}/acme/svc:a`);
    expect(svc?.warning).toMatch(/succeeded, but its image's digest did not change/);
    const page = await (await fetch(`${t.dyno.url}/`)).text();
    expect(page).toContain('did not change');
  });

  it("takes a signed workflow_run delivery as the run's end at once, and refuses unsigned and mis-signed ones with nothing changed", async () => {
    // Neither the run nor the registry is read in time: only the delivery can tell.
    setup = await start({
      env: {
        GITHUB_WEBHOOK_SECRET: HOOK_SECRET,
        BUILD_POLL_INTERVAL: '3600',
        RECONCILE_INTERVAL: '0',
      },
    });
    const t = setup;
    await readsUpstreamTwice(t);
    await registry.pushImage('library/alpine', '3.20', `new-base-${Date.now()}`);
    await eventually(() => t.dispatches('acme/svc').length === 1, 'the dispatch of svc:a', 15_000);
    const run = t.hub.runs[0];
    const svc = `${registry.host}/acme/svc:a`;
    await eventually(
      async () => ['awaited', 'building'].includes(nodeState(await t.status(), svc) ?? ''),
      'svc:a to be built',
    );
    const body = JSON.stringify({
      action: 'completed',
      workflow_run: {
        id: run?.id,
        status: 'completed',
        conclusion: 'success',
        html_url: run?.url,
      },
      repository: { full_name: 'acme/svc' },
    });
    const send = (headers: Record<string, string>, text = body) =>
      fetch(`${t.dyno.url}/github`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-github-event': 'workflow_run',
          ...headers,
        },
        body: text,
      });
    const sign = (secret: string, text = body) =>
      `sha256=${createHmac('sha256', secret).update(text).digest('hex')}`;

    const before = await t.status();
    expect((await send({})).status).toBe(401);
    expect(
      (await send({ 'x-hub-signature-256': sign('another-secret-of-enough-length') })).status,
    ).toBe(401);
    // Signed, but the body is not the one that was signed.
    expect(
      (await send({ 'x-hub-signature-256': sign(HOOK_SECRET) }, body.replace('success', 'failure')))
        .status,
    ).toBe(401);
    expect(
      (
        await send(
          { 'x-hub-signature-256': sign(HOOK_SECRET, '{}'), 'x-github-event': 'ping' },
          '{}',
        )
      ).status,
    ).toBe(204);
    const after = await t.status();
    expect(after.graph).toEqual(before.graph);

    const heard = Date.now();
    const accepted = await send({ 'x-hub-signature-256': sign(HOOK_SECRET) });
    expect(accepted.status).toBe(200);
    expect(await accepted.json()).toMatchObject({ state: 'success' });
    await eventually(() => t.dispatches('acme/app').length === 1, 'the dispatch of app', 15_000);
    const app = t.dispatches('acme/app')[0]?.at ?? 0;
    expect(app - heard).toBeGreaterThanOrEqual(DELAY * 1000 - 50);
    expect(app - heard).toBeLessThan(DELAY * 1000 + 1500);
    expect(t.dyno.web.output()).not.toContain(HOOK_SECRET);
  });

  it("builds with a GitHub App: makes an installation token from the App's JWT, uses it, and makes a new one before its hour ends", async () => {
    const keys = generateAppKeyPair();
    // Tokens are renewed 5 minutes before their end: these are renewed 1.5 s after they are made.
    const app = createFakeGitHubApp({
      appId: '424242',
      publicKey: keys.publicKey,
      installations: { 'acme/svc': 71, 'acme/app': 72 },
      tokenLifetime: 5 * 60_000 + 1500,
    });
    setup = await start({
      app,
      build: 'token_env: NO_SUCH_TOKEN',
      env: { GITHUB_APP_ID: '424242', GITHUB_APP_PRIVATE_KEY: keys.privateKeyPem },
    });
    const t = setup;
    await readsUpstreamTwice(t);
    await registry.pushImage('library/alpine', '3.20', `new-base-${Date.now()}`);
    await eventually(() => t.dispatches('acme/app').length === 1, 'the dispatch of app', 20_000);
    const bearer = (headers: Record<string, unknown>) =>
      /^Bearer (\S+)$/.exec(String(headers.authorization ?? ''))?.[1];
    const used = [...t.dispatches('acme/svc'), ...t.dispatches('acme/app')].map((call) =>
      bearer(call.headers),
    );
    const made = app.tokens.map((token) => token.token);
    // Each dispatch went with a token the App made, for that repository's installation.
    expect(used.every((token) => token !== undefined && made.includes(token))).toBe(true);
    const installationOf = (token: string | undefined) =>
      app.tokens.find((entry) => entry.token === token)?.installation;
    expect(installationOf(used[0])).toBe(71);
    expect(installationOf(used[1])).toBe(72);
    // svc:a's token was renewed before app's build: more than one token for 71.
    expect(app.tokens.filter((token) => token.installation === 71).length).toBeGreaterThanOrEqual(
      2,
    );
    expect(app.requests.some((request) => request.path === '/repos/acme/svc/installation')).toBe(
      true,
    );
    expect(t.dyno.web.output()).not.toMatch(/ghs_/);
  });
});
