import type { StatusView } from '../../../webapp/web/build-status-view';
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
