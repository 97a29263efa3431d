import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  deliveriesReach,
  deploy,
  triggersReach,
  waitForReady,
  type Deployed,
} from '../helpers/chain';
import { eventually } from '../helpers/eventually';
import { startTestHub } from '../helpers/fake-hub';
import { freePort, procfileCommand, processesWith, runCommand } from '../helpers/procfile';

const tags = 'a,b,c';
const stateFile = () => join(mkdtempSync(join(tmpdir(), 'dtp-e2e-')), 'pending.json');
const fast = { TAG_SEQUENCE: tags, PROPAGATION_DELAY: '0.2', TRIGGER_RETRY_INITIAL: '0.1' };

describe('delivery you can trust, end to end', () => {
  let deployed: Deployed | undefined;
  afterEach(async () => {
    await deployed?.stop();
    deployed = undefined;
  });

  it('retries a failing hub until the whole chain is built, kick-off included', async () => {
    deployed = await deploy(fast, { kickoff: true, hub: { failFirst: 2 } });
    const { hub, web } = deployed;
    await deliveriesReach(hub, 3);
    expect(hub.triggers.map((t) => `${t.tag}:${t.status}`)).toEqual([
      'a:503',
      'a:503',
      'a:200',
      'b:200',
      'c:200',
    ]);
    // The clock's lines reach us through foreman, which can lag the hub's record on a busy machine.
    await web.waitFor(/"name":"clock".*"attempt":3.*"msg":"triggered a"/);
    expect(web.output()).not.toContain('e2e-secret-token');
  });

  it('times out a hub that never answers, retries, and completes the chain', async () => {
    deployed = await deploy({ ...fast, TRIGGER_TIMEOUT: '0.5' }, { hub: { hangFirst: 1 } });
    const { hub, web } = deployed;
    await hub.push('a');
    await deliveriesReach(hub, 3);
    expect(hub.triggers.map((t) => t.tag)).toEqual(['b', 'c']);
    await web.waitFor(/"attempt":1.*trigger of b failed, retrying: .*[Tt]imeout/);
  });

  it('keeps a pending trigger through SIGTERM and sends it once after the restart', async () => {
    const state = stateFile();
    deployed = await deploy(
      { ...fast, PROPAGATION_DELAY: '2', STATE_FILE: state },
      { hub: { neverBuild: ['b'] } },
    );
    const { hub, web } = deployed;
    expect((await hub.push('a')).status).toBe(200);
    const stoppedAt = Date.now();
    const exit = await web.stop('SIGTERM');
    expect(Date.now() - stoppedAt).toBeLessThan(5000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(web.output()).toMatch(
      /"name":"web".*stopped \(SIGTERM\): 1 pending trigger\(s\) kept in the journal \(b\)/,
    );
    const [owed] = JSON.parse(readFileSync(state, 'utf8')) as { dueAt: number }[];
    expect(owed).toEqual(expect.objectContaining({ tag: 'b', after: 'a' }));
    expect(hub.triggers).toEqual([]);

    // the dyno comes back: the trigger is sent when it is due, 2 s after the push
    const port = await freePort();
    const again = runCommand(procfileCommand('web'), {
      PORT: String(port),
      DOCKERHUB_URL: hub.url,
      DOCKERHUB_TRIGGER_TOKEN: 'e2e-secret-token',
      TRIGGER_SCHEDULE: '0 0 0 1 1 *',
      ...fast,
      PROPAGATION_DELAY: '2',
      STATE_FILE: state,
    });
    try {
      await waitForReady(again);
      const readyAt = Date.now();
      await triggersReach(hub, 1);
      // never before it is due; at once, or when due, once the web process is back
      const sentAt = hub.triggers[0]?.at ?? 0;
      const dueAt = owed?.dueAt ?? 0;
      expect(sentAt - dueAt).toBeGreaterThanOrEqual(-2);
      expect(sentAt - Math.max(dueAt, readyAt)).toBeLessThanOrEqual(1500);
      await again.waitFor(/resuming the pending trigger of b/);
      expect(hub.triggers.map((t) => t.tag)).toEqual(['b']);
      await again.waitFor(/"msg":"triggered b"/);
      await eventually(
        // what stays is b's build, awaited: no trigger is owed
        () =>
          (JSON.parse(readFileSync(state, 'utf8')) as { tag: string; awaited?: true }[]).every(
            (entry) => entry.awaited === true,
          ),
        'the journal to drop the sent trigger',
      );
    } finally {
      await again.stop();
    }
    expect(hub.triggers.map((t) => t.tag)).toEqual(['b']);
  });

  it('starts empty, saying so, after a corrupt journal', async () => {
    const state = stateFile();
    writeFileSync(state, 'not json at all');
    deployed = await deploy({ ...fast, STATE_FILE: state });
    expect(deployed.web.output()).toMatch(/"level":50.*journal of pending triggers is corrupt/);
    expect(existsSync(state)).toBe(true);
    expect(JSON.parse(readFileSync(state, 'utf8'))).toEqual([]);
  });
});

/** The Procfile's web command, once web and clock are both up; `run` marks its processes. */
async function startTree(env: Record<string, string> = {}) {
  const run = randomUUID();
  const web = runCommand(procfileCommand('web'), {
    PORT: String(await freePort()),
    RUN_ID: run,
    ...env,
  });
  await waitForReady(web);
  return { web, run };
}

/** The lines the processes write as they stop on SIGTERM, the journal's count included. */
function expectShutdownLines(output: string) {
  expect(output).toMatch(/"name":"web".*"msg":"stopping \(SIGTERM\)"/);
  expect(output).toMatch(/"name":"web".*"msg":"stopped \(SIGTERM\): 0 pending trigger\(s\) kept/);
  expect(output).toMatch(/"name":"clock".*"msg":"stopped \(SIGTERM\)"/);
  expect(output).not.toMatch(/Interrupted by User|stopping \(SIGINT\)/);
}

describe('the web command as one unit', () => {
  it('names the repository, tags, target and schedule as each process starts', async () => {
    const { web } = await startTree({
      DOCKERHUB_USER: 'acme',
      DOCKERHUB_REPO: 'tools',
      TAG_SEQUENCE: 'base,full',
      DOCKERHUB_TRIGGER_TOKEN: 'start-line-secret',
    });
    await web.stop('SIGTERM');
    for (const name of ['web', 'clock']) {
      const line = new RegExp(
        `"name":"${name}".*"msg":"${name} started: acme/tools: base -> full; builds by dockerhub ` +
          `at https://registry\\.hub\\.docker\\.com/u/acme/tools/trigger/\\*\\*\\*/; ` +
          `kick-off cron '0 0 \\* \\* \\*' \\(UTC\\), next \\d{4}-\\d\\d-\\d\\dT00:00:00\\.000Z"`,
      );
      expect(web.output()).toMatch(line);
    }
    expect(web.output()).not.toContain('start-line-secret');
  });

  it('runs as three processes: foreman with the supervisor in it, web and clock', async () => {
    const { web, run } = await startTree();
    try {
      const commands = processesWith('RUN_ID', run).map((p) => p.command);
      expect(commands).toHaveLength(3);
      for (const entry of ['supervise.js nf start', 'propagate.js', 'schedule.js']) {
        expect(commands.filter((command) => command.includes(entry))).toHaveLength(1);
      }
    } finally {
      await web.stop('SIGTERM');
    }
  });

  it('stops web and clock cleanly when only its top process gets SIGTERM', async () => {
    const { web, run } = await startTree();
    expect(
      processesWith('RUN_ID', run)
        .map((p) => p.command)
        .join('\n'),
    ).toMatch(/propagate\.js[\s\S]*schedule\.js|schedule\.js[\s\S]*propagate\.js/);
    const exit = await web.stop('SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(processesWith('RUN_ID', run)).toEqual([]);
    expect(web.output()).toMatch(
      /"name":"supervise".*"msg":"SIGTERM: stopping the dyno's processes"/,
    );
    expectShutdownLines(web.output());
  });

  it('stops gracefully when a second stop signal follows within a second, as `timeout` sends it', async () => {
    const { web, run } = await startTree({ LOG_LEVEL: 'debug' });
    web.child.kill('SIGTERM');
    // Two signals sent together merge into one: the second comes once the first is handled.
    await web.waitFor(/SIGTERM: stopping the dyno's processes/);
    web.child.kill('SIGHUP');
    await web.waitFor(/SIGHUP while stopping: taken as the same request/);
    expect(await web.exited).toEqual({ code: 0, signal: null });
    expect(processesWith('RUN_ID', run)).toEqual([]);
    expect(web.output()).not.toContain('killing the dyno');
    expectShutdownLines(web.output());
  });

  it('stops web and clock when its terminal closes (SIGHUP)', async () => {
    const { web, run } = await startTree();
    expect(await web.stop('SIGHUP')).toEqual({ code: 0, signal: null });
    expect(processesWith('RUN_ID', run)).toEqual([]);
  });

  it('stops promptly when every process gets SIGTERM at once, as on Heroku', async () => {
    const { web, run } = await startTree();
    const started = Date.now();
    for (const { pid } of processesWith('RUN_ID', run)) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // it ended between the listing and its signal, after one of the others
      }
    }
    expect(await web.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(processesWith('RUN_ID', run)).toEqual([]);
    expectShutdownLines(web.output());
  });

  it('ends, non-zero and saying which, when the clock alone gets SIGTERM', async () => {
    const { web, run } = await startTree();
    const clock = processesWith('RUN_ID', run).find((p) => p.command.includes('schedule.js'));
    process.kill(clock?.pid ?? 0, 'SIGTERM');
    expect((await web.exited).code).toBe(1);
    expect(web.output()).toMatch(
      /"name":"supervise".*"msg":"clock exited with code 0, unasked: the dyno stopped, exiting 1"/,
    );
    expect(web.output()).toMatch(/"name":"web".*"msg":"stopped \(SIG\w+\): 0 pending/);
    expect(processesWith('RUN_ID', run)).toEqual([]);
  });

  it('leaves no process running 2 s after the supervisor is SIGKILLed', async () => {
    const { web, run } = await startTree();
    web.child.kill('SIGKILL');
    await eventually(
      () => processesWith('RUN_ID', run).length === 0,
      'no process of the run left after the SIGKILL of the supervisor',
      2300,
    );
  });

  it.each(['5000abc', '0', '65536'])(
    'exits non-zero, naming PORT and starting nothing, when PORT is %s',
    async (port) => {
      const web = runCommand(procfileCommand('web'), { PORT: port });
      expect((await web.exited).code).toBe(1);
      expect(web.output()).toMatch(/invalid configuration:\n {2}- PORT: must be/);
      expect(web.output()).not.toMatch(/web\.1|clock\.1/);
    },
  );

  it.each([
    ['a privileged one', privilegedFreePort],
    ['the highest', () => Promise.resolve(65535)],
  ])('listens on exactly the PORT it is given: %s', async (_, pick) => {
    const port = await pick();
    const { web } = await startTree({ PORT: String(port) });
    try {
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      expect(web.output()).toMatch(new RegExp(`"name":"web".*"msg":"listening on port ${port}"`));
    } finally {
      await web.stop('SIGTERM');
    }
  });

  it('ends, non-zero, when the clock process dies', async () => {
    const { web, run } = await startTree();
    const clock = processesWith('RUN_ID', run).find((p) => p.command.includes('schedule.js'));
    expect(clock).toBeDefined();
    process.kill(clock?.pid ?? 0, 'SIGKILL');
    const exit = await web.exited;
    expect(exit.code).toBe(1);
    expect(web.output()).toMatch(/clock\.1 +Exited with exit code SIGKILL/);
    expect(web.output()).toMatch(/"msg":"clock was killed by SIGKILL, unasked: the dyno stopped/);
    expect(processesWith('RUN_ID', run)).toEqual([]);
  });

  it('ends, non-zero, when the web process crashes, with a line saying why', async () => {
    const blocker = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, '0.0.0.0', resolve));
    const run = randomUUID();
    try {
      const web = runCommand(procfileCommand('web'), {
        PORT: String(port),
        RUN_ID: run,
      });
      const exit = await web.exited;
      expect(exit.code).toBe(1);
      expect(web.output()).toMatch(/"level":60,.*"name":"web"/);
      expect(web.output()).toMatch(/web process died: listen EADDRINUSE/);
      expect(web.output()).toMatch(/web\.1 +Exited with exit code 1$/m);
      expect(web.output()).toMatch(/"msg":"web exited with code 1, unasked: the dyno stopped/);
      expect(processesWith('RUN_ID', run)).toEqual([]);
    } finally {
      blocker.close();
    }
  });

  it('stops with exit code 1 and one clear message on a bad config', async () => {
    const web = runCommand(procfileCommand('web'), {
      PORT: String(await freePort()),
      TAG_SEQUENCE: 'a,a',
      TRIGGER_TIMEZONE: 'Nowhere/Land',
    });
    const exit = await web.exited;
    expect(exit.code).toBe(1);
    expect(web.output()).toMatch(/invalid configuration:/);
    expect(web.output()).toMatch(/TAG_SEQUENCE: must not name a tag twice/);
    expect(web.output()).toMatch(/TRIGGER_TIMEZONE: must be an IANA time zone/);
    expect(web.output()).not.toMatch(/\n\s+at /);
  });

  it('stops with exit code 1 and one clear message when STATE_FILE cannot be written', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'dtp-e2e-')), 'plain-file');
    writeFileSync(file, 'x');
    const web = runCommand(procfileCommand('web'), {
      PORT: String(await freePort()),
      STATE_FILE: join(file, 'pending.json'),
    });
    expect((await web.exited).code).toBe(1);
    expect(web.output()).toMatch(
      /STATE_FILE: cannot keep the journal at .*plain-file\/pending\.json \(E[A-Z]+\)/,
    );
    expect(web.output()).toMatch(/web exited with code 1, unasked/);
    expect(web.output()).not.toMatch(/\n\s+at /);
  });
});

/** A port below 1024 that nothing listens on now (binding one needs root, as in CI). */
async function privilegedFreePort(): Promise<number> {
  for (let port = 1023; port > 900; port -= 1) {
    const server = createServer();
    const bound = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '0.0.0.0', () => resolve(true));
    });
    if (bound) {
      await new Promise((resolve) => server.close(resolve));
      return port;
    }
  }
  throw new Error('no port from 901 to 1023 could be bound');
}

// The fake hub itself is part of what the tests trust: a trigger it never answers must hang.
it('the fake hub leaves a hanging trigger unanswered', async () => {
  const hub = await startTestHub({ user: 'u', repo: 'r', hangFirst: 1 });
  const controller = new AbortController();
  const answer = fetch(`${hub.url}/u/u/r/trigger/t/`, {
    method: 'POST',
    body: '{}',
    signal: controller.signal,
  });
  const raced = await Promise.race([
    answer.then(() => 'answered'),
    new Promise((r) => setTimeout(r, 300, 'hanging')),
  ]);
  expect(raced).toBe('hanging');
  controller.abort();
  await answer.catch(() => undefined);
  await hub.close();
});
