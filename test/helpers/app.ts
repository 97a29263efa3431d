import { MockAgent } from 'undici';
import { loadConfig } from '../../webapp/config';
import { buildPushPayload } from '../../webapp/simulation/build-push-payload';
import type { TriggerOutcome } from '../../webapp/types';
import type { Journal, PendingTrigger } from '../../webapp/chain/create-journal';
import { createWebApp } from '../../webapp/web/create-web-app';
import { captureLogs } from './logs';
import { ManualTimers } from './timers';

export const hook = (user = 'maddouri', repo = 'void-docker', id = 'abc123') =>
  `https://registry.hub.docker.com/u/${user}/${repo}/hook/${id}/`;

/** A real-shaped Docker Hub push webhook body for the default repository. */
export function delivery(
  tag: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    ...buildPushPayload({
      hubUrl: 'https://registry.hub.docker.com',
      user: 'maddouri',
      repo: 'void-docker',
      tag,
      pushedAt: 1764158400,
      hookId: 'abc123',
    }),
    ...overrides,
  };
}

export function memoryJournal(
  initial: PendingTrigger[] = [],
): Journal & { saved: PendingTrigger[][] } {
  let current = initial;
  const saved: PendingTrigger[][] = [];
  return {
    saved,
    load: () => current,
    save: (pending) => {
      current = [...pending];
      saved.push(current);
    },
  };
}

/** Lets every promise that is already settled run its callbacks. */
export const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The web app, built as the web process builds it, on manual timers with a recorded trigger. */
export function buildTestApp<J extends Journal = ReturnType<typeof memoryJournal>>(
  env: Record<string, string> = {},
  journal: J = memoryJournal() as unknown as J,
  server: { requestTimeout?: number } = {},
) {
  const config = loadConfig({ PROPAGATION_DELAY: '100', DOCKERHUB_TRIGGER_TOKEN: 'tok', ...env });
  const logs = captureLogs('web');
  const timers = new ManualTimers();
  const triggered: string[] = [];
  // Docker Hub's API, for the tests that make it answer
  const registry = new MockAgent();
  registry.disableNetConnect();
  let outcome: TriggerOutcome = { ok: true, dryRun: false, attempts: 1, status: 200 };
  const web = createWebApp(config, logs.log, {
    trigger: async (tag) => {
      triggered.push(tag);
      return outcome;
    },
    clock: timers,
    journal,
    dispatcher: registry,
    version: '9.9.9',
    ...server,
  });
  const app = web.server;
  return {
    app,
    config,
    logs,
    timers,
    triggered,
    propagator: web.propagator,
    web,
    registry,
    journal,
    failTriggers: (next: TriggerOutcome) => {
      outcome = next;
    },
    post: (body: unknown, query = '') =>
      app.inject({
        method: 'POST',
        url: `${config.propagationRoute}${query}`,
        headers: { 'content-type': 'application/json' },
        payload: typeof body === 'string' ? body : JSON.stringify(body),
      }),
  };
}
