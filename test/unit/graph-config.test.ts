import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../webapp/config';
import { problemsOf } from '../helpers/config';

/** A graph file in a folder of its own. */
function graphFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'dtp-graph-config-')), 'chains.yml');
  writeFileSync(file, text);
  return file;
}

const twoImages = `delay: 30
schedule: "0 3 * * *"
timezone: Europe/Paris
images:
  - image: acme/base:latest
    from: [alpine:3.20]
    build: { target: dockerhub, token_env: BASE_TOKEN }
  - image: acme/app
    from: [acme/base:latest]
    build: { target: github, repository: acme/app, workflow: build.yml, token_env: GH_TOKEN }
`;

describe('a graph file in the configuration', () => {
  it('makes each image a node with its parents, upstream images, timing and build', () => {
    const config = loadConfig({ GRAPH_FILE: graphFile(twoImages), BASE_TOKEN: 'secret-base' });
    expect(config.graph.nodes.map((node) => [node.id, node.parents, node.upstream])).toEqual([
      ['acme/base:latest', [], ['library/alpine:3.20']],
      ['acme/app:latest', ['acme/base:latest'], []],
    ]);
    expect(config.graph.upstream.map((image) => image.display)).toEqual(['library/alpine:3.20']);
    expect(config.propagationDelay).toBe(30_000);
    expect(config.schedule).toEqual({ kind: 'cron', pattern: '0 3 * * *', domAndDow: false });
    expect(config.timezone).toBe('Europe/Paris');
    const [base, app] = config.graph.nodes;
    expect(base?.build).toMatchObject({ dryRun: false, hubRepository: 'acme/base' });
    // GH_TOKEN is not set: that node alone runs dry, and says which variable it lacks
    expect(app?.build).toMatchObject({ dryRun: true, tokenVariable: 'GH_TOKEN' });
    expect(config.dryRun).toBe(false);
  });

  it('never sends every Docker Hub node to the one DOCKERHUB_TRIGGER_URL', () => {
    const config = loadConfig({
      GRAPH_FILE: graphFile(twoImages),
      DOCKERHUB_TRIGGER_URL: 'https://hub.example/u/other/repo/trigger/abc/',
    });
    const base = config.graph.nodes[0]?.build.target;
    expect(base?.name).toBe('dockerhub');
    expect(base?.name === 'dockerhub' && base.settings.url).toBeUndefined();
  });

  it('refuses a GRAPH_FILE that does not exist, naming the variable and the file', () => {
    expect(problemsOf({ GRAPH_FILE: '/nowhere/chains.yml' })).toEqual([
      'GRAPH_FILE: /nowhere/chains.yml does not exist',
    ]);
  });

  it('refuses a graph file beside TAG_SEQUENCE or UPSTREAM_IMAGES, naming both', () => {
    const file = graphFile(twoImages);
    expect(problemsOf({ GRAPH_FILE: file, TAG_SEQUENCE: 'a,b' })).toEqual([
      expect.stringMatching(/^GRAPH_FILE \(.*chains\.yml\) and TAG_SEQUENCE are both set/),
    ]);
    expect(problemsOf({ GRAPH_FILE: file, UPSTREAM_IMAGES: 'alpine' })).toEqual([
      expect.stringMatching(/^GRAPH_FILE \(.*\) and UPSTREAM_IMAGES are both set/),
    ]);
  });

  it('names the file and the line of each problem, and every problem at once', () => {
    const file = graphFile(`images:
  - image: acme/a:1
    from: [acme/b:1]
    build: { target: dockerhub }
  - image: acme/b:1
    from: [acme/a:1]
    build: { target: github, workflow: build.yml }
`);
    const problems = problemsOf({ GRAPH_FILE: file });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/chains\.yml line 7: .*repository/),
        expect.stringMatching(/chains\.yml line 2: .*acme\/a:1 -> acme\/b:1 -> acme\/a:1/),
      ]),
    );
  });

  it('keeps the line of TAG_SEQUENCE without a graph file', () => {
    const config = loadConfig({ TAG_SEQUENCE: 'a,b' });
    expect(config.graph.file).toBeNull();
    expect(config.graph.nodes.map((node) => [node.id, node.parents])).toEqual([
      ['a', []],
      ['b', ['a']],
    ]);
  });
});

describe('a Docker Hub image of a graph file', () => {
  it('takes the trigger URL of the variable it names, even DOCKERHUB_TRIGGER_URL', () => {
    const url = 'https://hub.example/u/acme/base/trigger/abc/';
    const config = loadConfig({
      GRAPH_FILE: graphFile(`images:
  - image: acme/base:latest
    build: { target: dockerhub, trigger_url_env: DOCKERHUB_TRIGGER_URL }
`),
      DOCKERHUB_TRIGGER_URL: url,
    });
    const build = config.graph.nodes[0]?.build;
    expect(build?.dryRun).toBe(false);
    expect(build?.target.name === 'dockerhub' && build.target.settings.url).toBe(url);
  });
});
