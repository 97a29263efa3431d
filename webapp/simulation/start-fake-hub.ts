import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildPushPayload } from './build-push-payload';
import { createFakeOciRegistry, type FakeOciRegistry } from './create-fake-oci-registry';
import { createFakeRegistry, type FakeRegistryState } from './create-fake-registry';

/** A build request that reached the fake hub. */
export interface FakeTrigger {
  /** which API was called: dockerhub, github or gitlab */
  api: 'dockerhub' | 'github' | 'gitlab';
  /** namespace/repository of the image it builds */
  repository: string;
  tag: string;
  at: number;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** the status the fake answered */
  status: number;
}

export interface FakeHubOptions {
  user: string;
  repo: string;
  /** where pushes are announced: the app's webhook URL (with its query string), once it listens */
  webhookUrl?: () => string | Promise<string>;
  /** ms between a trigger and its push webhook */
  buildTime?: number;
  /** ms one image's build takes, instead of buildTime */
  buildTimeOf?: (repository: string, tag: string) => number;
  /**
   * Builds the image of the repository each request names (Docker Hub's trigger URL, GitHub's
   * repository, GitLab's project), as for a graph of several; else always user/repo's.
   */
  byRepository?: boolean;
  /** Docker Hub's tags API to serve on the same port; a new, empty one by default */
  registry?: FakeRegistryState;
  /**
   * The image a build request makes, when the request alone does not say it (a GitHub workflow
   * or a GitLab project may build an image of any name, on any registry). Left out, or
   * undefined for a request, it is the Docker Hub image of the repository the request names.
   */
  imageOf?: (request: HubRequest & { build: BuildCall }) => BuiltImage | undefined;
  /**
   * Sees each request the registry does not serve, before the hub answers it. What it returns
   * changes how the hub serves that one request; left out (or returning nothing), the hub
   * answers as the real APIs do, and builds and pushes every tag asked for.
   */
  intercept?: (request: HubRequest, res: ServerResponse) => HubTurn | undefined;
}

/** A request to the hub, its body read. */
export interface HubRequest {
  method: string;
  /** with its query string */
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** the build it asks for, when it is a build request */
  build?: BuildCall;
}

/** A build request as the fake hub understood it. */
export interface BuildCall {
  api: FakeTrigger['api'];
  /** namespace/repository of the image it builds */
  repository: string;
  tag: string;
}

/**
 * An image a build makes: on Docker Hub (namespace/repository), whose push webhook is sent, or
 * on the hub's own OCI registry (the repository's path there), whose digest changes as the
 * build ends, with no webhook: Docker Hub's come for Docker Hub's images only.
 */
export type BuiltImage =
  | { on: 'docker-hub'; repository: string; tag: string }
  | { on: 'registry'; name: string; tag: string };

/** A build of an image on the hub's OCI registry that ended, and the digest it made. */
export interface RegistryBuild {
  /** name:tag on the hub's OCI registry */
  image: string;
  digest: string;
  at: number;
  /** the run or pipeline that built it, if one did */
  run?: FakeRun;
}

/** How the hub serves one request, instead of as the real APIs do. */
export interface HubTurn {
  /** the request was answered (or is left unanswered) by the hook: the hub does nothing with it */
  taken?: boolean;
  /** the status to answer a build request with; one of 300 or more starts no build */
  status?: number;
  /** the build's run or pipeline fails after `buildTime`, and nothing is pushed */
  fails?: boolean;
  /** what the end of the build brings instead of its push and webhook */
  onBuilt?: () => void;
}

/** A GitHub run or GitLab pipeline the fake started. */
export interface FakeRun {
  api: 'github' | 'gitlab';
  id: number;
  tag: string;
  /** GitHub's owner/name, or GitLab's project */
  repository: string;
  /** the branch or tag it runs on, as the dispatch named it */
  branch: string;
  /** ms: when it was created */
  createdAt: number;
  /** ms: when it ends */
  endsAt: number;
  fails: boolean;
  /** its page */
  url: string;
  /** name:tag on the hub's OCI registry that it builds: its digest changes as a run that succeeds ends */
  image?: string;
  /** ms: when the app was first shown it ended, by a read of it */
  endSeenAt?: number;
}

export interface FakeHub extends EventEmitter {
  url: string;
  triggers: FakeTrigger[];
  /** the webhook answers the app gave, in order */
  deliveries: { tag: string; repository: string; status: number; body: string; at: number }[];
  /** Docker Hub's API on the same port: each push is recorded there */
  registry: FakeRegistryState;
  /** an OCI Distribution registry on the same port, for the images not on Docker Hub */
  oci: FakeOciRegistry;
  /** the builds of images on `oci` that ended, in order */
  registryBuilds: RegistryBuild[];
  /** the GitHub runs and GitLab pipelines started, which GET reads as they go */
  runs: FakeRun[];
  /**
   * Records a push of `tag` (of `repository`, user/repo's when left out) now and sends its
   * webhook; `at` is when the app had answered.
   */
  push(
    tag: string,
    repository?: string,
  ): Promise<{ tag: string; repository: string; status: number; body: string; at: number }>;
  close(): Promise<void>;
}

/**
 * A stand-in for GitHub's, GitLab's and Docker Hub's build APIs, Docker Hub's tags API and an
 * OCI registry, on loopback: it accepts build triggers, then after `buildTime` POSTs a
 * real-shaped push webhook for a Docker Hub image, or gives an image on its OCI registry a new
 * digest as its run ends. Events: `trigger`, `delivery`, `run-ended` (a run first read ended),
 * `registry-build` (a RegistryBuild), `manifest` (a ManifestRead) and `error`.
 */
export async function startFakeHub(options: FakeHubOptions): Promise<FakeHub> {
  const hub = new EventEmitter() as FakeHub;
  hub.triggers = [];
  hub.deliveries = [];
  hub.runs = [];
  hub.registryBuilds = [];
  hub.oci = createFakeOciRegistry();
  const timers = new Set<NodeJS.Timeout>();
  let pushes = 0;
  // Builds of the OCI registry's images, applied at their end by whichever comes first: their
  // timer, or a request that comes after it, so that no read after a run's end shows the old
  // digest, however late the timer fires.
  const unsettled: { at: number; image: { name: string; tag: string }; run?: FakeRun }[] = [];
  const settle = (now = Date.now()) => {
    for (const build of unsettled.filter((entry) => entry.at <= now)) {
      unsettled.splice(unsettled.indexOf(build), 1);
      const digest = hub.oci.recordPush(build.image.name, build.image.tag);
      const ended: RegistryBuild = {
        image: `${build.image.name}:${build.image.tag}`,
        digest,
        at: now,
        ...(build.run === undefined ? {} : { run: build.run }),
      };
      hub.registryBuilds.push(ended);
      hub.emit('registry-build', ended);
    }
  };

  hub.registry = options.registry ?? createFakeRegistry();
  const own = `${options.user}/${options.repo}`;
  hub.push = async (tag, repository = own) => {
    const [user, repo] = repository.split('/') as [string, string];
    hub.registry.recordPush(user, repo, tag);
    const target = await options.webhookUrl?.();
    if (target === undefined) throw new Error('the fake hub has no webhook URL');
    pushes += 1;
    const payload = buildPushPayload({
      hubUrl: hub.url,
      user,
      repo,
      tag,
      pushedAt: Math.floor(Date.now() / 1000) + pushes,
      hookId: `${pushes}a${Date.now().toString(36)}`,
    });
    const response = await fetch(target, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(payload),
    });
    const answer = {
      tag,
      repository,
      status: response.status,
      body: await response.text(),
      at: Date.now(),
    };
    hub.deliveries.push(answer);
    hub.emit('delivery', answer);
    return answer;
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      settle();
      if (hub.registry.handle(req, res, body)) return;
      if (hub.oci.handle(req, res, (read) => hub.emit('manifest', read))) return;
      const method = req.method ?? '';
      const path = (req.url ?? '/').split('?')[0] as string;
      const call = recognise(method, path, body, options.byRepository === true ? undefined : own);
      const request: HubRequest = { method, path: req.url ?? '/', headers: req.headers, body };
      if (call !== undefined) {
        request.build = { api: call.api, repository: call.repository, tag: call.tag };
      }
      const turn = options.intercept?.(request, res) ?? {};
      if (turn.taken === true) return;
      if (method === 'GET' && readRun(hub, req, res, path)) return;
      if (call === undefined) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'not found' }));
        return;
      }
      // GitHub names the run it started when asked to, since February 2026
      const details = call.api === 'github' && parseJson(body).return_run_details === true;
      const status = turn.status ?? (details ? 200 : call.success);
      const trigger: FakeTrigger = {
        api: call.api,
        repository: call.repository,
        tag: call.tag,
        at: Date.now(),
        path: req.url ?? '/',
        headers: req.headers,
        body,
        status,
      };
      hub.triggers.push(trigger);
      hub.emit('trigger', trigger);
      const made = options.imageOf?.({ ...request, build: call });
      const image = made?.on === 'registry' ? { name: made.name, tag: made.tag } : undefined;
      const started =
        status < 300 && call.api !== 'dockerhub'
          ? startRun(hub, call, path, body, turn.fails === true, options, image)
          : undefined;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(
        status === 204
          ? undefined
          : JSON.stringify(started?.answer ?? { state: status < 300 ? 'Success' : 'Error' }),
      );
      if (status >= 300 || turn.fails === true) return;
      const { onBuilt } = turn;
      const buildTime = options.buildTimeOf?.(call.repository, call.tag) ?? options.buildTime ?? 0;
      const end = started?.run.endsAt ?? Date.now() + buildTime;
      if (image !== undefined && onBuilt === undefined) {
        // Pushed as its run ends, as a workflow's last step does it.
        unsettled.push({ at: end, image, ...(started === undefined ? {} : { run: started.run }) });
      } else if (onBuilt === undefined && !options.webhookUrl) {
        return;
      }
      const pushed = made?.on === 'docker-hub' ? made : call;
      const timer = setTimeout(
        () => {
          timers.delete(timer);
          if (onBuilt !== undefined) onBuilt();
          else if (image !== undefined) settle(Math.max(Date.now(), end));
          else {
            hub.push(pushed.tag, pushed.repository).catch((err: unknown) => hub.emit('error', err));
          }
        },
        Math.max(0, end - Date.now()),
      );
      timers.add(timer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  hub.close = async () => {
    for (const timer of timers) clearTimeout(timer);
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return hub;
}

type Call = BuildCall & { success: number };

/** Records a run or pipeline for `call`; `answer` is what its build API answers about it. */
function startRun(
  hub: FakeHub,
  call: Call,
  path: string,
  body: string,
  fails: boolean,
  options: FakeHubOptions,
  image: { name: string; tag: string } | undefined,
): { run: FakeRun; answer: Record<string, unknown> } {
  const id = 7000 + hub.runs.length + 1;
  const github = /^\/repos\/([^/]+\/[^/]+)\//.exec(path)?.[1];
  const project = decodeURIComponent(/^\/api\/v4\/projects\/([^/]+)\//.exec(path)?.[1] ?? '');
  const url =
    call.api === 'github'
      ? `https://github.com/${github ?? ''}/actions/runs/${id}`
      : `https://gitlab.com/${project}/-/pipelines/${id}`;
  const ref = String(parseJson(body).ref ?? new URLSearchParams(body).get('ref') ?? '');
  const run: FakeRun = {
    api: call.api === 'github' ? 'github' : 'gitlab',
    id,
    tag: call.tag,
    repository: github ?? project,
    branch: ref.replace(/^refs\/(heads|tags)\//, ''),
    createdAt: Date.now(),
    endsAt:
      Date.now() + (options.buildTimeOf?.(call.repository, call.tag) ?? options.buildTime ?? 0),
    fails,
    url,
    ...(image === undefined ? {} : { image: `${image.name}:${image.tag}` }),
  };
  hub.runs.push(run);
  const answer =
    call.api === 'github'
      ? {
          workflow_run_id: id,
          run_url: `${hub.url}/repos/${github ?? ''}/actions/runs/${id}`,
          html_url: url,
        }
      : { id, web_url: url, status: 'created' };
  return { run, answer };
}

/** Answers GitHub's read of a run or GitLab's of a pipeline; false when `path` is neither. */
function readRun(hub: FakeHub, req: IncomingMessage, res: ServerResponse, path: string): boolean {
  const list = /^\/repos\/([^/]+\/[^/]+)\/actions\/workflows\/[^/]+\/runs$/.exec(path);
  if (list !== null) {
    listRuns(hub, req, res, list[1] as string);
    return true;
  }
  const github = /^\/repos\/[^/]+\/[^/]+\/actions\/runs\/(\d+)$/.exec(path);
  const gitlab = /^\/api\/v4\/projects\/[^/]+\/pipelines\/(\d+)$/.exec(path);
  const id = Number((github ?? gitlab)?.[1]);
  if (Number.isNaN(id)) return false;
  const run = hub.runs.find((candidate) => candidate.id === id);
  const allowed =
    github !== null
      ? /^Bearer \S+$/.test(req.headers.authorization ?? '')
      : (req.headers['private-token'] ?? '') !== '';
  const status = !allowed ? 401 : run === undefined ? 404 : 200;
  res.writeHead(status, { 'content-type': 'application/json' });
  if (run === undefined || status !== 200) {
    res.end(JSON.stringify({ message: status === 401 ? 'Unauthorized' : 'Not Found' }));
    return true;
  }
  const ended = Date.now() >= run.endsAt;
  if (ended && run.endSeenAt === undefined) {
    run.endSeenAt = Date.now();
    hub.emit('run-ended', run);
  }
  res.end(
    JSON.stringify(
      github !== null
        ? githubRunOf(run)
        : { id, status: ended ? (run.fails ? 'failed' : 'success') : 'running', web_url: run.url },
    ),
  );
  return true;
}

/** A GitHub run as its REST API and webhooks show it. */
export function githubRunOf(run: FakeRun, now = Date.now()): Record<string, unknown> {
  const ended = now >= run.endsAt;
  return {
    id: run.id,
    name: 'build',
    // The workflow's run-name, as the README's example sets it.
    display_title: `build ${run.tag}`,
    event: 'workflow_dispatch',
    head_branch: run.branch,
    created_at: new Date(run.createdAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    status: ended ? 'completed' : 'in_progress',
    conclusion: ended ? (run.fails ? 'failure' : 'success') : null,
    html_url: run.url,
  };
}

/** GitHub's list of a workflow's runs, newest first, filtered as its query asks. */
function listRuns(hub: FakeHub, req: IncomingMessage, res: ServerResponse, repository: string) {
  const query = new URL(req.url ?? '/', 'http://fake').searchParams;
  const created = /^>=(.+)$/.exec(query.get('created') ?? '')?.[1];
  const since = created === undefined ? Number.NEGATIVE_INFINITY : Date.parse(created);
  const runs = hub.runs
    .filter((run) => run.api === 'github' && run.repository === repository)
    // GitHub's created filter is in whole seconds.
    .filter((run) => Math.floor(run.createdAt / 1000) * 1000 >= since)
    .filter((run) => (query.get('branch') ?? run.branch) === run.branch)
    .reverse()
    .map((run) => githubRunOf(run));
  if (!/^Bearer \S+$/.test(req.headers.authorization ?? '')) {
    res.writeHead(401, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ message: 'Requires authentication' }));
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ total_count: runs.length, workflow_runs: runs }));
}

/**
 * Which build API a request is for, the repository (`only`, or the one the request names) and
 * the tag it asks to build.
 */
function recognise(
  method: string,
  path: string,
  body: string,
  only: string | undefined,
): Call | undefined {
  if (method !== 'POST') return undefined;
  const hub = /^\/u\/([^/]+\/[^/]+)\/trigger\/[^/]+\/$/.exec(path);
  if (hub !== null) {
    return {
      api: 'dockerhub',
      repository: only ?? (hub[1] as string),
      tag: dockerTag(body),
      success: 200,
    };
  }
  const source = /^\/api\/build\/v1\/source\/([^/]+)\/trigger\/[^/]+\/call\/$/.exec(path);
  if (source !== null) {
    // The real source is an id; a simulation names the repository there.
    const repository = only ?? decodeURIComponent(source[1] as string);
    return { api: 'dockerhub', repository, tag: dockerTag(body), success: 202 };
  }
  const github = /^\/repos\/([^/]+\/[^/]+)\/actions\/workflows\/[^/]+\/dispatches$/.exec(path);
  if (github !== null) {
    const inputs = (parseJson(body) as { inputs?: { tag?: string } }).inputs;
    return {
      api: 'github',
      repository: only ?? (github[1] as string),
      tag: inputs?.tag ?? '',
      success: 204,
    };
  }
  const gitlab = /^\/api\/v4\/projects\/([^/]+)\/trigger\/pipeline$/.exec(path);
  if (gitlab !== null) {
    return {
      api: 'gitlab',
      repository: only ?? decodeURIComponent(gitlab[1] as string),
      tag: new URLSearchParams(body).get('variables[TAG]') ?? '',
      success: 201,
    };
  }
  return undefined;
}

function dockerTag(body: string): string {
  const parsed = parseJson(body) as { docker_tag?: string; source_name?: string };
  return parsed.docker_tag ?? parsed.source_name ?? '';
}

function parseJson(body: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(body);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
