import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isAlias, isMap, isScalar, isSeq, parseDocument, type Document } from 'yaml';
import {
  isOnDockerHub,
  parseImageRef,
  repositoryPath,
  type ImageRef,
} from '../chain/parse-image-ref';
import type { Config } from '../config';
import type { ManifestRead } from './create-fake-oci-registry';
import type { Running } from './run-procfile';
import { startLocalDyno, type LocalDyno } from './start-local-dyno';
import {
  startFakeHub,
  type BuildCall,
  type BuiltImage,
  type FakeHub,
  type FakeRun,
  type RegistryBuild,
} from './start-fake-hub';

export interface SimulationOptions {
  /** seconds between a push and the next trigger, instead of PROPAGATION_DELAY */
  delay: number;
  /** seconds the fake hub takes to "build" a tag */
  buildTime: number;
  print: (line: string) => void;
}

/** The build services, GitHub Actions first: the one to build with since Automated Builds end. */
const services = [
  ['github', 'GitHub Actions'],
  ['gitlab', 'GitLab CI'],
  ['dockerhub', 'Docker Hub'],
] as const;

/** The day Docker Hub's Automated Builds end. */
const automatedBuildsEnd = '2027-04-01';

/**
 * Runs the whole chain (or graph) with the user's config against fakes on loopback: GitHub's
 * and GitLab's build APIs, Docker Hub's, and every registry the images are on, through the
 * Procfile's web command (foreman, web and clock), with a kick-off a moment from now. Prints each
 * image by the name the user gave it. Resolves with the reason it failed, or undefined when
 * every image was built.
 */
export async function simulateChain(
  config: Config,
  env: NodeJS.ProcessEnv,
  options: SimulationOptions,
): Promise<string | undefined> {
  const { graph } = config;
  const tags = graph.nodes.map((node) => node.id);
  let names: Renamer | undefined;
  // Every line shows the user's own image names, never the fakes' address for them.
  const print = (line: string) => options.print(names?.restore(line) ?? line);
  const secret = config.webhookSecrets[0];
  const query = secret === undefined ? '' : `?token=${secret}`;
  let dyno: Promise<LocalDyno> | undefined;
  const hub = await startFakeHub({
    user: config.userName,
    repo: config.repoName,
    buildTime: options.buildTime * 1000,
    byRepository: graph.file !== null,
    webhookUrl: async () => `${(await dyno)?.url}${config.propagationRoute}${query}`,
    imageOf: (request) => imageOf(request.build, request.path, request.body),
  });
  names = createRenamer(new URL(hub.url).host);
  const fakeOf = (image: ImageRef) => (names as Renamer).fakeOf(image);
  // the node each image is, by the fake's name for it
  const nodeOf = new Map(
    graph.nodes.map((node) => {
      const fake = fakeOf(node.image);
      const key = fake.on === 'docker-hub' ? fake.repository : fake.name;
      return [`${fake.on} ${key}:${fake.tag}`, node.id];
    }),
  );
  /** The node a build request is for, by what its target sends; undefined for none. */
  const nodeOfCall = (call: BuildCall, path: string, body: string) => {
    if (graph.file === null) return tags.includes(call.tag) ? call.tag : undefined;
    const sent = readBuildRequest(call, path, body);
    const candidates = graph.nodes.filter((node) => {
      const { target } = node.build;
      if (target.name !== call.api || node.image.tag !== call.tag) return false;
      switch (target.name) {
        case 'github':
          return (
            target.settings.repository === call.repository &&
            target.settings.workflow === sent.workflow
          );
        case 'gitlab':
          return target.settings.project === call.repository;
        case 'dockerhub':
          return `${node.image.namespace}/${node.image.repository}` === call.repository;
      }
    });
    const found =
      candidates.find(({ build: { target } }) =>
        target.name === 'dockerhub' ? true : target.settings.ref === sent.ref,
      ) ?? candidates[0];
    return found?.id;
  };
  function imageOf(call: BuildCall, path: string, body: string): BuiltImage | undefined {
    const id = nodeOfCall(call, path, body);
    const node = graph.nodes.find((candidate) => candidate.id === id);
    return node === undefined || graph.file === null ? undefined : fakeOf(node.image);
  }

  const state = mkdtempSync(join(tmpdir(), 'simulate-'));
  const imagesEnv =
    graph.file === null
      ? lineUpstream(config, names)
      : simulatedGraph(graph.file, state, hub, names);
  seed(hub, config, names);
  const used = services.filter(([name]) =>
    graph.nodes.some((node) => node.build.target.name === name),
  );
  const builtBy = used
    .map(([name, label]) => {
      const count = graph.nodes.filter((node) => node.build.target.name === name).length;
      return graph.file === null ? label : `${label} (${count})`;
    })
    .join(', ');
  print(
    graph.file === null
      ? `simulating ${tags.join(' → ')} on ${config.userName}/${config.repoName}, built by ${builtBy}; ` +
          `delay ${options.delay} s, build ${options.buildTime} s`
      : `simulating ${graph.file}: ${tags.length} images, built by ${builtBy}; ` +
          `delay ${options.delay} s, build ${options.buildTime} s`,
  );
  const automated = graph.nodes
    .filter((node) => node.build.target.name === 'dockerhub')
    .map((node) => node.id);
  if (automated.length > 0) {
    const named = automated.slice(0, 3).join(', ') + (automated.length > 3 ? ', …' : '');
    const which =
      automated.length === tags.length
        ? `every ${graph.file === null ? 'tag' : 'image'} here is built by one`
        : `${automated.length} of these images ${automated.length === 1 ? 'is' : 'are'} built by one (${named})`;
    print(
      `note: Docker Hub retires Automated Builds on ${automatedBuildsEnd}, and ${which}: ` +
        'see "Leaving Automated Builds" in the README to build them with GitHub Actions',
    );
  }
  dyno = startLocalDyno(
    {
      ...env,
      ...pointAt(hub, config),
      ...imagesEnv,
      PROPAGATION_DELAY: String(options.delay),
      // a fake run ends in build-time seconds: it is read as often as the app allows
      BUILD_POLL_INTERVAL: '1',
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
      : (nodeOf.get(`docker-hub ${event.repository}:${event.tag}`) ??
        `${event.repository}:${event.tag}`);
  const built = new Set<string>();
  /** images not on Docker Hub: what the app has seen of each one's build */
  const seen = new Map<string, { digest?: string; runEnded?: boolean; digestRead?: boolean }>(
    graph.nodes.filter((node) => !isOnDockerHub(node.image)).map((node) => [node.id, {}]),
  );
  const nodeOfFake = (image: string | undefined) =>
    image === undefined ? undefined : nodeOf.get(`registry ${image}`);
  const settled = (id: string, at: number) => {
    const facts = seen.get(id);
    if (facts?.runEnded !== true || facts.digestRead !== true || built.has(id)) return;
    built.add(id);
    print(`[${elapsed(at)}]   the app read its new digest ${short(facts.digest ?? '')}`);
    if (tags.every((tag) => built.has(tag))) finish(undefined);
  };
  hub.on('trigger', (trigger: FakeHub['triggers'][number]) =>
    whenUp(() => {
      const id = nodeOfCall(trigger, trigger.path.split('?')[0] as string, trigger.body);
      print(
        `[${elapsed(trigger.at)}] triggered ${id ?? idOf(trigger)} (${trigger.api} answered ${trigger.status})`,
      );
    }),
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
  // An image on a registry other than Docker Hub has no webhook: the app learns of its build by
  // its run's end, and reads its new digest from the registry.
  hub.on('registry-build', (build: RegistryBuild) => {
    const facts = seen.get(nodeOfFake(build.image) ?? '');
    if (facts !== undefined) facts.digest = build.digest;
  });
  hub.on('run-ended', (run: FakeRun) =>
    whenUp(() => {
      const id = nodeOfFake(run.image);
      const facts = seen.get(id ?? '');
      if (id === undefined || facts === undefined) return;
      const what =
        run.api === 'github' ? `GitHub Actions run ${run.id}` : `GitLab pipeline ${run.id}`;
      const at = run.endSeenAt ?? Date.now();
      if (run.fails) {
        finish(`the build of ${id} failed: its ${what} ended in failure`);
        return;
      }
      facts.runEnded = true;
      print(`[${elapsed(at)}] built ${id}; the app read that its ${what} succeeded`);
      settled(id, at);
    }),
  );
  hub.on('manifest', (read: ManifestRead) =>
    whenUp(() => {
      const id = nodeOfFake(`${read.name}:${read.reference}`);
      const facts = seen.get(id ?? '');
      if (id === undefined || facts?.digest === undefined || read.digest !== facts.digest) return;
      facts.digestRead = true;
      settled(id, read.at);
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
  // each image: its delay, its build, and a read of its run (BUILD_POLL_INTERVAL) at most
  const budget = (20 + tags.length * (options.delay + options.buildTime + 1) + 20) * 1000;
  const timer = setTimeout(() => {
    const waiting = tags
      .filter((tag) => !built.has(tag))
      .map((tag) => {
        const facts = seen.get(tag);
        if (facts === undefined) return tag;
        if (facts.digest === undefined) return `${tag} (not built)`;
        if (facts.runEnded !== true) return `${tag} (its run's end was not read)`;
        return `${tag} (its new digest was not read)`;
      });
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
      : {
          DOCKERHUB_TRIGGER_TOKEN: token,
          BUILD_GITHUB_TOKEN: token,
          GITLAB_TRIGGER_TOKEN: token,
          // so that pipelines are followed to their end, as runs are
          GITLAB_API_TOKEN: token,
        }),
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

/** A digest as people glance at it: its algorithm and its first 12 hex digits. */
function short(digest: string): string {
  const [algorithm, hex] = digest.split(':');
  return hex === undefined ? digest : `${algorithm}:${hex.slice(0, 12)}`;
}

/** What a build request sends besides its repository and tag. */
function readBuildRequest(call: BuildCall, path: string, body: string) {
  if (call.api === 'github') {
    const workflow = /\/actions\/workflows\/([^/]+)\/dispatches$/.exec(path)?.[1];
    let ref: unknown;
    try {
      ref = (JSON.parse(body) as { ref?: unknown }).ref;
    } catch {
      ref = undefined;
    }
    return {
      workflow: workflow === undefined ? undefined : decodeURIComponent(workflow),
      ref: typeof ref === 'string' ? ref : undefined,
    };
  }
  if (call.api === 'gitlab') return { ref: new URLSearchParams(body).get('ref') ?? undefined };
  return {};
}

interface Renamer {
  /** an image reference as the simulation's copy of the graph file names it */
  rename(text: string): string;
  /** the image as the fake hub holds it */
  fakeOf(image: ImageRef): BuiltImage;
  /** `text` with each image the simulation renamed named as the user named it */
  restore(text: string): string;
}

/**
 * Names every image so that the fake hub serves it: one on Docker Hub keeps its name (without
 * `docker.io/`: Docker Hub is the fake hub's tags API), and one on any other registry goes to
 * the fake hub's own registry at `host`, under a folder named after its own registry, so that
 * two registries' images of one name stay apart: `ghcr.io/acme/svc:a` is
 * `<host>/ghcr-io/acme/svc:a`.
 */
function createRenamer(host: string): Renamer {
  const folders = new Map<string, string>();
  const folderOf = (registry: string) => {
    const known = folders.get(registry);
    if (known !== undefined) return known;
    const base = registry.replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || 'registry';
    const taken = new Set(folders.values());
    let folder = base;
    for (let n = 2; taken.has(folder); n += 1) folder = `${base}-${n}`;
    folders.set(registry, folder);
    return folder;
  };
  const fakeOf = (image: ImageRef): BuiltImage =>
    isOnDockerHub(image)
      ? { on: 'docker-hub', repository: `${image.namespace}/${image.repository}`, tag: image.tag }
      : {
          on: 'registry',
          name: `${folderOf(image.registry as string)}/${repositoryPath(image)}`,
          tag: image.tag,
        };
  return {
    fakeOf,
    rename(text) {
      let image: ImageRef;
      try {
        image = parseImageRef(text);
      } catch {
        // The app refuses it, at its line, in its own words.
        return text;
      }
      if (image.registry === undefined) return text;
      const fake = fakeOf(image);
      return fake.on === 'docker-hub' ? image.display : `${host}/${fake.name}:${fake.tag}`;
    },
    restore(text) {
      let restored = text;
      for (const [registry, folder] of folders) {
        restored = restored.split(`${host}/${folder}/`).join(`${registry}/`);
      }
      return restored;
    },
  };
}

/**
 * The fakes hold every image as built before: the upstream images (on Docker Hub two days ago,
 * so that no reconciliation takes them for news) and the nodes on other registries, whose
 * digests the app learns at start.
 */
function seed(hub: FakeHub, config: Config, names: Renamer): void {
  const before = new Date(Date.now() - 2 * 24 * 3600 * 1000);
  const nodes = config.graph.nodes.filter((node) => !isOnDockerHub(node.image));
  for (const image of [...config.graph.upstream, ...nodes.map((node) => node.image)]) {
    const fake = names.fakeOf(image);
    if (fake.on === 'registry') {
      hub.oci.recordPush(fake.name, fake.tag);
    } else {
      const [namespace, repository] = fake.repository.split('/') as [string, string];
      hub.registry.recordPush(namespace, repository, fake.tag, before);
    }
  }
}

/** UPSTREAM_IMAGES of a line of tags, each on the fakes, when one names its registry. */
function lineUpstream(config: Config, names: Renamer): Record<string, string> {
  const { upstream } = config.graph;
  if (upstream.every((image) => image.registry === undefined)) return {};
  return { UPSTREAM_IMAGES: upstream.map((image) => names.rename(image.display)).join(',') };
}

/**
 * A copy of the graph file for the simulation: the simulation's own delay and schedule, every
 * build at the fake hub (no node's own API address), every image (and image built from) on the
 * fakes, and each variable the file names for a secret set to a made-up one, so that nothing
 * runs dry and nothing leaves loopback.
 */
function simulatedGraph(
  file: string,
  folder: string,
  hub: FakeHub,
  names: Renamer,
): Record<string, string> {
  const doc = parseDocument(readFileSync(resolve(file), 'utf8'));
  for (const key of ['delay', 'schedule', 'timezone']) doc.delete(key);
  const env: Record<string, string> = {};
  const rename = renameIn(doc, names);
  const images = resolveNode(doc, doc.get('images', true));
  if (isSeq(images)) {
    for (const entry of images.items) {
      const item = resolveNode(doc, entry);
      if (!isMap(item)) continue;
      rename(item.get('image', true));
      const from = resolveNode(doc, item.get('from', true));
      for (const parent of isSeq(from) ? from.items : [from]) rename(parent);
      const build = item.get('build');
      if (!isMap(build)) continue;
      for (const key of ['api_url', 'url']) build.delete(key);
      for (const key of ['token_env', 'api_token_env']) {
        const name = build.get(key);
        if (typeof name === 'string') env[name] = 'simulated-token';
      }
      const url = build.get('trigger_url_env');
      const image = item.get('image');
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

/** The node an alias stands for, or the node itself. */
function resolveNode(doc: Document, node: unknown): unknown {
  return isAlias(node) ? node.resolve(doc) : node;
}

/** Renames the image reference a scalar (or an alias of one) holds, each scalar once. */
function renameIn(doc: Document, names: Renamer): (node: unknown) => void {
  const renamed = new Set<unknown>();
  return (node) => {
    const scalar = resolveNode(doc, node);
    if (!isScalar(scalar) || typeof scalar.value !== 'string' || renamed.has(scalar)) return;
    renamed.add(scalar);
    scalar.value = names.rename(scalar.value);
  };
}
