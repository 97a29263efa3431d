import { startTestHub, type FakeHub, type TestHubOptions } from './fake-hub';
import { freePort, procfileCommand, runCommand, type Running } from './procfile';

/** A 6-field cron pattern for `at`, in UTC. */
export function patternAt(at: Date): string {
  return `${at.getUTCSeconds()} ${at.getUTCMinutes()} ${at.getUTCHours()} * * *`;
}

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
  let current: { url: string; ready: Promise<unknown> } | undefined;
  const hub = await startTestHub({
    user: env.DOCKERHUB_USER ?? 'maddouri',
    repo: env.DOCKERHUB_REPO ?? 'void-docker',
    // A push is announced only once the web process listens, as Docker Hub's would be.
    webhookUrl: async () => {
      if (current === undefined) throw new Error('nothing is deployed');
      await current.ready;
      return `${current.url}${route}${options.query ?? ''}`;
    },
    ...options.hub,
  });
  // A kick-off planned for a moment that passed before the clock was up would never come:
  // then start again with a longer lead, rather than wait for tomorrow.
  for (let lead = 2; ; lead *= 2) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const kickoffAt = new Date(Math.ceil(Date.now() / 1000 + lead) * 1000);
    const web = runCommand(procfileCommand('web'), {
      PORT: String(port),
      DOCKERHUB_URL: hub.url,
      GITHUB_API_URL: hub.url,
      GITLAB_URL: hub.url,
      DOCKERHUB_TRIGGER_TOKEN: 'e2e-secret-token',
      TRIGGER_SCHEDULE: options.kickoff === true ? patternAt(kickoffAt) : '0 0 0 1 1 *',
      ...env,
    });
    const ready = waitForReady(web);
    current = { url, ready };
    const planned = await ready;
    const stop = async () => {
      await web.stop('SIGTERM');
      await hub.close();
    };
    if (options.kickoff !== true || planned === kickoffAt.toISOString()) {
      return { hub, web, port, url, stop };
    }
    await web.stop('SIGTERM');
    if (lead >= 16) {
      await hub.close();
      throw new Error(`the clock was never up ${lead} s before its kick-off`);
    }
  }
}

/** Resolves with the clock's next kick-off once web listens and the clock has started. */
export async function waitForReady(web: Running, timeout = 20000): Promise<string> {
  const [, next] = await Promise.all([
    web.waitFor(/"name":"web".*listening on port/, timeout),
    web.waitFor(/"name":"clock".*next kick-off at/, timeout),
  ]);
  return (JSON.parse(next.slice(next.indexOf('{'))) as { next: string }).next;
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
