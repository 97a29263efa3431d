import { buildFieldsOf, readNodeBuild } from '../../../webapp/builds/read-node-build';
import { targets, type TargetName } from '../../../webapp/builds/targets/create-target';
import { parseImageRef } from '../../../webapp/chain/parse-image-ref';

const hubUrl = 'https://registry.hub.docker.com';
const image = parseImageRef('acme/base:latest');

const read = (build: unknown, env: Record<string, string | undefined> = {}) =>
  readNodeBuild(build, image, env, hubUrl);

const problemsOf = (build: unknown, env: Record<string, string | undefined> = {}) => {
  const result = read(build, env);
  expect(result.build).toBeUndefined();
  return result.problems;
};

describe('readNodeBuild', () => {
  it('reads a Docker Hub build from the global variables', () => {
    const result = read({ target: 'dockerhub' }, { DOCKERHUB_TRIGGER_TOKEN: 'hub-secret' });
    expect(result).toEqual({
      problems: [],
      build: {
        target: {
          name: 'dockerhub',
          settings: { token: 'hub-secret', url: undefined, body: 'docker_tag' },
        },
        dryRun: false,
        tokenVariable: 'DOCKERHUB_TRIGGER_TOKEN',
        service: `dockerhub ${hubUrl}`,
        hubRepository: 'acme/base',
      },
    });
  });

  it('takes a Docker Hub node its own token, trigger URL and body', () => {
    const url = 'https://hub.docker.com/api/build/v1/source/abc/trigger/xyz/call/';
    const result = read(
      {
        target: 'dockerhub',
        token_env: 'ACME_BASE_TOKEN',
        trigger_url_env: 'ACME_BASE_URL',
        body: 'source_branch',
      },
      {
        DOCKERHUB_TRIGGER_TOKEN: 'global',
        DOCKERHUB_TRIGGER_BODY: 'source_tag',
        ACME_BASE_TOKEN: 'own',
        ACME_BASE_URL: url,
      },
    );
    expect(result.problems).toEqual([]);
    expect(result.build?.target).toEqual({
      name: 'dockerhub',
      settings: { token: 'own', url, body: 'source_branch' },
    });
    expect(result.build?.tokenVariable).toBe('ACME_BASE_TOKEN');
  });

  it('reads a GitHub build, the node overriding the global variables', () => {
    const env = {
      BUILD_GITHUB_REPOSITORY: 'acme/global',
      BUILD_GITHUB_WORKFLOW: 'global.yml',
      BUILD_GITHUB_REF: 'develop',
      BUILD_GITHUB_API_URL: 'https://ghe.example.com/api/v3/',
      BUILD_GITHUB_TOKEN: 'global-token',
      GH_TOKEN: 'node-token',
    };
    const own = read(
      { target: 'github', repository: 'acme/svc', workflow: 'build.yml', token_env: 'GH_TOKEN' },
      env,
    );
    expect(own).toEqual({
      problems: [],
      build: {
        target: {
          name: 'github',
          settings: {
            apiUrl: 'https://ghe.example.com/api/v3/',
            repository: 'acme/svc',
            workflow: 'build.yml',
            ref: 'develop',
            token: 'node-token',
          },
        },
        dryRun: false,
        tokenVariable: 'GH_TOKEN',
        service: 'github https://ghe.example.com/api/v3',
      },
    });

    const global = read({ target: 'github', ref: 'main', api_url: 'https://api.github.com' }, env);
    expect(global.build?.target.settings).toMatchObject({
      repository: 'acme/global',
      workflow: 'global.yml',
      ref: 'main',
      token: 'global-token',
    });
    expect(global.build?.tokenVariable).toBe('BUILD_GITHUB_TOKEN');
    expect(global.build?.service).toBe('github https://api.github.com');
  });

  it('reads a GitLab build, a bare project id included', () => {
    const result = read(
      {
        target: 'gitlab',
        project: 42,
        url: 'https://gitlab.example.com',
        token_env: 'APP_TRIGGER_TOKEN',
        api_token_env: 'APP_READ_TOKEN',
      },
      {
        GITLAB_REF: 'release',
        GITLAB_API_TOKEN: 'global-read',
        APP_TRIGGER_TOKEN: 'trigger',
        APP_READ_TOKEN: 'read',
      },
    );
    expect(result).toEqual({
      problems: [],
      build: {
        target: {
          name: 'gitlab',
          settings: {
            url: 'https://gitlab.example.com',
            project: '42',
            ref: 'release',
            token: 'trigger',
            apiToken: 'read',
          },
        },
        dryRun: false,
        tokenVariable: 'APP_TRIGGER_TOKEN',
        service: 'gitlab https://gitlab.example.com',
      },
    });
  });

  it('is a dry run, naming the variable, when the token variable is not set', () => {
    const result = read(
      { target: 'gitlab', project: 'acme/app', token_env: 'APP_TRIGGER_TOKEN' },
      // the global token is no fallback for a node that names its own
      { GITLAB_TRIGGER_TOKEN: 'global' },
    );
    expect(result.problems).toEqual([]);
    expect(result.build).toMatchObject({ dryRun: true, tokenVariable: 'APP_TRIGGER_TOKEN' });
    expect(result.build?.target.settings).toMatchObject({ token: undefined });
  });

  it('refuses a secret written in the file, without quoting it', () => {
    const secret = 'glptt-0123456789abcdef';
    const problems = problemsOf({
      target: 'gitlab',
      project: 'acme/app',
      token: secret,
      api_token: secret,
      password: secret,
    });
    expect(problems).toEqual([
      'token: secrets never stand in the graph file: name the variable that holds it with token_env',
      'api_token: secrets never stand in the graph file: name the variable that holds it with api_token_env',
      'password: secrets never stand in the graph file: name the variable that holds it with token_env',
    ]);
    expect(problems.join('\n')).not.toContain(secret);
  });

  it('never quotes a secret held in a variable, nor one put where a variable name belongs', () => {
    const secret = 'has a space';
    const problems = problemsOf(
      { target: 'github', repository: 'acme/svc', workflow: 'build.yml', token_env: 'GH_TOKEN' },
      { GH_TOKEN: secret },
    );
    expect(problems).toEqual(['token_env (GH_TOKEN): must not contain spaces']);
    const misplaced = problemsOf({ target: 'dockerhub', token_env: 'dckr_pat_abcdef' });
    expect(misplaced).toEqual([
      'token_env: must be the name of an environment variable (A-Z, 0-9 and _), not its value',
    ]);
    expect(misplaced.join('\n')).not.toContain('dckr_pat_abcdef');
  });

  it('names the fields a target needs', () => {
    expect(problemsOf({ target: 'github' })).toEqual([
      'github builds need repository',
      'github builds need workflow',
    ]);
    expect(problemsOf({ target: 'gitlab' })).toEqual(['gitlab builds need project']);
  });

  it('names a bad value by its field, or by the global variable it came from', () => {
    expect(
      problemsOf(
        { target: 'github', repository: 'not-a-repository', workflow: 'build.yml' },
        { BUILD_GITHUB_REF: 'bad ref' },
      ),
    ).toEqual([
      'repository: must be owner/name',
      'ref (BUILD_GITHUB_REF): must be a branch or tag name',
    ]);
    expect(problemsOf({ target: 'dockerhub', body: 'tag' })).toEqual([
      'body: must be docker_tag, source_tag or source_branch',
    ]);
  });

  it('refuses a field that is not text, once', () => {
    expect(problemsOf({ target: 'gitlab', project: ['acme/app'] })).toEqual([
      'project: must be a non-empty text',
    ]);
    expect(problemsOf({ target: 'gitlab', project: 'acme/app', ref: '' })).toEqual([
      'ref: must be a non-empty text',
    ]);
  });

  it('refuses a bad token_env name', () => {
    expect(
      problemsOf({ target: 'github', repository: 'a/b', workflow: '1', token_env: 'gh_token' }),
    ).toEqual([
      'token_env: must be the name of an environment variable (A-Z, 0-9 and _), not its value',
    ]);
    expect(problemsOf({ target: 'dockerhub', token_env: '1TOKEN' })).toHaveLength(1);
  });

  it('names the allowed fields for an unknown one', () => {
    expect(problemsOf({ target: 'dockerhub', repository: 'acme/base' })).toEqual([
      "unknown field 'repository' in a dockerhub build: allowed are target, token_env, trigger_url_env, body",
    ]);
    expect(
      problemsOf({ target: 'github', toString: 'x', repository: 'a/b', workflow: '1' }),
    ).toEqual([
      "unknown field 'toString' in a github build: allowed are target, token_env, repository, workflow, ref, api_url, app_id, app_key_env",
    ]);
  });

  it('needs one of the three targets', () => {
    expect(problemsOf({ repository: 'acme/svc' })).toEqual([
      'build: needs a target: dockerhub, github, gitlab',
    ]);
    expect(problemsOf({ target: 'jenkins' })).toEqual([
      'target: must be dockerhub, github, gitlab',
    ]);
    expect(problemsOf('dockerhub')).toEqual(['build: must be a mapping with a target']);
  });

  it('has a field for every setting of every target, and names a secret one by its variable', () => {
    for (const name of Object.keys(targets) as TargetName[]) {
      const table = targets[name].settings as Record<string, { secret?: boolean }>;
      const fields = buildFieldsOf(name).slice(1);
      expect(fields).toHaveLength(Object.keys(table).length);
      const variables = fields.filter((field) => field.endsWith('_env'));
      const secrets = Object.values(table).filter((definition) => definition.secret === true);
      expect(variables).toHaveLength(secrets.length);
    }
  });
});
