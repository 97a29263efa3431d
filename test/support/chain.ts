import { startFakeHub, type FakeHub, type FakeHubOptions } from '../../webapp/fakehub';
import { freePort, procfileCommand, runCommand, type Running } from './procfile';

/** A 6-field cron pattern for `seconds` from now, in UTC. */
export function patternIn(seconds: number): string {
  const at = new Date(Date.now() + seconds * 1000);
  return `${at.getUTCSeconds()} ${at.getUTCMinutes()} ${at.getUTCHours()} * * *`;
}

export interface Deployed {
  hub: FakeHub;
  web: Running;
  port: number;
  url: string;
  stop(): Promise<void>;
}

/**
 * Runs the Procfile's web command (foreman, web and clock) as Heroku would, pointed at a fake
 * Docker Hub on loopback that sends the push webhooks back.
 */
export async function deploy(
  env: Record<string, string>,
  hubOptions: Partial<FakeHubOptions> = {},
  query = '',
): Promise<Deployed> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const route = env.PROPAGATION_ROUTE ?? '/propagate';
  const hub = await startFakeHub({
    user: env.DOCKERHUB_USER ?? 'maddouri',
    repo: env.DOCKERHUB_REPO ?? 'void-docker',
    webhookUrl: () => `${url}${route}${query}`,
    ...hubOptions,
  });
  const web = runCommand(procfileCommand('web'), {
    PORT: String(port),
    DOCKERHUB_URL: hub.url,
    GITHUB_API_URL: hub.url,
    GITLAB_URL: hub.url,
    DOCKERHUB_TRIGGER_TOKEN: 'e2e-secret-token',
    TRIGGER_SCHEDULE: '0 0 0 1 1 *',
    ...env,
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
      () => reject(new Error(`only ${list().length} of ${count} ${event}s came`)),
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
