import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalDyno, type LocalDyno } from '../../webapp/simulation/start-local-dyno';
import { startTestHub, type FakeHub, type TestHubOptions } from './fake-hub';
import type { Running } from './procfile';

export { waitForReady } from '../../webapp/simulation/start-local-dyno';

export interface Deployed {
  hub: FakeHub;
  web: Running;
  port: number;
  url: string;
  /** starts the web command again, on the same hub, on a new port and a fresh disk */
  restart(env?: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
}

export interface DeployOptions {
  hub?: Omit<TestHubOptions, 'user' | 'repo' | 'webhookUrl'>;
  /** the webhook URL's query string, e.g. `?token=...` */
  query?: string;
  /** have the clock kick the chain off a moment after both processes are up */
  kickoff?: boolean;
}

/**
 * Runs the Procfile's web command (foreman, web and clock) as Heroku would, pointed at a fake
 * Docker Hub on loopback that sends the push webhooks back, and resolves once the web process
 * listens and the clock has planned its next kick-off.
 */
export async function deploy(
  env: Record<string, string>,
  options: DeployOptions = {},
): Promise<Deployed> {
  let dyno: Promise<LocalDyno> | undefined;
  const route = env.PROPAGATION_ROUTE ?? '/propagate';
  const hub = await startTestHub({
    user: env.DOCKERHUB_USER ?? 'maddouri',
    repo: env.DOCKERHUB_REPO ?? 'void-docker',
    // A push is announced once the web process listens, as Docker Hub's would be.
    webhookUrl: async () => `${(await dyno)?.url}${route}${options.query ?? ''}`,
    ...options.hub,
  });
  const redeploy = (more: Record<string, string>) => {
    dyno = startLocalDyno(
      {
        HOME: process.env.HOME ?? '/tmp',
        // a fresh disk: never the app's own journal, and nothing owed left behind
        STATE_FILE: join(mkdtempSync(join(tmpdir(), 'dtp-state-')), 'pending.json'),
        DOCKERHUB_URL: hub.url,
        DOCKERHUB_API_URL: hub.url,
        BUILD_GITHUB_API_URL: hub.url,
        GITLAB_URL: hub.url,
        DOCKERHUB_TRIGGER_TOKEN: 'e2e-secret-token',
        TRIGGER_SCHEDULE: '0 0 0 1 1 *',
        ...env,
        ...more,
      },
      { kickoff: options.kickoff === true },
    );
    return dyno;
  };
  const first = await redeploy({}).catch(async (err: unknown) => {
    await hub.close();
    throw err;
  });
  const deployed: Deployed = {
    hub,
    web: first.web,
    port: first.port,
    url: first.url,
    async restart(more = {}) {
      const next = await redeploy(more);
      Object.assign(deployed, { web: next.web, port: next.port, url: next.url });
    },
    async stop() {
      await deployed.web.stop('SIGTERM');
      await hub.close();
    },
  };
  return deployed;
}

/** Resolves when the hub's list behind `event` holds `count` entries. */
function reach(hub: FakeHub, event: 'trigger' | 'delivery', count: number, timeout: number) {
  const list = () => (event === 'trigger' ? hub.triggers : hub.deliveries);
  return new Promise<void>((resolve, reject) => {
    if (list().length >= count) return resolve();
    const timer = setTimeout(
      () => reject(new Error(`waited ${timeout} ms for ${count} ${event}s; ${list().length} came`)),
      timeout,
    );
    const onEvent = () => {
      if (list().length < count) return;
      clearTimeout(timer);
      hub.off(event, onEvent);
      resolve();
    };
    hub.on(event, onEvent);
  });
}

/** Resolves when the hub has seen `count` triggers. */
export const triggersReach = (hub: FakeHub, count: number, timeout = 20000) =>
  reach(hub, 'trigger', count, timeout);

/** Resolves when the hub has delivered `count` webhooks. */
export const deliveriesReach = (hub: FakeHub, count: number, timeout = 20000) =>
  reach(hub, 'delivery', count, timeout);
