import type { TriggerOutcome } from '../../../webapp/types';
import { buildTestApp, delivery, flush } from '../../helpers/app';
import { eventually } from '../../helpers/eventually';

const githubToken = 'ghp_followBuildsToken01234';
const page = 'https://github.com/acme/images/actions/runs/4242';
const started: TriggerOutcome = {
  ok: true,
  dryRun: false,
  attempts: 1,
  status: 200,
  run: { id: '4242', url: page, state: 'requested' },
};

type TagStatus = {
  tag: string;
  state: string | null;
  build: { state: string; url: string | null; unreadable?: string; stopped?: string } | null;
};

/**
 * The web app on manual timers with a GitHub target whose run 4242 answers `answer`; step-1 is
 * triggered (its run named) once init's push has waited PROPAGATION_DELAY.
 */
async function startStep1(
  answer: () => { status: number; body: string },
  env: Record<string, string> = {},
) {
  const t = buildTestApp({
    BUILD_TARGET: 'github',
    BUILD_GITHUB_REPOSITORY: 'acme/images',
    BUILD_GITHUB_WORKFLOW: 'build.yml',
    BUILD_GITHUB_TOKEN: githubToken,
    BUILD_POLL_INTERVAL: '1',
    ...env,
  });
  const reads: number[] = [];
  t.registry
    .get('https://api.github.com')
    .intercept({ path: '/repos/acme/images/actions/runs/4242', method: 'GET' })
    .reply(() => {
      reads.push(t.timers.now());
      const { status, body } = answer();
      return { statusCode: status, data: body };
    })
    .persist();
  t.failTriggers(started);
  expect((await t.post(delivery('init'))).statusCode).toBe(200);
  t.timers.advance(t.config.propagationDelay);
  await eventually(() => t.triggered.includes('step-1'), 'the trigger of step-1');
  await flush();
  // The next tags' builds name no run: only step-1's is read.
  t.failTriggers({ ok: true, dryRun: false, attempts: 1, status: 200 });
  const status = async () =>
    (JSON.parse((await t.app.inject('/status')).body) as { tags: TagStatus[] }).tags[1];
  const pageEntry = async () => {
    const html = (await t.app.inject('/')).body;
    const start = html.indexOf('data-tag="step-1"');
    return html.slice(html.lastIndexOf('<li', start), html.indexOf('</li>', start));
  };
  /** Moves one interval on and waits for the read it makes to be answered and taken in. */
  const readOnce = async (taken: (tag: TagStatus | undefined) => boolean) => {
    const before = reads.length;
    t.timers.advance(1000);
    await eventually(() => reads.length > before, 'a read of the run');
    let last: TagStatus | undefined;
    await eventually(async () => taken((last = await status())), 'the read to be taken in');
    return last;
  };
  return { ...t, reads, status, pageEntry, readOnce };
}

const running = () => ({
  status: 200,
  body: JSON.stringify({ id: 4242, status: 'in_progress', conclusion: null, html_url: page }),
});

describe('following a run in the web app', () => {
  it.each([
    [
      'its webhook',
      (t: Awaited<ReturnType<typeof startStep1>>) =>
        t.post(delivery('step-1', { push_data: { tag: 'step-1', pushed_at: 1764158500 } })),
    ],
    [
      'the registry',
      async (t: Awaited<ReturnType<typeof startStep1>>) =>
        t.propagator.learnPush('step-1', t.timers.now()),
    ],
  ])(
    'reads a run that never finishes no more once %s shows the tag pushed, and shows it built',
    async (_how, push) => {
      const t = await startStep1(running);
      const building = await t.readOnce((tag) => tag?.build?.state === 'in_progress');
      expect(building?.state).toBe('building');
      await t.readOnce(() => true);
      await push(t);
      const readsAtPush = t.reads.length;
      for (let i = 0; i < 60; i++) {
        t.timers.advance(60_000);
        await flush();
      }
      expect(t.reads).toHaveLength(readsAtPush);
      const tag = await t.status();
      expect(tag?.state).toBeNull();
      expect(tag?.build).toEqual({
        state: 'in_progress',
        url: page,
        stopped: 'the tag was pushed',
      });
      const entry = await t.pageEntry();
      expect(entry).toContain('data-state="built"');
      expect(entry).not.toContain('in_progress');
      expect(entry).not.toContain('building');
      expect(entry).toContain('run no longer followed (the tag was pushed)');
      await t.web.close();
    },
  );

  it('reads it no more once the tag stalls', async () => {
    const t = await startStep1(running, { STALL_TIMEOUT: '30' });
    await t.readOnce((tag) => tag?.build?.state === 'in_progress');
    t.timers.advance(30_000);
    await flush();
    const readsAtStall = t.reads.length;
    for (let i = 0; i < 60; i++) {
      t.timers.advance(60_000);
      await flush();
    }
    expect(t.reads).toHaveLength(readsAtStall);
    expect(readsAtStall).toBeLessThanOrEqual(31);
    const tag = await t.status();
    expect(tag?.state).toBe('stalled');
    expect(tag?.build?.stopped).toEqual(expect.any(String));
    await t.web.close();
  });

  it('shows a run whose API answers 500 on every read as unreadable, not building', async () => {
    const t = await startStep1(() => ({ status: 500, body: '{"message":"Server Error"}' }));
    const failed = () =>
      t.logs.entries().filter((line) => /answered 500/.test(String(line.msg))).length;
    for (const wait of [1000, 2000, 4000]) {
      const before = failed();
      t.timers.advance(wait);
      await eventually(() => failed() > before, 'a failed read');
      await flush();
    }
    let tag: TagStatus | undefined;
    await eventually(
      async () => (tag = await t.status())?.build?.unreadable !== undefined,
      'the run to be shown as unreadable',
    );
    expect(tag?.state).toBe('awaited');
    expect(tag?.build?.unreadable).toBe('the API answered 500');
    const entry = await t.pageEntry();
    expect(entry).toContain('data-state="awaited"');
    expect(entry).toContain('cannot read the run (the API answered 500)');
    expect(entry).not.toContain('building');
    const warned = t.logs
      .entries()
      .filter((line) => line.level === 40 && line.unit === 'builds' && line.tag === 'step-1');
    expect(warned).toHaveLength(1);
    expect(warned[0]?.msg).toContain(page);
    expect(t.logs.text()).not.toContain(githubToken);
    expect((await t.app.inject('/status')).body).not.toContain(githubToken);
    await t.web.close();
  });
});
