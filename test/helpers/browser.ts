import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

/** The browsers tried, in order; CHROMIUM names another one. */
const candidates = ['chromium', 'chromium-browser', 'google-chrome'];

/** The path of a Chromium on this machine, or an error that says how to get one. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string {
  const names = env.CHROMIUM === undefined || env.CHROMIUM === '' ? candidates : [env.CHROMIUM];
  for (const name of names) {
    const found = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', name], { encoding: 'utf8' });
    if (found.status === 0 && found.stdout.trim() !== '') return found.stdout.trim();
  }
  throw new Error(
    `no Chromium found (tried ${names.join(', ')}): install it (apt-get install -y chromium), ` +
      'or set CHROMIUM to its path; .ci/run installs it where it is missing',
  );
}

export interface Viewport {
  width: number;
  height: number;
  /** device pixels per CSS pixel */
  scale: number;
  mobile: boolean;
}

export interface Page {
  /** Loads `url` and resolves once its load event fired (after any redirect). */
  goto(url: string): Promise<void>;
  /** The value of a JavaScript expression in the page, as JSON carries it. */
  evaluate<T>(expression: string): Promise<T>;
  /** Focuses the element that `selector` finds and types `text` into it, as a keyboard would. */
  type(selector: string, text: string): Promise<void>;
  /** Clicks the element that `selector` finds, and resolves once the page it leads to loaded. */
  clickAndLoad(selector: string): Promise<void>;
  /** A PNG of the whole page, as tall as its content, written to `file`. */
  screenshot(file: string): Promise<void>;
}

export interface Browser {
  open(viewport: Viewport): Promise<Page>;
  close(): Promise<void>;
}

interface Reply {
  id?: number;
  method?: string;
  sessionId?: string;
  result?: Record<string, unknown>;
  error?: { message: string };
}

/**
 * A headless Chromium, driven through its DevTools protocol on a pipe (fds 3 and 4): no port,
 * no package. Every command and every wait has a deadline that names what it waited for.
 */
export async function launchBrowser(timeout = 10_000): Promise<Browser> {
  const binary = findChromium();
  const profile = mkdtempSync(join(tmpdir(), 'dtp-chromium-'));
  const child: ChildProcess = spawn(
    binary,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
      '--hide-scrollbars',
      '--mute-audio',
      `--user-data-dir=${profile}`,
      '--remote-debugging-pipe',
      'about:blank',
    ],
    { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const input = child.stdio[3] as Writable;
  const output = child.stdio[4] as Readable;
  const waiting = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  const listeners = new Set<(message: Reply) => void>();
  let exited: Error | undefined;
  let ids = 0;
  let buffer = '';

  output.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    for (let end = buffer.indexOf('\0'); end >= 0; end = buffer.indexOf('\0')) {
      const message = JSON.parse(buffer.slice(0, end)) as Reply;
      buffer = buffer.slice(end + 1);
      if (message.id !== undefined) {
        waiting.get(message.id)?.resolve(message);
        waiting.delete(message.id);
      } else {
        for (const listener of listeners) listener(message);
      }
    }
  });
  const ended = new Promise<void>((resolve) => {
    child.on('exit', (code, signal) => {
      exited = new Error(`Chromium exited (${signal ?? code}): ${stderr.trim()}`);
      for (const entry of waiting.values()) entry.reject(exited);
      waiting.clear();
      resolve();
    });
  });
  child.on('error', (err) => {
    exited = err;
  });

  const send = (
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
    within = timeout,
  ): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      if (exited !== undefined) return reject(exited);
      const id = ++ids;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(
          new Error(`Chromium did not answer ${method} within ${within} ms: ${stderr.trim()}`),
        );
      }, within);
      waiting.set(id, {
        resolve: (reply) => {
          clearTimeout(timer);
          if (reply.error !== undefined) reject(new Error(`${method}: ${reply.error.message}`));
          else resolve(reply.result ?? {});
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      input.write(
        `${JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) })}\0`,
      );
    });

  const nextEvent = (method: string, sessionId: string, what: string) => {
    let stop = () => {};
    const promise = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        stop();
        reject(new Error(`waited ${timeout} ms for ${what}`));
      }, timeout);
      const listener = (message: Reply) => {
        if (message.method !== method || message.sessionId !== sessionId) return;
        stop();
        resolve();
      };
      stop = () => {
        clearTimeout(timer);
        listeners.delete(listener);
      };
      listeners.add(listener);
    });
    return { promise, cancel: stop };
  };

  const close = async () => {
    if (exited === undefined) {
      await send('Browser.close').catch(() => undefined);
      const deadline = new Promise((resolve) => setTimeout(resolve, timeout).unref());
      await Promise.race([ended, deadline]);
      if (exited === undefined && child.pid !== undefined) child.kill('SIGKILL');
      await ended;
    }
    rmSync(profile, { recursive: true, force: true });
  };

  try {
    // Its first answer means it started, which takes longest on a busy machine.
    await send('Browser.getVersion', {}, undefined, 2 * timeout);
  } catch (err) {
    await close();
    throw new Error(`Chromium (${binary}) did not start: ${(err as Error).message}`, {
      cause: err,
    });
  }

  return {
    async open(viewport) {
      const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
      const { sessionId } = (await send('Target.attachToTarget', { targetId, flatten: true })) as {
        sessionId: string;
      };
      const metrics = (height: number) =>
        send(
          'Emulation.setDeviceMetricsOverride',
          {
            width: viewport.width,
            height,
            deviceScaleFactor: viewport.scale,
            mobile: viewport.mobile,
          },
          sessionId,
        );
      await send('Page.enable', {}, sessionId);
      await metrics(viewport.height);
      const page: Page = {
        async goto(url) {
          const loaded = nextEvent('Page.loadEventFired', sessionId, `the load of ${url}`);
          const answer = await send('Page.navigate', { url }, sessionId).catch((err: unknown) => {
            loaded.cancel();
            throw err;
          });
          if (typeof answer.errorText === 'string') {
            loaded.cancel();
            throw new Error(`cannot load ${url}: ${answer.errorText}`);
          }
          await loaded.promise;
        },
        async evaluate<T>(expression: string) {
          const answer = (await send(
            'Runtime.evaluate',
            { expression, returnByValue: true, awaitPromise: true },
            sessionId,
          )) as { result: { value?: unknown }; exceptionDetails?: { text: string } };
          if (answer.exceptionDetails !== undefined) {
            throw new Error(`${expression}: ${answer.exceptionDetails.text}`);
          }
          return answer.result.value as T;
        },
        async type(selector, text) {
          const found = await page.evaluate<boolean>(
            `(() => { const element = document.querySelector(${JSON.stringify(selector)}); element?.focus(); return element !== null && document.activeElement === element; })()`,
          );
          if (!found) throw new Error(`no element ${selector} to type into`);
          await send('Input.insertText', { text }, sessionId);
        },
        async clickAndLoad(selector) {
          const loaded = nextEvent('Page.loadEventFired', sessionId, `the load after ${selector}`);
          const clicked = await page
            .evaluate<boolean>(
              `(() => { const element = document.querySelector(${JSON.stringify(selector)}); element?.click(); return element !== null; })()`,
            )
            .catch((err: unknown) => {
              loaded.cancel();
              throw err;
            });
          if (!clicked) {
            loaded.cancel();
            throw new Error(`no element ${selector} to click`);
          }
          await loaded.promise;
        },
        async screenshot(file) {
          const height = await page.evaluate<number>(
            'Math.ceil(document.documentElement.getBoundingClientRect().height)',
          );
          await metrics(Math.max(viewport.height, height));
          const { data } = (await send('Page.captureScreenshot', { format: 'png' }, sessionId)) as {
            data: string;
          };
          await metrics(viewport.height);
          writeFileSync(file, Buffer.from(data, 'base64'));
        },
      };
      return page;
    },
    close,
  };
}
