import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config';
import { freePort, procfileCommand, startProcfileCommand } from './run-procfile';
import { startFakeHub, type FakeHub } from './start-fake-hub';

export interface SimulationOptions {
  /** seconds between a push and the next trigger, instead of PROPAGATION_DELAY */
  delay: number;
  /** seconds the fake hub takes to "build" a tag */
  buildTime: number;
  /** seconds before the clock's kick-off */
  lead: number;
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
  const port = await freePort();
  const query = config.webhookSecret === undefined ? '' : `?token=${config.webhookSecret}`;
  const hub = await startFakeHub({
    user: config.userName,
    repo: config.repoName,
    buildTime: options.buildTime * 1000,
    webhookUrl: () => `http://127.0.0.1:${port}${config.propagationRoute}${query}`,
  });
  const state = mkdtempSync(join(tmpdir(), 'simulate-'));
  const kickoff = new Date(Date.now() + options.lead * 1000);
  const child = startProcfileCommand(procfileCommand('web'), {
    ...env,
    ...pointAt(hub, config),
    PORT: String(port),
    PROPAGATION_DELAY: String(options.delay),
    TRIGGER_SCHEDULE: `${kickoff.getUTCSeconds()} ${kickoff.getUTCMinutes()} ${kickoff.getUTCHours()} * * *`,
    TRIGGER_TIMEZONE: 'UTC',
    STATE_FILE: join(state, 'pending.json'),
    LOG_FORMAT: 'json',
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));

  print(
    `simulating ${tags.join(' → ')} on ${config.userName}/${config.repoName} (${config.target.name}), ` +
      `delay ${options.delay} s, build ${options.buildTime} s; kick-off in ${options.lead} s`,
  );
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  const budget = (options.lead + tags.length * (options.delay + options.buildTime) + 20) * 1000;

  const failure = await new Promise<string | undefined>((resolve) => {
    const timer = setTimeout(() => {
      const built = hub.deliveries.filter((d) => d.status === 200).map((d) => d.tag);
      const waiting = tags[built.length] ?? tags[0];
      resolve(`timed out after ${budget / 1000} s waiting for ${waiting}`);
    }, budget);
    const finish = (reason: string | undefined) => {
      clearTimeout(timer);
      resolve(reason);
    };
    hub.on('trigger', (trigger: FakeHub['triggers'][number]) => {
      print(`[${elapsed()}] triggered ${trigger.tag} (${trigger.api} answered ${trigger.status})`);
    });
    hub.on('delivery', (delivery: FakeHub['deliveries'][number]) => {
      if (delivery.status !== 200) {
        finish(
          `the app refused the push webhook of ${delivery.tag}: ${delivery.status} ${delivery.body}`,
        );
        return;
      }
      const next = tags[tags.indexOf(delivery.tag) + 1];
      print(`[${elapsed()}] built ${delivery.tag}; push webhook answered 200`);
      if (next === undefined) finish(undefined);
      else print(`[${elapsed()}] next: ${next} in ${options.delay} s`);
    });
    hub.on('error', (err: Error) => finish(`the fake hub could not reach the app: ${err.message}`));
    child.on('exit', (code) =>
      finish(`the web command exited (code ${code}) before the chain was done`),
    );
  });

  child.removeAllListeners('exit');
  const exited = new Promise((resolve) => child.once('exit', resolve));
  if (child.exitCode === null) child.kill('SIGTERM');
  await exited;
  await hub.close();
  rmSync(state, { recursive: true, force: true });
  if (failure === undefined) {
    print(`chain complete: ${tags.join(' → ')} built in order in ${elapsed()}`);
  } else {
    print(`chain FAILED: ${failure}`);
    print('last lines of the app:');
    for (const line of output.trim().split('\n').slice(-15)) print(`  ${line}`);
  }
  return failure;
}

/** Every build target at the fake hub, with a made-up token so that nothing runs dry. */
function pointAt(hub: FakeHub, config: Config): Record<string, string> {
  const token = 'simulated-token';
  return {
    DOCKERHUB_URL: hub.url,
    GITHUB_API_URL: hub.url,
    GITLAB_URL: hub.url,
    ...(config.target.name !== 'dockerhub' || config.target.settings.url === undefined
      ? {}
      : {
          DOCKERHUB_TRIGGER_URL: `${hub.url}/api/build/v1/source/simulated/trigger/${token}/call/`,
        }),
    [config.tokenVariable]: token,
  };
}
