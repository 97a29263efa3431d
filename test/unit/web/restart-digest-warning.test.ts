import { buildTestApp, flush, memoryJournal } from '../../helpers/app';
import { eventually } from '../../helpers/eventually';
import { answerGhcrDigests, digestOf, writeGhcrLine } from '../../helpers/github';
import { ManualTimers } from '../../helpers/timers';

const graph = writeGhcrLine(['svc', 'app']);
const SVC = 'ghcr.io/acme/svc:latest';

describe('a build awaited across a restart, whose run pushed and ended while down', () => {
  it('is confirmed by its new digest, with no "digest did not change" warning', async () => {
    const start = new ManualTimers().now();
    const triggeredAt = start - 20 * 60_000;
    const journal = memoryJournal([{ tag: SVC, dueAt: triggeredAt, after: SVC, awaited: true }]);
    const t = buildTestApp(
      { GRAPH_FILE: graph, GH_BUILD_TOKEN: 'ghp_testToken0123456789' },
      journal,
    );
    const fresh = digestOf('svc built while down');
    const heads = answerGhcrDigests(t.registry, (name) =>
      name === 'svc' ? fresh : digestOf('app'),
    );
    const created = new Date(triggeredAt + 5000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const run = {
      id: 77,
      name: 'build',
      display_title: 'build latest',
      head_branch: 'main',
      event: 'workflow_dispatch',
      status: 'completed',
      conclusion: 'success',
      created_at: created,
      html_url: 'https://github.com/acme/svc/actions/runs/77',
    };
    const api = t.registry.get('https://api.github.com');
    api
      .intercept({
        path: (path) => path.startsWith('/repos/acme/svc/actions/workflows/build.yml/runs?'),
        method: 'GET',
      })
      .reply(200, JSON.stringify({ total_count: 1, workflow_runs: [run] }))
      .persist();
    api
      .intercept({ path: '/repos/acme/svc/actions/runs/77', method: 'GET' })
      .reply(200, JSON.stringify(run))
      .persist();
    t.web.start();
    await eventually(() => heads.length >= 2, 'the first look');
    await flush();
    t.timers.advance(t.config.buildPollInterval);
    await eventually(
      () => t.logs.entries().some((line) => line.msg === `build of ${SVC} succeeded`),
      'the run found and read',
    );
    await eventually(() => heads.length >= 3, 'the read after the success');
    await flush();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const node = (
      (await t.app.inject('/status')).json().graph.nodes as { id: string; warning?: string }[]
    ).find((entry) => entry.id === SVC);
    await t.web.close();
    expect(node?.warning).toBeUndefined();
  });
});
