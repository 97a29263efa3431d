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
  const route = env.PROPAGATION_ROUTE ?? '/propagate';
  let dyno: Promise<LocalDyno> | undefined;
  const hub = await startTestHub({
    user: env.DOCKERHUB_USER ?? 'maddouri',
    repo: env.DOCKERHUB_REPO ?? 'void-docker',
    // A push is announced once the web process listens, as Docker Hub's would be.
    webhookUrl: async () => `${(await dyno)?.url}${route}${options.query ?? ''}`,
    ...options.hub,
  });
  dyno = startLocalDyno(
    {
      HOME: process.env.HOME ?? '/tmp',
      // never the app's own journal: a test must leave nothing owed behind
      STATE_FILE: join(mkdtempSync(join(tmpdir(), 'dtp-state-')), 'pending.json'),
      DOCKERHUB_URL: hub.url,
      BUILD_GITHUB_API_URL: hub.url,
      GITLAB_URL: hub.url,
      DOCKERHUB_TRIGGER_TOKEN: 'e2e-secret-token',
      TRIGGER_SCHEDULE: '0 0 0 1 1 *',
      ...env,
    },
    { kickoff: options.kickoff === true },
  );
  const { web, port, url } = await dyno.catch(async (err: unknown) => {
    await hub.close();
    throw err;
  });
  return {
    hub,
    web,
    port,
    url,
    async stop() {
      await web.stop('SIGTERM');
      await hub.close();
    },
  };
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
