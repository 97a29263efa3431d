import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPushPayload } from '../../../webapp/simulation/build-push-payload';
import { buildTestApp, flush } from '../../helpers/app';

const file = join(mkdtempSync(join(tmpdir(), 'dtp-graph-webhook-')), 'chains.yml');
writeFileSync(
  file,
  `delay: 10
images:
  - image: acme/base:latest
    build: { target: dockerhub }
  - image: acme/svc:a
    from: [acme/base]
    build: { target: dockerhub }
  - image: acme/svc:b
    from: [acme/base]
    build: { target: dockerhub }
  - image: acme/app:latest
    from: [acme/svc:a, acme/svc:b]
    build: { target: dockerhub }
`,
);

/** A push webhook of `repository`'s `tag`, as Docker Hub sends it. */
const push = (repository: string, tag: string, pushedAt = 1764158400) => {
  const [user, repo] = repository.split('/') as [string, string];
  return buildPushPayload({
    hubUrl: 'https://registry.hub.docker.com',
    user,
    repo,
    tag,
    pushedAt,
    hookId: 'abc123',
  });
};

describe('the webhook of a graph file', () => {
  it('takes every repository of the graph at the one route, and names what it will trigger', async () => {
    const t = buildTestApp({ GRAPH_FILE: file });
    const base = await t.post(push('acme/base', 'latest'));
    expect(base.statusCode).toBe(200);
    expect(base.json()).toMatchObject({
      prev_tag: 'acme/base:latest',
      next: ['acme/svc:a', 'acme/svc:b'],
      description: 'acme/base:latest pushed: acme/svc:a, acme/svc:b will be triggered from 10 s',
    });
    t.timers.advance(10_000);
    await flush();
    const a = await t.post(push('acme/svc', 'a'));
    expect(a.json()).toMatchObject({
      waiting: ['acme/app:latest'],
      description: 'acme/svc:a pushed: acme/app:latest waits for acme/svc:b',
    });
    const page = await t.app.inject('/');
    expect(page.statusCode).toBe(200);
    for (const image of ['acme/base:latest', 'acme/svc:a', 'acme/svc:b', 'acme/app:latest']) {
      expect(page.body).toContain(image);
    }
    const status = (await t.app.inject('/status')).json();
    expect(status.graph.wave).toMatchObject({ by: 'acme/base:latest pushed', total: 4 });
  });

  it('refuses a repository or a tag that is not in the graph, and changes nothing', async () => {
    const t = buildTestApp({ GRAPH_FILE: file });
    const other = await t.post(push('acme/other', 'latest'));
    expect(other.statusCode).toBe(403);
    expect(other.json().description).toMatch(/is not a webhook of a repository of/);
    const tag = await t.post(push('acme/svc', 'c'));
    expect(tag.statusCode).toBe(422);
    expect(tag.json().description).toMatch(/"c" of acme\/svc is not an image of/);
    expect((await t.app.inject('/status')).json().pending).toEqual([]);
  });
});
