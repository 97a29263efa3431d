import { loadConfig } from '../../webapp/config';
import { startTestHub, type FakeHub } from '../helpers/fake-hub';
import { createTarget } from '../../webapp/builds/targets/create-target';
import { createPool } from '../../webapp/http/create-pool';
import { triggerTag } from '../../webapp/builds/trigger-tag';
import { captureLogs } from '../helpers/logs';

const githubToken = 'ghp_fakeGitHubToken123';
const gitlabToken = 'glptt-fake/gitlab+token';

async function triggerOn(env: Record<string, string>, tag = 'step-1') {
  const config = loadConfig(env);
  const logs = captureLogs();
  const dispatcher = createPool(2000);
  try {
    const outcome = await triggerTag(tag, {
      target: createTarget(config.target, config),
      log: logs.log,
      dryRun: config.dryRun,
      retry: { initialDelay: 10, maxDelay: 10, giveUpAfter: 0, timeout: 2000 },
      dispatcher,
    });
    return { outcome, logs };
  } finally {
    await dispatcher.close();
  }
}

describe.each([undefined, 401, 403, 404, 422, 400, 500])(
  'against a fake API answering %s',
  (refuseWith) => {
    let hub: FakeHub;
    beforeEach(async () => {
      hub = await startTestHub({
        user: 'maddouri',
        repo: 'void-docker',
        ...(refuseWith === undefined ? {} : { refuseWith }),
      });
    });
    afterEach(() => hub.close());

    it('github: dispatches the workflow with the tag as input', async () => {
      const { outcome, logs } = await triggerOn({
        BUILD_TARGET: 'github',
        BUILD_GITHUB_API_URL: hub.url,
        BUILD_GITHUB_REPOSITORY: 'acme/images',
        BUILD_GITHUB_WORKFLOW: 'build.yml',
        BUILD_GITHUB_REF: 'release',
        BUILD_GITHUB_TOKEN: githubToken,
      });
      const [request] = hub.triggers;
      expect(request).toMatchObject({
        api: 'github',
        path: '/repos/acme/images/actions/workflows/build.yml/dispatches',
        headers: expect.objectContaining({
          authorization: `Bearer ${githubToken}`,
          accept: 'application/vnd.github+json',
          'x-github-api-version': '2022-11-28',
          'content-type': 'application/json',
        }),
      });
      expect(JSON.parse(request?.body ?? '')).toEqual({
        ref: 'release',
        inputs: { tag: 'step-1' },
        return_run_details: true,
      });
      // A 422 may refuse return_run_details (a server from before it): asked again without.
      expect(hub.triggers.map((call) => JSON.parse(call.body).return_run_details)).toEqual(
        refuseWith === 422 ? [true, undefined] : [true],
      );
      const expected: Record<string, RegExp> = {
        none: /^triggered step-1$/,
        401: /GitHub answered 401: BUILD_GITHUB_TOKEN is wrong, expired or revoked/,
        403: /GitHub answered 403: BUILD_GITHUB_TOKEN may not dispatch workflows/,
        404: /GitHub answered 404: BUILD_GITHUB_REPOSITORY \(acme\/images\) or BUILD_GITHUB_WORKFLOW \(build.yml\) does not exist/,
        422: /GitHub answered 422: the workflow has no workflow_dispatch trigger with a 'tag' input, or BUILD_GITHUB_REF \(release\)/,
        400: /GitHub answered 400: GitHub refused the dispatch/,
        500: /GitHub answered 500/,
      };
      expect(outcome.ok).toBe(refuseWith === undefined);
      expect(String(logs.entries().at(-1)?.msg)).toMatch(expected[refuseWith ?? 'none'] as RegExp);
      expect(logs.text()).not.toContain(githubToken);
    });

    it('gitlab: triggers a pipeline with the tag as variable TAG', async () => {
      const { outcome, logs } = await triggerOn({
        BUILD_TARGET: 'gitlab',
        GITLAB_URL: hub.url,
        GITLAB_PROJECT: 'acme/tools/images',
        GITLAB_REF: 'main',
        GITLAB_TRIGGER_TOKEN: gitlabToken,
      });
      const [request] = hub.triggers;
      expect(request).toMatchObject({
        api: 'gitlab',
        path: '/api/v4/projects/acme%2Ftools%2Fimages/trigger/pipeline',
        headers: expect.objectContaining({ 'content-type': 'application/x-www-form-urlencoded' }),
      });
      expect(Object.fromEntries(new URLSearchParams(request?.body ?? ''))).toEqual({
        token: gitlabToken,
        ref: 'main',
        'variables[TAG]': 'step-1',
      });
      const expected: Record<string, RegExp> = {
        none: /^triggered step-1$/,
        400: /GitLab answered 400: the pipeline could not be created: GITLAB_REF \(main\) does not exist/,
        401: /GitLab answered 401: GITLAB_TRIGGER_TOKEN is wrong or was revoked/,
        403: /GitLab answered 403: GITLAB_TRIGGER_TOKEN may not run pipelines/,
        404: /GitLab answered 404: GITLAB_PROJECT \(acme\/tools\/images\) does not exist/,
        422: /GitLab answered 422: GitLab refused the trigger/,
        500: /GitLab answered 500/,
      };
      expect(outcome.ok).toBe(refuseWith === undefined);
      expect(String(logs.entries()[0]?.msg)).toMatch(expected[refuseWith ?? 'none'] as RegExp);
      expect(logs.text()).not.toContain('fake/gitlab');
      expect(logs.text()).not.toContain(encodeURIComponent(gitlabToken));
    });

    it('dockerhub: posts to the legacy trigger URL', async () => {
      const { outcome, logs } = await triggerOn({
        DOCKERHUB_URL: hub.url,
        DOCKERHUB_TRIGGER_TOKEN: 'hub-token-1',
      });
      expect(hub.triggers[0]).toMatchObject({
        path: '/u/maddouri/void-docker/trigger/hub-token-1/',
      });
      expect(outcome.ok).toBe(refuseWith === undefined);
      if (
        refuseWith !== undefined &&
        refuseWith !== 500 &&
        refuseWith <= 404 &&
        refuseWith !== 400
      ) {
        expect(String(logs.entries()[0]?.msg)).toMatch(/trigger token is wrong or was regenerated/);
      }
      expect(logs.text()).not.toContain('hub-token-1');
    });
  },
);

describe('Docker Hub trigger bodies and URLs', () => {
  let hub: FakeHub;
  beforeEach(async () => {
    hub = await startTestHub({ user: 'maddouri', repo: 'void-docker' });
  });
  afterEach(() => hub.close());

  it.each([
    ['docker_tag', { docker_tag: 'step-1' }],
    ['source_tag', { source_type: 'Tag', source_name: 'step-1' }],
    ['source_branch', { source_type: 'Branch', source_name: 'step-1' }],
  ])('DOCKERHUB_TRIGGER_BODY=%s', async (form, body) => {
    await triggerOn({
      DOCKERHUB_URL: hub.url,
      DOCKERHUB_TRIGGER_TOKEN: 't0ken',
      DOCKERHUB_TRIGGER_BODY: form,
    });
    expect(JSON.parse(hub.triggers[0]?.body ?? '')).toEqual(body);
    expect(hub.triggers[0]?.headers['content-type']).toBe('application/json');
  });

  it('posts to the newer trigger URL, which answers 202', async () => {
    const { outcome, logs } = await triggerOn({
      DOCKERHUB_TRIGGER_URL: `${hub.url}/api/build/v1/source/4a5b-c6d7/trigger/new-form-token/call/`,
    });
    expect(outcome).toMatchObject({ ok: true, status: 202 });
    expect(hub.triggers[0]?.path).toBe(
      '/api/build/v1/source/4a5b-c6d7/trigger/new-form-token/call/',
    );
    expect(logs.text()).not.toContain('new-form-token');
  });
});

describe('build target configuration', () => {
  it('names the variables a chosen target is missing', () => {
    expect(() => loadConfig({ BUILD_TARGET: 'github' })).toThrow(
      /BUILD_GITHUB_REPOSITORY: is required when BUILD_TARGET is github\n.*BUILD_GITHUB_WORKFLOW: is required/,
    );
    expect(() => loadConfig({ BUILD_TARGET: 'gitlab' })).toThrow(
      /GITLAB_PROJECT: is required when BUILD_TARGET is gitlab/,
    );
    expect(() => loadConfig({ BUILD_TARGET: 'jenkins' })).toThrow(
      /BUILD_TARGET: must be dockerhub, github or gitlab/,
    );
  });

  // What GitHub Actions sets in every job, where the app may run or be tested.
  const actionsJob = {
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKFLOW: 'Node.js CI',
    GITHUB_REPOSITORY: 'someone/else',
    GITHUB_REF: 'refs/heads/main',
    GITHUB_TOKEN: 'ghs_job-token',
    GITHUB_API_URL: 'https://api.github.com',
  };

  it('ignores the variables GitHub Actions and GitLab CI set in every job', () => {
    const config = loadConfig({
      ...actionsJob,
      GITLAB_CI: 'true',
      CI_PROJECT_PATH: 'group/other',
      BUILD_TARGET: 'dockerhub',
    });
    expect(config).toMatchObject({ dryRun: true, notices: [] });
    expect(loadConfig(actionsJob).target.name).toBe('dockerhub');
  });

  it('reads only the new names when BUILD_TARGET is github, and says the old ones are ignored', () => {
    const config = loadConfig({
      BUILD_TARGET: 'github',
      BUILD_GITHUB_REPOSITORY: 'acme/images',
      BUILD_GITHUB_WORKFLOW: 'build.yml',
      GITHUB_REF: 'release',
      GITHUB_TOKEN: 'old-token',
    });
    expect(config.dryRun).toBe(true);
    expect(config.target).toMatchObject({ settings: { ref: 'main' } });
    expect(config.notices).toEqual([
      'GITHUB_REF, GITHUB_TOKEN are set but no longer read: set BUILD_GITHUB_REF, BUILD_GITHUB_TOKEN instead',
    ]);
    expect(config.notices.join()).not.toContain('old-token');
  });

  it('names old variables beside the missing new ones', () => {
    expect(() =>
      loadConfig({ BUILD_TARGET: 'github', GITHUB_REPOSITORY: 'a/b', GITHUB_WORKFLOW: 'b.yml' }),
    ).toThrow(
      /BUILD_GITHUB_REPOSITORY: is required[^]*\n {2}- GITHUB_REPOSITORY, GITHUB_WORKFLOW are set but no longer read: set BUILD_GITHUB_REPOSITORY, BUILD_GITHUB_WORKFLOW instead$/,
    );
  });

  it('says nothing of old names that only shadow new ones, as inside an Actions job', () => {
    const config = loadConfig({
      ...actionsJob,
      BUILD_TARGET: 'github',
      BUILD_GITHUB_API_URL: 'https://github.example/api/v3',
      BUILD_GITHUB_REPOSITORY: 'acme/images',
      BUILD_GITHUB_WORKFLOW: 'build.yml',
      BUILD_GITHUB_REF: 'release',
      BUILD_GITHUB_TOKEN: 'new-token',
    });
    expect(config).toMatchObject({ dryRun: false, notices: [] });
    expect(config.target.settings).toMatchObject({ ref: 'release', workflow: 'build.yml' });
  });

  it('runs dry without the chosen target token', () => {
    const github = {
      BUILD_TARGET: 'github',
      BUILD_GITHUB_REPOSITORY: 'a/b',
      BUILD_GITHUB_WORKFLOW: '123',
    };
    expect(loadConfig({ ...github, DOCKERHUB_TRIGGER_TOKEN: 'x' })).toMatchObject({
      dryRun: true,
      tokenVariable: 'BUILD_GITHUB_TOKEN',
    });
    expect(loadConfig({ ...github, BUILD_GITHUB_TOKEN: 'x' }).dryRun).toBe(false);
    expect(loadConfig({ BUILD_TARGET: 'gitlab', GITLAB_PROJECT: '42' }).tokenVariable).toBe(
      'GITLAB_TRIGGER_TOKEN',
    );
  });
});
