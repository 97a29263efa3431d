import type { GraphNodeView, GraphView, StatusView } from '../../../webapp/web/build-status-view';
import { renderStatusPage } from '../../../webapp/web/render-status-page';

const now = Date.UTC(2026, 10, 26, 12);
const at = (seconds: number) => new Date(now + seconds * 1000).toISOString();

function view(overrides: Partial<StatusView> = {}): StatusView {
  return {
    version: '1.2.3',
    dryRun: false,
    repository: 'acme/tower',
    target: {
      name: 'dockerhub',
      where: 'https://registry.hub.docker.com/u/acme/tower/trigger/***/',
    },
    nextKickoff: at(12 * 3600),
    pending: [{ tag: 'step-2', after: 'step-1', dueAt: at(100) }],
    awaiting: [{ tag: 'step-3', since: at(-600) }],
    stalled: [{ tag: 'step-1', since: at(-6 * 3600) }],
    tags: [
      { tag: 'init', registryPush: at(-7200), appPush: at(-7300), state: null },
      { tag: 'step-1', registryPush: null, appPush: null, state: 'stalled' },
      { tag: 'step-2', registryPush: null, appPush: null, state: 'pending' },
      { tag: 'step-3', registryPush: null, appPush: null, state: 'awaited' },
      { tag: 'latest', registryPush: null, appPush: null, state: null },
    ],
    reconciliation: { every: 600, lastLook: null, outcome: null },
    upstream: [],
    ...overrides,
  };
}

/** [tag, state] of every tag as the page lists them, in the page's order. */
const listed = (html: string) =>
  [...html.matchAll(/<li class="[^"]*" data-tag="([^"]*)" data-state="([^"]*)">/g)].map((match) => [
    match[1],
    match[2],
  ]);

/** The text of one tag's entry, tags stripped. */
const entryOf = (html: string, tag: string) => {
  const start = html.indexOf(`data-tag="${tag}"`);
  return html
    .slice(start, html.indexOf('</li>', start))
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ');
};

describe('renderStatusPage', () => {
  it('lists every tag in build order with its state', () => {
    const html = renderStatusPage(view(), now);
    expect(listed(html)).toEqual([
      ['init', 'built'],
      ['step-1', 'stalled'],
      ['step-2', 'pending'],
      ['step-3', 'awaited'],
      ['latest', 'none'],
    ]);
  });

  it('says when each tag was built, is due, was triggered or stalled', () => {
    const html = renderStatusPage(view(), now);
    // the later of the app's and the registry's push
    expect(entryOf(html, 'init')).toContain('built 2026-11-26 10:00:00 UTC (2 h ago)');
    expect(entryOf(html, 'step-1')).toContain('no push since its trigger 2026-11-26 06:00:00 UTC');
    expect(entryOf(html, 'step-2')).toMatch(
      /trigger due 2026-11-26 12:01:40 UTC \(in 1 min 40 s\), after the push of step-1/,
    );
    expect(entryOf(html, 'step-3')).toMatch(/triggered 2026-11-26 11:50:00 UTC \(10 min ago\)/);
    expect(entryOf(html, 'latest')).toContain('not built yet');
  });

  it('names the repository, the build target and the next kick-off', () => {
    const html = renderStatusPage(view(), now);
    expect(html).toContain('<h1 data-repository>acme/tower ');
    expect(html).toContain(
      'Builds by <strong>dockerhub</strong> at <code>https://registry.hub.docker.com/u/acme/tower/trigger/***/</code>',
    );
    expect(html).toMatch(/data-kickoff><time datetime="2026-11-27T00:00:00.000Z">/);
    expect(renderStatusPage(view({ nextKickoff: null }), now)).toContain(
      '<p data-kickoff>none planned</p>',
    );
  });

  it('reloads itself only while a tag is pending, triggered or building', () => {
    const refresh = '<meta http-equiv="refresh" content="10">';
    expect(renderStatusPage(view(), now)).toContain(refresh);
    const still = view({
      pending: [],
      awaiting: [],
      tags: view().tags.map((tag) => ({
        ...tag,
        state: tag.state === 'stalled' ? 'stalled' : null,
      })),
    });
    expect(renderStatusPage(still, now)).not.toContain('http-equiv');
    const building = view({
      tags: [{ tag: 'init', registryPush: null, appPush: null, state: 'building' }],
    });
    expect(renderStatusPage(building, now)).toContain(refresh);
  });

  it('fits a phone: a viewport, and long words wrap', () => {
    const html = renderStatusPage(view(), now);
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(html).toContain('overflow-wrap:anywhere');
  });

  it('loads nothing and runs nothing', () => {
    const html = renderStatusPage(view(), now);
    expect(html).not.toMatch(/<script|<link|<img|src=|@import|url\(/i);
  });

  it('links each build to its run, and shows a failed one', () => {
    const html = renderStatusPage(
      view({
        tags: [
          {
            tag: 'init',
            registryPush: null,
            appPush: null,
            state: 'building',
            build: { state: 'in_progress', url: 'https://ci.example/runs/7' },
          },
          {
            tag: 'step-1',
            registryPush: null,
            appPush: null,
            state: 'failed',
            build: { state: 'failure', url: null },
          },
        ],
      }),
      now,
    );
    expect(listed(html)).toEqual([
      ['init', 'building'],
      ['step-1', 'failed'],
    ]);
    expect(html).toContain(
      'build in_progress: <a href="https://ci.example/runs/7" rel="noopener noreferrer">see the run</a>',
    );
    expect(entryOf(html, 'step-1')).toContain('build failure');
    expect(html).toContain('data-overall>needs attention<');
  });

  it('says when a run cannot be read, and never calls a run that is no longer read running', () => {
    const html = renderStatusPage(
      view({
        tags: [
          {
            tag: 'init',
            registryPush: at(-60),
            appPush: null,
            state: null,
            build: {
              state: 'in_progress',
              url: 'https://ci.example/runs/7',
              stopped: 'the tag was pushed',
            },
          },
          {
            tag: 'step-1',
            registryPush: null,
            appPush: null,
            state: 'awaited',
            build: {
              state: 'in_progress',
              url: 'https://ci.example/runs/8',
              unreadable: 'the API answered <500>',
            },
          },
        ],
      }),
      now,
    );
    expect(listed(html)).toEqual([
      ['init', 'built'],
      ['step-1', 'awaited'],
    ]);
    expect(entryOf(html, 'init')).toContain(
      'run no longer followed (the tag was pushed): see the run',
    );
    expect(entryOf(html, 'init')).not.toContain('in_progress');
    expect(html).toContain(
      'cannot read the run (the API answered &lt;500&gt;): <a href="https://ci.example/runs/8"',
    );
    expect(entryOf(html, 'step-1')).not.toContain('in_progress');
  });

  it('shows the upstream images once there are some', () => {
    expect(renderStatusPage(view(), now)).not.toContain('Upstream images');
    const html = renderStatusPage(
      view({
        upstream: [
          {
            image: 'library/alpine:3.20',
            digest: 'sha256:0123456789abcdef0123',
            readAt: at(-60),
            error: null,
          },
          { image: 'acme/base:latest', digest: null, readAt: null, error: 'no such image or tag' },
        ],
      }),
      now,
    );
    expect(html).toContain('Upstream images');
    expect(html).toContain('<code>sha256:0123456789ab</code>, read');
    expect(html).toContain('not read yet');
    expect(html).toContain('cannot read: no such image or tag');
  });

  it('shows a digest waiting out its quiet period, and a kick-off waiting for the chain', () => {
    const html = renderStatusPage(
      view({
        upstream: [
          {
            image: 'library/alpine:3.20',
            digest: 'sha256:0123456789abcdef0123',
            readAt: at(-60),
            error: null,
            pending: { digest: 'sha256:fedcba9876543210fedc', since: at(-120) },
            owedSince: null,
          },
          {
            image: 'acme/base:latest',
            digest: 'sha256:aaaaaaaaaaaabbbb',
            readAt: at(-60),
            error: null,
            pending: null,
            owedSince: at(-300),
          },
        ],
      }),
      now,
    );
    expect(html).toMatch(
      /new digest <code>sha256:fedcba987654<\/code> since <time.*?: it counts once it has lasted UPSTREAM_QUIET/,
    );
    expect(html).toMatch(/changed <time.*?: its kick-off waits until the chain is idle/);
    expect(html.match(/new digest/g)).toHaveLength(1);
  });

  it('shows the last notifications newest first, when there are notifications', () => {
    expect(renderStatusPage(view(), now)).not.toContain('notifications');
    expect(renderStatusPage(view({ notifications: [] }), now)).toContain('None sent yet.');
    const html = renderStatusPage(
      view({
        notifications: [
          { at: at(-3600), event: 'stalled', text: 'step-1 stalled' },
          { at: at(-60), event: 'failed', text: 'step-2 failed' },
        ],
      }),
      now,
    );
    expect([...html.matchAll(/data-notification="([^"]+)"/g)].map((m) => m[1])).toEqual([
      'failed',
      'stalled',
    ]);
  });

  it('says when it runs dry', () => {
    expect(renderStatusPage(view(), now)).not.toContain('DRY RUN');
    expect(renderStatusPage(view({ dryRun: true }), now)).toContain('DRY RUN');
  });

  it('escapes every value it shows', () => {
    const odd = `<b>"o'dd"&</b>`;
    const html = renderStatusPage(
      view({
        repository: odd,
        version: odd,
        target: { name: odd, where: odd },
        nextKickoff: odd,
        pending: [{ tag: odd, after: odd, dueAt: odd }],
        tags: [
          { tag: odd, registryPush: null, appPush: null, state: 'pending' },
          {
            tag: 'x',
            registryPush: odd,
            appPush: null,
            state: odd,
            build: { state: odd, url: 'javascript:alert(1)' },
          },
        ],
        reconciliation: { every: 600, lastLook: at(-5), outcome: odd },
        upstream: [{ image: odd, digest: odd, readAt: odd, error: odd }],
        notifications: [{ at: odd, event: odd, text: odd }],
      }),
      now,
    );
    expect(html).not.toContain('<b>');
    expect(html).not.toContain(`"o'dd"`);
    expect(html).toContain('&lt;b&gt;&quot;o&#39;dd&quot;&amp;&lt;/b&gt;');
    // an address that is not a web page's is shown, never followed
    expect(html).not.toContain('href="javascript');
    expect(listed(html)).toEqual([
      ['&lt;b&gt;&quot;o&#39;dd&quot;&amp;&lt;/b&gt;', 'pending'],
      ['x', 'other'],
    ]);
  });
});

describe('the status page and times that cannot be', () => {
  it('shows no build time in the future', () => {
    const html = renderStatusPage(
      view({
        pending: [],
        awaiting: [],
        stalled: [],
        tags: [
          { tag: 'init', registryPush: '2099-01-01T00:00:00.000Z', appPush: null, state: null },
          { tag: 'latest', registryPush: at(-60), appPush: null, state: null },
        ],
      }),
      now,
    );
    expect(html).not.toContain('2099');
    expect(html).not.toMatch(/built[^<]*<time[^>]*>[^<]*<\/time> \(in /);
    expect(listed(html)).toEqual([
      ['init', 'none'],
      ['latest', 'built'],
    ]);
  });
});

function node(
  id: string,
  level: number,
  state: GraphNodeView['state'],
  extra: Partial<GraphNodeView> = {},
): GraphNodeView {
  return {
    id,
    level,
    parents: [],
    upstream: [],
    state,
    registryPush: null,
    appPush: null,
    ...extra,
  };
}

function graphView(nodes: GraphNodeView[], overrides: Partial<GraphView> = {}): StatusView {
  return view({
    graph: {
      file: 'graph.yaml',
      levels: Math.max(...nodes.map((entry) => entry.level)) + 1,
      nodes,
      wave: null,
      lastWave: null,
      ...overrides,
    },
  });
}

/** [node, state] of every node as the page lists them, in the page's order. */
const nodesListed = (html: string) =>
  [...html.matchAll(/<li class="[^"]*" data-node="([^"]*)" data-state="([^"]*)">/g)].map(
    (match) => [match[1], match[2]],
  );

/** The text of one node's entry, tags stripped. */
const nodeOf = (html: string, id: string) => {
  const start = html.lastIndexOf('<li', html.indexOf(`data-node="${id}"`));
  return html
    .slice(start, html.indexOf('</li>', start))
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
};

/** Each level's heading and the nodes under it, in the page's order. */
const levelsOf = (html: string) =>
  [
    ...html.matchAll(
      /<section data-level="(\d+)" id="level-\d+"><h3>([^<]*)<small>([^<]*)<\/small>.*?<\/ol>/g,
    ),
  ].map((match) => ({
    level: match[1],
    heading: `${match[2]}${match[3]}`,
    nodes: nodesListed(match[0]).map(([id]) => id),
  }));

describe('the status page of a build graph', () => {
  it('lists the nodes level by level, in build order, instead of the tags', () => {
    const html = renderStatusPage(
      graphView([
        node('acme/base:1', 0, 'built', { upstream: ['library/alpine:3.20'] }),
        node('acme/tools:1', 0, 'built'),
        node('acme/app:1', 1, 'building', { parents: ['acme/base:1', 'acme/tools:1'] }),
        node('acme/site:1', 2, 'waiting', { parents: ['acme/app:1'] }),
      ]),
      now,
    );
    expect(levelsOf(html)).toEqual([
      {
        level: '1',
        heading: 'Level 1 built first · 2 of 2 built',
        nodes: ['acme/base:1', 'acme/tools:1'],
      },
      { level: '2', heading: 'Level 2 after level 1 · 0 of 1 built', nodes: ['acme/app:1'] },
      { level: '3', heading: 'Level 3 after level 2 · 0 of 1 built', nodes: ['acme/site:1'] },
    ]);
    expect(html).toContain('4 images in 3 levels, from <code>graph.yaml</code>');
    expect(html).not.toContain('data-tag=');
    expect(html).not.toContain('Tags, in build order');
    expect(nodeOf(html, 'acme/app:1')).toContain('from acme/base:1 , acme/tools:1');
    expect(nodeOf(html, 'acme/base:1')).toContain('upstream library/alpine:3.20');
    expect(nodeOf(html, 'acme/base:1')).not.toContain('from');
  });

  it('orders the levels by depth even when the nodes come in another order', () => {
    const html = renderStatusPage(
      graphView([node('c', 2, 'waiting'), node('a', 0, 'built'), node('b', 1, 'pending')]),
      now,
    );
    expect(levelsOf(html).map((level) => level.nodes)).toEqual([['a'], ['b'], ['c']]);
  });

  it('says each state in words', () => {
    const html = renderStatusPage(
      graphView([
        node('built', 0, 'built', { registryPush: at(-3600) }),
        node('never', 0, null),
        node('pushed-before', 0, null, { appPush: at(-7200) }),
        node('failed', 0, 'failed', { since: at(-300), build: { state: 'failure', url: null } }),
        node('waiting', 1, 'waiting'),
        node('pending', 1, 'pending', { dueAt: at(120) }),
        node('awaited', 1, 'awaited', { since: at(-60) }),
        node('stalled', 1, 'stalled', { since: at(-7200) }),
        node('blocked', 1, 'blocked', { blockedBy: 'failed' }),
        node('dry', 1, 'dry-run'),
      ]),
      now,
    );
    expect(nodesListed(html)).toEqual([
      ['built', 'built'],
      ['never', 'none'],
      ['pushed-before', 'built'],
      ['failed', 'failed'],
      ['waiting', 'waiting'],
      ['pending', 'pending'],
      ['awaited', 'awaited'],
      ['stalled', 'stalled'],
      ['blocked', 'blocked'],
      ['dry', 'dry-run'],
    ]);
    expect(nodeOf(html, 'built')).toBe('built built built 2026-11-26 11:00:00 UTC (1 h ago)');
    expect(nodeOf(html, 'never')).toBe('never no push seen');
    expect(nodeOf(html, 'pushed-before')).toContain('built 2026-11-26 10:00:00 UTC (2 h ago)');
    expect(nodeOf(html, 'failed')).toBe(
      'failed failed failed 2026-11-26 11:55:00 UTC (5 min ago) build failure',
    );
    expect(nodeOf(html, 'waiting')).toBe(
      'waiting not built yet waits for its parents in this wave',
    );
    expect(nodeOf(html, 'pending')).toBe(
      'pending pending trigger due 2026-11-26 12:02:00 UTC (in 2 min)',
    );
    expect(nodeOf(html, 'awaited')).toBe(
      'awaited triggered triggered 2026-11-26 11:59:00 UTC (1 min ago), awaiting its push',
    );
    expect(nodeOf(html, 'stalled')).toContain(
      'stalled no push since its trigger 2026-11-26 10:00:00 UTC (2 h ago)',
    );
    expect(nodeOf(html, 'blocked')).toBe('blocked blocked blocked by failed , which failed');
    expect(nodeOf(html, 'dry')).toBe('dry dry run trigger logged, not sent');
    expect(levelsOf(html).map((level) => level.heading)).toEqual([
      'Level 1 built first · 2 of 4 built, 1 failed',
      'Level 2 after level 1 · 0 of 6 built, 1 stalled, 1 blocked',
    ]);
    expect(html).toContain(
      '<nav aria-label="Levels"><ol class="jump"><li><a href="#level-1">Level 1</a></li><li><a href="#level-2">Level 2</a></li></ol></nav>',
    );
    expect(html).toContain('data-overall>needs attention<');
  });

  it('links a building node to its run, only when it is a web address', () => {
    const html = renderStatusPage(
      graphView([
        node('acme/app:1', 0, 'building', {
          since: at(-90),
          build: { state: 'in_progress', url: 'https://ci.example/runs/7' },
        }),
        node('acme/other:1', 0, 'building', {
          build: { state: 'queued', url: 'ftp://ci.example/runs/8' },
        }),
      ]),
      now,
    );
    expect(nodeOf(html, 'acme/app:1')).toBe(
      'acme/app:1 building since 2026-11-26 11:58:30 UTC (1 min 30 s ago) build in_progress: see the run',
    );
    expect(html).toContain(
      'build in_progress: <a href="https://ci.example/runs/7" rel="noopener noreferrer">see the run</a>',
    );
    expect(html).toContain('build queued: ftp://ci.example/runs/8');
    expect(html).not.toContain('href="ftp');
    expect(html).toContain('data-overall>running<');
    expect(html).toContain('<meta http-equiv="refresh" content="10">');
  });

  it('shows the wave in flight and how the last one ended', () => {
    const html = renderStatusPage(
      graphView([node('a', 0, 'built'), node('b', 1, 'waiting')], {
        wave: {
          by: 'acme/base:latest pushed',
          startedAt: at(-300),
          built: 12,
          total: 50,
          failed: 1,
          blocked: 3,
        },
        lastWave: {
          by: 'kick-off',
          startedAt: at(-7200),
          endedAt: at(-7200 + 1500),
          built: 50,
          total: 50,
          failed: 0,
          blocked: 0,
          outcome: 'complete',
        },
      }),
      now,
    );
    const waves = html
      .slice(html.indexOf('<section data-waves>'), html.indexOf('<section data-graph>'))
      .replace(/<[^>]+>/g, ' ')
      .replace(/\s+/g, ' ');
    expect(waves).toContain(
      'In flight running 12 of 50 built , 1 failed, 3 blocked 12 of 50 started 2026-11-26 11:55:00 UTC (5 min ago) by acme/base:latest pushed',
    );
    expect(waves).toContain(
      'Last wave complete 50 of 50 built ended 2026-11-26 10:25:00 UTC (1 h 35 min ago), after 25 min started 2026-11-26 10:00:00 UTC (2 h ago) by kick-off',
    );
    expect(html).toContain('<progress value="12" max="50">');
    // it moves while a wave is in flight, even before any node is triggered
    expect(html).toContain('<meta http-equiv="refresh" content="10">');
  });

  it('says a failed last wave failed, and when no wave ran yet', () => {
    const failed = renderStatusPage(
      graphView([node('a', 0, 'failed')], {
        lastWave: {
          by: 'kick-off',
          startedAt: at(-600),
          endedAt: at(-60),
          built: 0,
          total: 2,
          failed: 1,
          blocked: 1,
          outcome: 'failed',
        },
      }),
      now,
    );
    expect(failed).toMatch(
      /data-wave="last"><div class="head"><span class="name">Last wave<\/span><span class="badge">failed</,
    );
    expect(failed).toContain('<strong>0 of 2 built</strong>, 1 failed, 1 blocked');
    expect(failed).toContain(', after 9 min</span>');
    expect(failed).not.toContain('data-wave="in-flight"');
    const none = renderStatusPage(graphView([node('a', 0, null)]), now);
    expect(none).toContain('No wave since the app started.');
    expect(none).not.toContain('http-equiv');
    expect(none).toContain('data-overall>idle<');
  });

  it('escapes a hostile node, parent, upstream image, wave and address', () => {
    const odd = `<b>"o'dd"&</b>`;
    const safe = '&lt;b&gt;&quot;o&#39;dd&quot;&amp;&lt;/b&gt;';
    const html = renderStatusPage(
      graphView(
        [
          node(odd, 0, 'building', {
            parents: [odd],
            upstream: [odd],
            since: odd,
            build: { state: odd, url: `javascript:alert(1)//"><b>` },
          }),
          node('x', 1, 'blocked', { blockedBy: odd, dueAt: odd }),
          node('y', 1, odd as GraphNodeView['state']),
          node('z', 1, 'pending', { dueAt: odd }),
        ],
        {
          file: odd,
          wave: { by: odd, startedAt: odd, built: NaN, total: 3, failed: 0, blocked: 0 },
        },
      ),
      now,
    );
    expect(html).not.toContain('<b>');
    expect(html).not.toContain(`"o'dd"`);
    expect(html).not.toContain('href="javascript');
    expect(html).not.toContain('NaN');
    expect(html).toContain(`data-node="${safe}"`);
    expect(nodesListed(html)).toEqual([
      [safe, 'building'],
      ['x', 'blocked'],
      ['y', 'other'],
      ['z', 'pending'],
    ]);
    expect(html).toContain(`from <code>${safe}</code>: each level`);
    expect(html).toContain(`from <span class="ref">${safe}</span></span>`);
    expect(html).toContain(`upstream <span class="ref">${safe}</span></span>`);
    expect(html).toContain(`blocked by <span class="name ref">${safe}</span>`);
    expect(html).not.toMatch(/<script|<link|<img|src=|@import|url\(/i);
  });

  it('keeps the table of tags for a line, and only adds its waves', () => {
    const line = {
      file: null,
      levels: 5,
      nodes: view().tags.map((tag, level) =>
        node(tag.tag, level, level === 0 ? 'built' : 'waiting'),
      ),
      lastWave: null,
    };
    const table = renderStatusPage(view(), now);
    expect(renderStatusPage(view({ graph: { ...line, wave: null } }), now)).toBe(table);
    const html = renderStatusPage(
      view({
        graph: {
          ...line,
          wave: { by: 'kick-off', startedAt: at(-60), built: 1, total: 5, failed: 0, blocked: 0 },
        },
      }),
      now,
    );
    expect(listed(html)).toEqual(listed(table));
    expect(html).toContain('<strong>1 of 5 built</strong>');
    expect(html).not.toContain('data-node=');
    expect(html).not.toContain('data-level=');
    expect(html).not.toContain('class="wide"');
    expect(html.replace(/<section data-waves>.*?<\/section>/, '')).toBe(table);
  });
});
