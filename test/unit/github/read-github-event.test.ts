import { readGitHubEvent } from '../../../webapp/github/read-github-event';
import { digestOf, registryPackagePayload, workflowRunPayload } from '../../helpers/github';

describe('readGitHubEvent: workflow_run', () => {
  it.each([
    ['success', 'success'],
    ['failure', 'failure'],
    ['cancelled', 'cancelled'],
    ['timed_out', 'failure'],
  ])('reads a completed run that concluded %s as %s', (conclusion, state) => {
    expect(readGitHubEvent('workflow_run', workflowRunPayload({ conclusion }))).toEqual({
      kind: 'run-completed',
      repository: 'acme/images',
      runId: '4242',
      state,
      url: 'https://github.com/acme/images/actions/runs/4242',
    });
  });

  it('names the run by its id as text, and its repository as owner/name', () => {
    const event = readGitHubEvent(
      'workflow_run',
      workflowRunPayload({ repository: 'Other-Org/svc.images', id: 9007199254740991 }),
    );
    expect(event).toMatchObject({
      kind: 'run-completed',
      repository: 'Other-Org/svc.images',
      runId: '9007199254740991',
    });
  });

  it('gives no page for a run whose html_url is not a web address', () => {
    const payload = workflowRunPayload();
    (payload.workflow_run as Record<string, unknown>).html_url = 'javascript:alert(1)';
    expect(readGitHubEvent('workflow_run', payload)).toMatchObject({
      kind: 'run-completed',
      url: null,
    });
  });

  it.each(['requested', 'in_progress'])('ignores a run %s, saying so', (action) => {
    const event = readGitHubEvent(
      'workflow_run',
      workflowRunPayload({ action, status: action, conclusion: null }),
    );
    expect(event).toEqual({ kind: 'ignored', why: `workflow_run ${action}` });
  });

  it.each([
    ['without a repository', (p: Record<string, unknown>) => delete p.repository],
    [
      'without the run id',
      (p: Record<string, unknown>) => delete (p.workflow_run as Record<string, unknown>).id,
    ],
    [
      'with the run id as text',
      (p: Record<string, unknown>) => ((p.workflow_run as Record<string, unknown>).id = '4242'),
    ],
  ])('ignores a completed run %s', (_what, spoil) => {
    const payload = workflowRunPayload();
    spoil(payload);
    expect(readGitHubEvent('workflow_run', payload)).toMatchObject({
      kind: 'ignored',
      why: expect.stringContaining('workflow_run.id'),
    });
  });
});

describe('readGitHubEvent: registry_package', () => {
  const digest = digestOf('acme/base:latest');

  // BUG (webapp/github/read-github-event.ts, registryHost, lines 82 and 90-101): GitHub's
  // container deliveries name registry.url https://CONTAINER.pkg.github.com/<owner> (so does the
  // docs' example), while the image is ghcr.io/<owner>/<name>:<tag> (its package_url). The
  // reader takes the host of registry.url, so the image comes out as
  // container.pkg.github.com/acme/base:latest and matches no node of the graph.
  // Marked `failing` until that is fixed: then make it a plain `it`.
  it('reads a container published to GHCR, as GitHub sends it, as ghcr.io/<owner>/<name>:<tag>', () => {
    expect(readGitHubEvent('registry_package', registryPackagePayload())).toEqual({
      kind: 'package-published',
      image: 'ghcr.io/acme/base:latest',
      digest,
    });
  });

  it('reads a container whose registry is named by its host as that host/<owner>/<name>:<tag> and its digest', () => {
    expect(
      readGitHubEvent(
        'registry_package',
        registryPackagePayload({ registryUrl: 'https://ghcr.io/acme' }),
      ),
    ).toEqual({ kind: 'package-published', image: 'ghcr.io/acme/base:latest', digest });
  });

  it('reads ghcr.io when the package names no registry', () => {
    const payload = registryPackagePayload({ tag: 'v1.2' });
    delete (payload.registry_package as Record<string, unknown>).registry;
    expect(readGitHubEvent('registry_package', payload)).toMatchObject({
      image: 'ghcr.io/acme/base:v1.2',
    });
  });

  it('writes the owner and name in lower case, as image references are, and keeps the tag', () => {
    const payload = registryPackagePayload({
      owner: 'Codertocat',
      name: 'Hello-World',
      tag: 'Nightly',
      registryUrl: 'https://ghcr.io/Codertocat',
    });
    expect(readGitHubEvent('registry_package', payload)).toMatchObject({
      image: 'ghcr.io/codertocat/hello-world:Nightly',
    });
  });

  it("takes the version's digest when the tag names none", () => {
    const payload = registryPackagePayload({ registryUrl: 'https://ghcr.io/acme' });
    const version = (payload.registry_package as Record<string, Record<string, unknown>>)
      .package_version as Record<string, Record<string, Record<string, unknown>>>;
    delete (version.container_metadata as Record<string, Record<string, unknown>>).tag?.digest;
    expect(readGitHubEvent('registry_package', payload)).toMatchObject({ digest });
  });

  it('ignores an untagged version (a platform of a multi-platform image)', () => {
    expect(readGitHubEvent('registry_package', registryPackagePayload({ tag: '' }))).toEqual({
      kind: 'ignored',
      why: 'a container package without its owner, name, tag or digest',
    });
  });

  it('ignores a version whose digest is not one', () => {
    const event = readGitHubEvent(
      'registry_package',
      registryPackagePayload({ digest: 'not-a-digest' }),
    );
    expect(event.kind).toBe('ignored');
  });

  it.each(['npm', 'maven', 'rubygems'])('ignores an %s package, naming it', (type) => {
    expect(
      readGitHubEvent('registry_package', registryPackagePayload({ package_type: type })),
    ).toEqual({ kind: 'ignored', why: `a ${type} package, not a container image` });
  });

  it('ignores a package updated, not published', () => {
    expect(
      readGitHubEvent('registry_package', registryPackagePayload({ action: 'updated' })),
    ).toEqual({ kind: 'ignored', why: 'registry_package updated' });
  });
});

describe('readGitHubEvent: other events', () => {
  it.each([
    ['ping', { zen: 'Keep it logically awesome.', hook_id: 1 }],
    ['push', { ref: 'refs/heads/main', commits: [] }],
    ['package', registryPackagePayload()],
    ['workflow_job', { action: 'completed', workflow_job: { id: 1 } }],
  ])('ignores %s, naming it', (name, payload) => {
    expect(readGitHubEvent(name, payload)).toEqual({
      kind: 'ignored',
      why: `GitHub event ${name} is not one this app reads`,
    });
  });

  it('ignores a delivery without an event name', () => {
    expect(readGitHubEvent(undefined, workflowRunPayload())).toEqual({
      kind: 'ignored',
      why: 'GitHub event (unnamed) is not one this app reads',
    });
  });

  it.each([null, [], 'completed', 42])('ignores a workflow_run whose body is %p', (payload) => {
    expect(readGitHubEvent('workflow_run', payload).kind).toBe('ignored');
  });
});
