import { loadConfig } from '../../webapp/config';
import type { Journal, PendingTrigger } from '../../webapp/journal';
import { createPropagator } from '../../webapp/propagator';
import { buildServer } from '../../webapp/server';
import type { TriggerOutcome } from '../../webapp/trigger';
import { captureLogs } from './logs';
import { ManualTimers } from './timers';

export const hook = (user = 'maddouri', repo = 'void-docker', id = 'abc123') =>
  `https://registry.hub.docker.com/u/${user}/${repo}/hook/${id}/`;

/** A real-shaped Docker Hub push webhook body. */
export function delivery(
  tag: string,
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    callback_url: hook(),
    push_data: { pushed_at: 1764158400, images: [], tag, pusher: 'maddouri', media_type: 'x' },
    repository: {
      repo_name: 'maddouri/void-docker',
      namespace: 'maddouri',
      name: 'void-docker',
      owner: 'maddouri',
      status: 'Active',
      is_private: false,
    },
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

/** The web app with a chain on manual timers and a recorded trigger. */
export function buildTestApp<J extends Journal = ReturnType<typeof memoryJournal>>(
  env: Record<string, string> = {},
  journal: J = memoryJournal() as unknown as J,
) {
  const config = loadConfig({ PROPAGATION_DELAY: '100', DOCKERHUB_TRIGGER_TOKEN: 'tok', ...env });
  const logs = captureLogs('web');
  const timers = new ManualTimers();
  const triggered: string[] = [];
  let outcome: TriggerOutcome = { ok: true, dryRun: false, attempts: 1, status: 200 };
  const propagator = createPropagator({
    tags: config.tagSequence,
    delay: config.propagationDelay,
    log: logs.log,
    trigger: async (tag) => {
      triggered.push(tag);
      return outcome;
    },
    timers,
    journal,
    stallTimeout: config.stallTimeout,
    stallRetrigger: config.stallRetrigger,
  });
  const app = buildServer({
    config,
    log: logs.log,
    propagator,
    nextKickoff: () => new Date('2026-11-27T00:00:00Z'),
    version: '9.9.9',
  });
  return {
    app,
    config,
    logs,
    timers,
    triggered,
    propagator,
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
