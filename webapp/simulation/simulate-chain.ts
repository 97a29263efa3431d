import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isMap, isSeq, parseDocument } from 'yaml';
import { parseImageRef } from '../chain/parse-image-ref';
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
 * Runs the whole chain (or graph) with the user's config against a fake hub of every
 * repository on loopback, through the Procfile's web command (foreman, web and clock), with a
 * kick-off a moment from now. Resolves with the reason it failed, or undefined when every image
 * was built.
 */
export async function simulateChain(
  config: Config,
  env: NodeJS.ProcessEnv,
  options: SimulationOptions,
): Promise<string | undefined> {
  const { print } = options;
  const { graph } = config;
  const tags = graph.nodes.map((node) => node.id);
  // the node each pushed image is, as the fake hub names it
  const nodeOf = new Map(
    graph.nodes.map((node) => [
      `${node.image.namespace}/${node.image.repository}:${node.image.tag}`,
      node.id,
    ]),
  );
  const secret = config.webhookSecrets[0];
  const query = secret === undefined ? '' : `?token=${secret}`;
  let dyno: Promise<LocalDyno> | undefined;
  const hub = await startFakeHub({
    user: config.userName,
    repo: config.repoName,
    buildTime: options.buildTime * 1000,
    byRepository: graph.file !== null,
    webhookUrl: async () => `${(await dyno)?.url}${config.propagationRoute}${query}`,
  });
  const state = mkdtempSync(join(tmpdir(), 'simulate-'));
  const graphEnv = graph.file === null ? {} : simulatedGraph(graph.file, state, hub);
  print(
    graph.file === null
      ? `simulating ${tags.join(' → ')} on ${config.userName}/${config.repoName} (${config.target.name}), ` +
          `delay ${options.delay} s, build ${options.buildTime} s`
      : `simulating ${graph.file}: ${tags.length} images, delay ${options.delay} s, build ${options.buildTime} s`,
  );
  dyno = startLocalDyno(
    {
      ...env,
      ...pointAt(hub, config),
      ...graphEnv,
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
  const idOf = (event: { repository: string; tag: string }) =>
    graph.file === null
      ? event.tag
      : (nodeOf.get(`${event.repository}:${event.tag}`) ?? `${event.repository}:${event.tag}`);
  const built = new Set<string>();
  hub.on('trigger', (trigger: FakeHub['triggers'][number]) =>
    whenUp(() =>
      print(
        `[${elapsed(trigger.at)}] triggered ${idOf(trigger)} (${trigger.api} answered ${trigger.status})`,
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
      const id = idOf(delivery);
      built.add(id);
      print(`[${elapsed(delivery.at)}] built ${id}; push webhook answered 200`);
      if (graph.file === null) {
        const next = tags[tags.indexOf(delivery.tag) + 1];
        if (next === undefined) finish(undefined);
        else print(`[${elapsed(delivery.at)}] next: ${next} in ${options.delay} s`);
        return;
      }
      print(`[${elapsed(delivery.at)}]   ${describeAnswer(delivery.body)}`);
      if (tags.every((tag) => built.has(tag))) finish(undefined);
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
    const waiting = tags.filter((tag) => !built.has(tag));
    finish(`timed out after ${budget / 1000} s waiting for ${waiting.join(', ')}`);
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
    print(
      graph.file === null
        ? `chain complete: ${tags.join(' → ')} built in order in ${elapsed()}`
        : `wave complete: ${tags.length} images, each built once after its parents, in ${elapsed()}`,
    );
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
    // a graph's nodes name their own variables: simulatedGraph sets those
    ...(config.graph.file === null
      ? { [config.tokenVariable]: token }
      : { DOCKERHUB_TRIGGER_TOKEN: token, BUILD_GITHUB_TOKEN: token, GITLAB_TRIGGER_TOKEN: token }),
  };
}

/** The app's answer to a push webhook, in its own words. */
function describeAnswer(body: string): string {
  try {
    const answer = JSON.parse(body) as { description?: unknown };
    return typeof answer.description === 'string' ? answer.description : body;
  } catch {
    return body;
  }
}

/**
 * A copy of the graph file for the simulation: the simulation's own delay and schedule, every
 * build at the fake hub (no node's own API address), and each variable the file names for a
 * secret set to a made-up one, so that nothing runs dry and nothing leaves loopback.
 */
function simulatedGraph(file: string, folder: string, hub: FakeHub): Record<string, string> {
  const doc = parseDocument(readFileSync(resolve(file), 'utf8'));
  for (const key of ['delay', 'schedule', 'timezone']) doc.delete(key);
  const env: Record<string, string> = {};
  const images = doc.get('images');
  if (isSeq(images)) {
    for (const item of images.items) {
      const build = isMap(item) ? item.get('build') : undefined;
      if (!isMap(build)) continue;
      for (const key of ['api_url', 'url']) build.delete(key);
      for (const key of ['token_env', 'api_token_env']) {
        const name = build.get(key);
        if (typeof name === 'string') env[name] = 'simulated-token';
      }
      const url = build.get('trigger_url_env');
      const image = isMap(item) ? item.get('image') : undefined;
      if (typeof url === 'string' && typeof image === 'string') {
        // The newer trigger URL names a source, not a repository: the fake reads it as one.
        const { namespace, repository } = parseImageRef(image);
        const source = encodeURIComponent(`${namespace}/${repository}`);
        env[url] = `${hub.url}/api/build/v1/source/${source}/trigger/simulated-token/call/`;
      }
    }
  }
  const copy = join(folder, 'chains.yml');
  writeFileSync(copy, doc.toString());
  return { ...env, GRAPH_FILE: copy };
}
