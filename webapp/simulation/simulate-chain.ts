import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config';
import type { Running } from './run-procfile';
import { startLocalDyno, type LocalDyno } from './start-local-dyno';
import { startFakeHub, type FakeHub } from './start-fake-hub';

export interface SimulationOptions {
  /** seconds between a push and the next trigger, instead of PROPAGATION_DELAY */
  delay: number;
  /** seconds the fake hub takes to "build" a tag */
  buildTime: number;
  print: (line: string) => void;
}

/**
 * Runs the whole chain with the user's config against a fake hub on loopback, through the
 * Procfile's web command (foreman, web and clock), with a kick-off a moment from now.
 * Resolves with the reason it failed, or undefined when the last tag was built.
 */
export async function simulateChain(
  config: Config,
  env: NodeJS.ProcessEnv,
  options: SimulationOptions,
): Promise<string | undefined> {
  const { print } = options;
  const tags = config.tagSequence;
  const secret = config.webhookSecrets[0];
  const query = secret === undefined ? '' : `?token=${secret}`;
  let dyno: Promise<LocalDyno> | undefined;
  const hub = await startFakeHub({
    user: config.userName,
    repo: config.repoName,
    buildTime: options.buildTime * 1000,
    webhookUrl: async () => `${(await dyno)?.url}${config.propagationRoute}${query}`,
  });
  const state = mkdtempSync(join(tmpdir(), 'simulate-'));
  print(
    `simulating ${tags.join(' → ')} on ${config.userName}/${config.repoName} (${config.target.name}), ` +
      `delay ${options.delay} s, build ${options.buildTime} s`,
  );
  dyno = startLocalDyno(
    {
      ...env,
      ...pointAt(hub, config),
      PROPAGATION_DELAY: String(options.delay),
      STATE_FILE: join(state, 'pending.json'),
    },
    { kickoff: true },
  );
  // Listened to from the start: the clock may kick off before this process has seen both
  // processes' ready lines, and what it says then is printed once they are up.
  const early: (() => void)[] = [];
  let up = false;
  const whenUp = (event: () => void) => (up ? event() : early.push(event));
  let finish: (reason: string | undefined) => void = () => undefined;
  const outcome = new Promise<string | undefined>((resolve) => (finish = resolve));
  let started = Date.now();
  const elapsed = (at = Date.now()) => `${(Math.max(0, at - started) / 1000).toFixed(1)} s`;
  hub.on('trigger', (trigger: FakeHub['triggers'][number]) =>
    whenUp(() =>
      print(
        `[${elapsed(trigger.at)}] triggered ${trigger.tag} (${trigger.api} answered ${trigger.status})`,
      ),
    ),
  );
  hub.on('delivery', (delivery: FakeHub['deliveries'][number]) =>
    whenUp(() => {
      if (delivery.status !== 200) {
        finish(
          `the app refused the push webhook of ${delivery.tag}: ${delivery.status} ${delivery.body}`,
        );
        return;
      }
      const next = tags[tags.indexOf(delivery.tag) + 1];
      print(`[${elapsed(delivery.at)}] built ${delivery.tag}; push webhook answered 200`);
      if (next === undefined) finish(undefined);
      else print(`[${elapsed(delivery.at)}] next: ${next} in ${options.delay} s`);
    }),
  );
  hub.on('error', (err: Error) => finish(`the fake hub could not reach the app: ${err.message}`));

  let web: Running;
  try {
    ({ web } = await dyno);
  } catch (err) {
    await hub.close();
    rmSync(state, { recursive: true, force: true });
    print(`chain FAILED: ${(err as Error).message}`);
    return (err as Error).message;
  }
  print('web and clock are up; the clock kicks the chain off in a moment');
  started = Date.now();
  up = true;
  for (const event of early.splice(0)) event();
  const budget = (20 + tags.length * (options.delay + options.buildTime) + 20) * 1000;
  const timer = setTimeout(() => {
    const built = hub.deliveries.filter((d) => d.status === 200).map((d) => d.tag);
    const waiting = tags[built.length] ?? tags[0];
    finish(`timed out after ${budget / 1000} s waiting for ${waiting}`);
  }, budget);
  void web.exited.then(({ code, signal }) =>
    finish(`the web command exited (${code ?? signal}) before the chain was done`),
  );
  const failure = await outcome;
  clearTimeout(timer);

  await web.stop('SIGTERM');
  await hub.close();
  rmSync(state, { recursive: true, force: true });
  if (failure === undefined) {
    print(`chain complete: ${tags.join(' → ')} built in order in ${elapsed()}`);
  } else {
    print(`chain FAILED: ${failure}`);
    print('last lines of the app:');
    for (const line of web.output().trim().split('\n').slice(-15)) print(`  ${line}`);
  }
  return failure;
}

/** Every build target at the fake hub, with a made-up token so that nothing runs dry. */
function pointAt(hub: FakeHub, config: Config): Record<string, string> {
  const token = 'simulated-token';
  return {
    DOCKERHUB_URL: hub.url,
    DOCKERHUB_API_URL: hub.url,
    // a simulated chain is no news: never tell the real NOTIFY_URL about it
    NOTIFY_URL: '',
    BUILD_GITHUB_API_URL: hub.url,
    GITLAB_URL: hub.url,
    ...(config.target.name !== 'dockerhub' || config.target.settings.url === undefined
      ? {}
      : {
          DOCKERHUB_TRIGGER_URL: `${hub.url}/api/build/v1/source/simulated/trigger/${token}/call/`,
        }),
    [config.tokenVariable]: token,
  };
}
