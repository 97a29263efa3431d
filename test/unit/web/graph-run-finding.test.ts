import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTestApp, flush } from '../../helpers/app';
import { eventually } from '../../helpers/eventually';

const graph = join(mkdtempSync(join(tmpdir(), 'dtp-find-')), 'chains.yml');
writeFileSync(
  graph,
  `delay: 10
images:
  - image: ghcr.io/acme/svc:a
    build: { target: github, repository: acme/svc, workflow: build.yml, token_env: GH_BUILD_TOKEN }
  - image: ghcr.io/acme/svc:b
    build: { target: github, repository: acme/svc, workflow: build.yml, token_env: GH_BUILD_TOKEN }
`,
);

const A = 'ghcr.io/acme/svc:a';
const B = 'ghcr.io/acme/svc:b';
const page = (id: number) => `https://github.com/acme/svc/actions/runs/${id}`;

describe('the clock dispatched two roots built by one workflow (graph file)', () => {
  it("finds each root's run by the tag in its title (run-name: build ${{ inputs.tag }})", async () => {
    const t = buildTestApp({
      GRAPH_FILE: graph,
      GH_BUILD_TOKEN: 'ghp_testToken0123456789',
      BUILD_POLL_INTERVAL: '1',
    });
    const created = new Date(t.timers.now() + 2000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const run = (id: number, tag: string) => ({
      id,
      name: 'build',
      display_title: `build ${tag}`,
      head_branch: 'main',
      event: 'workflow_dispatch',
      status: 'in_progress',
      conclusion: null,
      created_at: created,
      html_url: page(id),
    });
    const api = t.registry.get('https://api.github.com');
    api
      .intercept({
        path: (path) => path.startsWith('/repos/acme/svc/actions/workflows/build.yml/runs?'),
        method: 'GET',
      })
      .reply(200, JSON.stringify({ total_count: 2, workflow_runs: [run(11, 'a'), run(12, 'b')] }))
      .persist();
    for (const id of [11, 12]) {
      api
        .intercept({ path: `/repos/acme/svc/actions/runs/${id}`, method: 'GET' })
        .reply(
          200,
          JSON.stringify({ id, status: 'in_progress', conclusion: null, html_url: page(id) }),
        )
        .persist();
    }
    t.web.clockKickedOff();
    for (let i = 0; i < 5; i++) {
      t.timers.advance(1000);
      await flush();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const builds = async () => {
      const nodes = (await t.app.inject('/status')).json().graph.nodes as {
        id: string;
        build: { url: string | null } | null;
      }[];
      return Object.fromEntries(nodes.map((node) => [node.id, node.build?.url ?? null]));
    };
    await eventually(
      async () => Object.values(await builds()).every((url) => url !== null),
      'both runs found',
      3000,
    ).catch(() => undefined);
    expect(await builds()).toEqual({ [A]: page(11), [B]: page(12) });
    await t.web.close();
  });
});
