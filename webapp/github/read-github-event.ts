import { readRunState } from '../builds/targets/github';
import type { BuildState } from '../types';

/** What a verified GitHub delivery tells the app, or why it tells nothing. */
export type GitHubEvent =
  | {
      kind: 'run-completed';
      /** owner/name */
      repository: string;
      runId: string;
      state: BuildState;
      url: string | null;
    }
  | {
      kind: 'package-published';
      /** host/owner/name:tag, as a graph file names the image */
      image: string;
      digest: string;
    }
  | { kind: 'ignored'; why: string };

const digestRule = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-f0-9]{32,}$/;

/**
 * Reads a delivery of GitHub event `name` (X-GitHub-Event): a workflow run that completed, or a
 * container image published to GitHub's registry. Anything else is ignored, with why. Pure.
 * https://docs.github.com/en/webhooks/webhook-events-and-payloads
 */
export function readGitHubEvent(name: string | undefined, payload: unknown): GitHubEvent {
  const body = asObject(payload);
  const action = body.action;
  if (name === 'workflow_run') {
    if (action !== 'completed') return { kind: 'ignored', why: `workflow_run ${String(action)}` };
    const run = asObject(body.workflow_run);
    const repository = asObject(body.repository).full_name;
    const id = run.id;
    if (typeof repository !== 'string' || !(typeof id === 'number' && Number.isSafeInteger(id))) {
      return {
        kind: 'ignored',
        why: 'a workflow_run without repository.full_name or workflow_run.id',
      };
    }
    const url =
      typeof run.html_url === 'string' && /^https?:\/\/\S+$/.test(run.html_url)
        ? run.html_url
        : null;
    return {
      kind: 'run-completed',
      repository,
      runId: String(id),
      state: readRunState('completed', run.conclusion),
      url,
    };
  }
  if (name === 'registry_package') {
    if (action !== 'published')
      return { kind: 'ignored', why: `registry_package ${String(action)}` };
    const pkg = asObject(body.registry_package);
    const version = asObject(pkg.package_version);
    const tag = asObject(asObject(version.container_metadata).tag);
    const type = typeof pkg.package_type === 'string' ? pkg.package_type.toLowerCase() : '';
    if (type !== 'container' && type !== 'docker') {
      return { kind: 'ignored', why: `a ${type || 'package'} package, not a container image` };
    }
    // GitHub's own example gives namespace as owner/repository: the owner's login comes first.
    const owner = [asObject(pkg.owner).login, pkg.namespace].find(
      (value): value is string => typeof value === 'string' && value !== '',
    );
    const digest = [tag.digest, version.version].find(
      (value): value is string => typeof value === 'string' && digestRule.test(value),
    );
    if (
      typeof pkg.name !== 'string' ||
      owner === undefined ||
      typeof tag.name !== 'string' ||
      tag.name === '' ||
      digest === undefined
    ) {
      return { kind: 'ignored', why: 'a container package without its owner, name, tag or digest' };
    }
    return {
      kind: 'package-published',
      image: `${registryHost(pkg.registry)}/${owner.toLowerCase()}/${pkg.name.toLowerCase()}:${tag.name}`,
      digest,
    };
  }
  return { kind: 'ignored', why: `GitHub event ${name ?? '(unnamed)'} is not one this app reads` };
}

/**
 * The host images of the package are pulled from: ghcr.io for GitHub's own registry, whose
 * deliveries name it by its API host (https://container.pkg.github.com/<owner>); an Enterprise
 * Server's registry, as it names itself.
 */
function registryHost(registry: unknown): string {
  const url = asObject(registry).url;
  if (typeof url === 'string') {
    try {
      const host = new URL(url).host.toLowerCase();
      return host === 'ghcr.io' || host.endsWith('.pkg.github.com') ? 'ghcr.io' : host;
    } catch {
      // not a URL: GitHub's own registry
    }
  }
  return 'ghcr.io';
}

function asObject(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}
