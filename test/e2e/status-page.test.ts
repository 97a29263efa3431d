import { mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { appDir } from '../../webapp/deployment/app-info';
import type { GraphNodeView, StatusView } from '../../webapp/web/build-status-view';
import { renderStatusPage } from '../../webapp/web/render-status-page';
import { buildTestApp, delivery, flush } from '../helpers/app';
import { launchBrowser, type Browser } from '../helpers/browser';

const secret = 'browser-secret-0123456789abcdef';
const triggerToken = 'browser-trigger-token-4242';
/** gitignored: a person looks at these after a run */
const output = join(appDir(), 'test', 'output');

interface ShownTag {
  tag: string;
  state: string;
  badge: string;
  text: string;
}

const shownTags = `[...document.querySelectorAll('ol.tags > li')].map((li) => ({
  tag: li.dataset.tag,
  state: li.dataset.state,
  badge: li.querySelector('.badge').textContent,
  text: li.innerText.replace(/\\s+/g, ' '),
}))`;

describe('the status page in a headless Chromium', () => {
  let browser: Browser | undefined;
  const t = buildTestApp({
    WEBHOOK_SECRET: secret,
    DOCKERHUB_TRIGGER_TOKEN: triggerToken,
    STALL_TIMEOUT: '3600',
  });
  let url = '';

  beforeAll(async () => {
    // init is pushed, step-1 is triggered and its push never comes; step-2 is then built by
    // other means, so step-3 is owed.
    const hook = `?token=${secret}`;
    await t.post(delivery('init'), hook);
    t.timers.advance(100_000);
    await flush();
    t.timers.advance(3_600_000);
    await t.post(delivery('step-2'), hook);
    t.timers.advance(40_000);
    url = await t.app.listen({ host: '127.0.0.1', port: 0 });
    browser = await launchBrowser();
    mkdirSync(output, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await t.app.close();
  });

  it('shows every tag in order with its state and the repository, on a phone, and no secret', async () => {
    const page = await (browser as Browser).open({
      width: 375,
      height: 740,
      scale: 2,
      mobile: true,
    });

    await page.goto(`${url}/`);
    expect(await page.evaluate<string>('document.querySelector("h1").textContent')).toBe(
      'Token required',
    );

    // typed into the form and POSTed, then the cookie: the address never holds the token
    await page.type('#token', secret);
    await page.clickAndLoad('button[type="submit"]');
    expect(await page.evaluate<string>('location.href')).toBe(`${url}/`);
    expect(await page.evaluate<ShownTag[]>(shownTags)).toEqual([
      {
        tag: 'init',
        state: 'built',
        badge: 'built',
        text: expect.stringContaining('built 2026-11-26 12:00:00 UTC'),
      },
      {
        tag: 'step-1',
        state: 'stalled',
        badge: 'stalled',
        text: expect.stringContaining('no push since its trigger 2026-11-26 12:01:40 UTC'),
      },
      { tag: 'step-2', state: 'built', badge: 'built', text: expect.stringContaining('built') },
      {
        tag: 'step-3',
        state: 'pending',
        badge: 'pending',
        text: expect.stringContaining('(in 1 min), after the push of step-2'),
      },
      // built once step-3 is: the wave that step-2's push started holds it
      {
        tag: 'latest',
        state: 'waiting',
        badge: 'waiting',
        text: 'latest waiting built after the tag before it',
      },
    ]);
    expect(
      await page.evaluate<string>('document.querySelector("[data-repository]").innerText'),
    ).toMatch(/^maddouri\/void-docker needs attention$/);
    expect(
      await page.evaluate<string>('document.querySelector("[data-target]").innerText'),
    ).toMatch(
      /^Builds by dockerhub at https:\/\/registry\.hub\.docker\.com\/u\/maddouri\/void-docker\/trigger\/\*\*\*\/$/,
    );
    // the state shows in colour too: red for stalled, blue for pending
    expect(
      await page.evaluate<string[]>(
        `[...document.querySelectorAll('ol.tags > li')].map((li) => getComputedStyle(li).borderLeftColor)`,
      ),
    ).toEqual([
      'rgb(26, 127, 55)',
      'rgb(207, 34, 46)',
      'rgb(26, 127, 55)',
      'rgb(9, 105, 218)',
      'rgb(140, 149, 159)',
    ]);
    // no sideways scrolling at 375 px
    expect(
      await page.evaluate<number[]>('[document.documentElement.scrollWidth, window.innerWidth]'),
    ).toEqual([375, 375]);
    const everything = await page.evaluate<string>(
      'document.documentElement.outerHTML + document.body.innerText + document.cookie + location.href',
    );
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain(triggerToken);
    await page.screenshot(join(output, 'status-page-phone.png'));

    // the cookie opens /status too
    await page.goto(`${url}/status`);
    const status = JSON.parse(await page.evaluate<string>('document.body.innerText')) as {
      repository: string;
    };
    expect(status.repository).toBe('maddouri/void-docker');
  });

  it('fits a desktop window, and leaves a screenshot to look at', async () => {
    const page = await (browser as Browser).open({
      width: 1100,
      height: 700,
      scale: 1,
      mobile: false,
    });
    // a token in the address opens nothing, even beside the cookie: the form says why
    await page.goto(`${url}/?token=${secret}`);
    expect(await page.evaluate<string>('document.querySelector("h1").textContent')).toBe(
      'Token required',
    );
    expect(await page.evaluate<string>('document.body.innerText')).toContain(
      'A token in the address is not taken',
    );
    await page.type('#token', 'wrong-guess-0123456789');
    await page.clickAndLoad('button[type="submit"]');
    expect(await page.evaluate<string>('document.body.innerText')).toContain(
      'That token is wrong.',
    );
    await page.type('#token', secret);
    await page.clickAndLoad('button[type="submit"]');
    expect(await page.evaluate<string>('location.href')).toBe(`${url}/`);
    expect((await page.evaluate<ShownTag[]>(shownTags)).map((tag) => tag.state)).toEqual([
      'built',
      'stalled',
      'built',
      'pending',
      'waiting',
    ]);
    await page.screenshot(join(output, 'status-page-desktop.png'));
    for (const name of ['status-page-phone.png', 'status-page-desktop.png']) {
      const png = readFileSync(join(output, name));
      expect([name, png.subarray(1, 4).toString()]).toEqual([name, 'PNG']);
      expect(png.length).toBeGreaterThan(10_000);
    }
    expect(t.logs.text()).not.toContain(secret);
    expect(t.logs.text()).not.toContain(triggerToken);
  });
});

const graphNow = Date.UTC(2026, 11, 1, 12);
const ago = (seconds: number) => new Date(graphNow - seconds * 1000).toISOString();

/** 5 levels of 10 images, some with long names, each built from one or two of the level above. */
function graphStatus(): StatusView {
  const states: GraphNodeView['state'][][] = [
    ['built', 'built', 'built', 'built', 'built', 'built', 'built', 'built', 'built', 'failed'],
    [
      'built',
      'building',
      'building',
      'awaited',
      'pending',
      'built',
      'stalled',
      'built',
      'blocked',
      'blocked',
    ],
    [
      'waiting',
      'waiting',
      'waiting',
      'pending',
      'blocked',
      'waiting',
      'built',
      'waiting',
      'blocked',
      'dry-run',
    ],
    [
      'waiting',
      'waiting',
      'blocked',
      'waiting',
      'waiting',
      'waiting',
      null,
      'waiting',
      'blocked',
      'waiting',
    ],
    [
      'waiting',
      null,
      'waiting',
      'waiting',
      'blocked',
      'waiting',
      'waiting',
      null,
      'waiting',
      'waiting',
    ],
  ];
  const name = (level: number, index: number) =>
    index === 3
      ? `registry-team/very-long-repository-name-level-${level + 1}:2026.12.01-build`
      : index === 7
        ? `acme/${'x'.repeat(60)}${level}`
        : `acme/image-${level + 1}-${index + 1}:latest`;
  const nodes = states.flatMap((row, level) =>
    row.map((state, index): GraphNodeView => {
      const id = name(level, index);
      const parents =
        level === 0 ? [] : [name(level - 1, index), name(level - 1, (index + 3) % 10)];
      return {
        id,
        level,
        parents: index % 2 === 0 ? parents : parents.slice(0, 1),
        upstream: level === 0 ? ['library/alpine:3.20', 'library/debian:bookworm-slim'] : [],
        state,
        ...(state === 'pending' ? { dueAt: new Date(graphNow + 120_000).toISOString() } : {}),
        ...(state === 'awaited' || state === 'building' || state === 'stalled' || state === 'failed'
          ? { since: ago(600) }
          : {}),
        ...(state === 'blocked' ? { blockedBy: name(0, 9) } : {}),
        ...(state === 'building'
          ? {
              build: { state: 'in_progress', url: `https://ci.example/acme/runs/${level}${index}` },
            }
          : {}),
        ...(state === 'failed'
          ? { build: { state: 'failure', url: 'https://ci.example/runs/9' } }
          : {}),
        registryPush: state === 'built' || state === null ? ago(3600 + index * 60) : null,
        appPush: null,
      };
    }),
  );
  return {
    version: '1.2.3',
    dryRun: false,
    repository: 'acme',
    target: {
      name: 'dockerhub',
      where: 'https://hub.docker.com/api/build/v1/source/***/trigger/***/',
    },
    nextKickoff: new Date(graphNow + 12 * 3600_000).toISOString(),
    pending: [],
    awaiting: [],
    stalled: [],
    tags: [],
    reconciliation: { every: 600, lastLook: ago(120), outcome: 'in step' },
    // A standby dyno while the database is down: the planner's view, and how old it is.
    store: {
      kind: 'postgres',
      role: 'standby',
      planner: 'web.1/4242-a1b2c3',
      dyno: 'web.2/77-d4e5f6',
      unreachableSince: ago(45),
      viewAt: ago(50),
    },
    upstream: [
      {
        image: 'library/alpine:3.20',
        digest: 'sha256:0123456789abcdef',
        readAt: ago(60),
        error: null,
      },
      {
        image: 'library/debian:bookworm-slim',
        digest: 'sha256:fedcba987654',
        readAt: ago(60),
        error: null,
      },
    ],
    graph: {
      file: 'images.yaml',
      levels: 5,
      nodes,
      wave: {
        by: 'library/alpine:3.20 changed',
        startedAt: ago(900),
        built: 14,
        total: 50,
        failed: 1,
        blocked: 7,
      },
      lastWave: {
        by: 'kick-off',
        startedAt: ago(86_400),
        endedAt: ago(86_400 - 2820),
        built: 50,
        total: 50,
        failed: 0,
        blocked: 0,
        outcome: 'complete',
      },
    },
  };
}

interface ShownNode {
  id: string;
  visible: boolean;
  inside: boolean;
  fontSize: number;
}

/** Each node card: its name, whether it shows, stays within the window, and its smallest text. */
const shownNodes = `[...document.querySelectorAll('li[data-node]')].map((li) => {
  const box = li.getBoundingClientRect();
  const name = li.querySelector('.name').getBoundingClientRect();
  const sizes = [...li.querySelectorAll('*')].map((element) => parseFloat(getComputedStyle(element).fontSize));
  return {
    id: li.querySelector('.name').innerText,
    visible: name.width > 0 && name.height > 0 && getComputedStyle(li).visibility === 'visible',
    inside: box.left >= 0 && box.right <= window.innerWidth && name.right <= box.right,
    fontSize: Math.min(...sizes),
  };
})`;

describe('the status page of a 50-image graph in a headless Chromium', () => {
  let browser: Browser | undefined;
  let server: Server | undefined;
  let url = '';
  const status = graphStatus();

  beforeAll(async () => {
    const html = renderStatusPage(status, graphNow);
    server = createServer((_request, response) => {
      // the page's own policy: a style or an asset it could not load would show here
      response.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'",
      });
      response.end(html);
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    browser = await launchBrowser();
    mkdirSync(output, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  it.each([
    ['phone', { width: 390, height: 844, scale: 2, mobile: true }],
    ['desktop', { width: 1280, height: 800, scale: 1, mobile: false }],
  ])('fits a %s, every image shown and readable', async (device, viewport) => {
    const page = await (browser as Browser).open(viewport);
    await page.goto(url);
    expect(
      await page.evaluate<number[]>('[document.documentElement.scrollWidth, window.innerWidth]'),
    ).toEqual([viewport.width, viewport.width]);
    const shown = await page.evaluate<ShownNode[]>(shownNodes);
    expect(shown.map((entry) => entry.id)).toEqual(status.graph?.nodes.map((entry) => entry.id));
    for (const entry of shown) {
      expect({ ...entry, fontSize: entry.fontSize >= 12 }).toEqual({
        id: entry.id,
        visible: true,
        inside: true,
        fontSize: true,
      });
    }
    expect(
      await page.evaluate<string[]>(
        `[...document.querySelectorAll('[data-level] h3')].map((h) => h.innerText.replace(/\\s+/g, ' '))`,
      ),
    ).toEqual([
      'Level 1 built first · 9 of 10 built, 1 failed',
      'Level 2 after level 1 · 3 of 10 built, 1 stalled, 2 blocked',
      'Level 3 after level 2 · 1 of 10 built, 2 blocked',
      'Level 4 after level 3 · 1 of 10 built, 2 blocked',
      'Level 5 after level 4 · 2 of 10 built, 1 blocked',
    ]);
    expect(
      await page.evaluate<string>('document.querySelector("[data-wave=in-flight]").innerText'),
    ).toContain('14 of 50 built, 1 failed, 7 blocked');
    // the inline style applied under the policy: a blocked node is drawn amber
    expect(
      await page.evaluate<string>(
        'getComputedStyle(document.querySelector("li[data-state=blocked]")).borderLeftColor',
      ),
    ).toBe('rgb(191, 135, 0)');
    // Which dyno plans, and the database's outage, in the header: shown, and within the window.
    const header = await page.evaluate<{ text: string; inside: boolean }[]>(
      `[...document.querySelectorAll('[data-store], [data-database-down]')].map((element) => {
        const box = element.getBoundingClientRect();
        return { text: element.innerText.replace(/\\s+/g, ' '), inside: box.width > 0 && box.right <= window.innerWidth };
      })`,
    );
    expect(header).toEqual([
      {
        text: expect.stringMatching(
          /^State in PostgreSQL: web\.1\/4242-a1b2c3 plans; this dyno \(web\.2\/77-d4e5f6\) takes deliveries for it\. What this page shows is that dyno's, as of .*\.$/,
        ),
        inside: true,
      },
      {
        text: expect.stringMatching(
          /^The database has not answered since .*: deliveries are kept in memory, and nothing is sent until it answers\.$/,
        ),
        inside: true,
      },
    ]);
    const file = join(output, `graph-page-${device}.png`);
    await page.screenshot(file);
    expect(readFileSync(file).subarray(1, 4).toString()).toBe('PNG');
  });
});
