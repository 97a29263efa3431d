import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { appDir } from '../../webapp/deployment/app-info';
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
      { tag: 'latest', state: 'none', badge: 'not built yet', text: 'latest not built yet' },
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
      'none',
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
