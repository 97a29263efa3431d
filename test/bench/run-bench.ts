// `npm run bench`: throughput, latency, memory, start time and timing precision, measured the
// same way every time, on loopback only. Not a test: it prints a table and writes
// test/bench-results.json.
import autocannon from 'autocannon';
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { MockAgent } from 'undici';
import { createTarget } from '../../webapp/builds/targets/create-target';
import { loadConfig } from '../../webapp/config';
import { appDir } from '../../webapp/process/app-info';
import { createLogger } from '../../webapp/process/create-logger';
import { realTimers } from '../../webapp/process/timers';
import { buildPushPayload } from '../../webapp/simulation/build-push-payload';
import {
  freePort,
  procfileCommand,
  runProcfileCommand,
} from '../../webapp/simulation/run-procfile';
import { startFakeHub } from '../../webapp/simulation/start-fake-hub';
import type { Journal } from '../../webapp/web/create-journal';
import { createWebApp } from '../../webapp/web/create-web-app';
import { processesWith } from '../helpers/procfile';

const seconds = Number(process.env.BENCH_SECONDS ?? '10');
const connections = 50;
const rounds = Number(process.env.BENCH_ROUNDS ?? '3');

function payload(tag: string, pushedAt = 1764158400): string {
  return JSON.stringify(
    buildPushPayload({
      hubUrl: 'https://registry.hub.docker.com',
      user: 'maddouri',
      repo: 'void-docker',
      tag,
      pushedAt,
      hookId: 'abc123',
    }),
  );
}

interface Load {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  /** requests per second in each second of the run */
  perSecond: number[];
}

async function load(url: string, body: string, duration = seconds): Promise<Load> {
  const perSecond: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections,
        duration,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      },
      (err, done) => (err ? reject(err) : resolve(done)),
    );
    // autocannon passes each second's counts to 'tick'; its types leave the argument out.
    const onTick = (tick: { counter: number }) => tick.counter > 0 && perSecond.push(tick.counter);
    instance.on('tick', onTick as unknown as () => void);
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
    perSecond,
  };
}

/** The bare node:http server that the webhook is measured against, in its own process. */
const baselineSource = `
const http = require('node:http');
const server = http.createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => (body += chunk));
  req.on('end', () => {
    const parsed = JSON.parse(body);
    const tag = parsed.push_data.tag;
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify({ state: 'success', description: tag + ' is the last tag: nothing to trigger', prev_tag: tag, next_tag: null }));
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => process.send('ready'));
`;

async function startBaseline(port: number): Promise<ChildProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-'));
  const file = join(dir, 'baseline.js');
  writeFileSync(file, baselineSource);
  const child = fork(file, { env: { PORT: String(port) } });
  await new Promise((resolve) => child.once('message', resolve));
  return child;
}

interface Dyno {
  url: string;
  run: string;
  stop(): Promise<void>;
}

/** The Procfile's web command, as deployed, with its output read and thrown away. */
async function startDyno(env: Record<string, string> = {}): Promise<Dyno & { startMs: number }> {
  const port = await freePort();
  const run = randomUUID();
  const url = `http://127.0.0.1:${port}`;
  const started = process.hrtime.bigint();
  const web = runProcfileCommand(procfileCommand('web'), {
    HOME: process.env.HOME,
    PORT: String(port),
    RUN_ID: run,
    STATE_FILE: join(mkdtempSync(join(tmpdir(), 'bench-')), 'pending.json'),
    PROPAGATION_DELAY: '3600',
    RECONCILE_INTERVAL: '0',
    ...env,
  });
  for (;;) {
    try {
      const response = await fetch(`${url}/healthz`);
      if (response.status === 200) break;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const startMs = Number(process.hrtime.bigint() - started) / 1e6;
  return {
    url,
    run,
    startMs,
    stop: async () => {
      await web.stop('SIGTERM');
    },
  };
}

interface TreeMemory {
  /** the sum of each process's resident set, in MiB: pages shared by processes count in each */
  rss: number;
  /** the sum of proportional set sizes, in MiB: each shared page counted once, split among its users */
  pss: number;
  processes: Record<string, { rss: number; pss: number }>;
}

/** Memory of every process of a run, from /proc/<pid>/smaps_rollup. */
function treeMemory(run: string): TreeMemory {
  const memory: TreeMemory = { rss: 0, pss: 0, processes: {} };
  for (const { pid, command } of processesWith('RUN_ID', run)) {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const field = (name: string) =>
      Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(rollup)?.[1] ?? 0) / 1024;
    const name = /supervise|nf start|propagate|schedule/.exec(command)?.[0] ?? command;
    memory.processes[name] = { rss: round(field('Rss')), pss: round(field('Pss')) };
    memory.rss += field('Rss');
    memory.pss += field('Pss');
  }
  return memory;
}

/** Heap growth of the web app over many deliveries, in this process, after full GCs. */
async function heapGrowth(
  deliveries: number,
): Promise<{ beforeMiB: number; afterMiB: number; at10kMiB: number }> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with node --expose-gc');
  const config = loadConfig({ PROPAGATION_DELAY: '3600' });
  const log = createLogger('web', 'info', new Writable({ write: (_c, _e, done) => done() }));
  const saved: unknown[] = [];
  const journal: Journal = {
    load: () => [],
    save: (pending) => void saved.splice(0, saved.length, ...pending),
  };
  const web = createWebApp({
    config,
    log,
    trigger: async () => ({ ok: true, dryRun: true, attempts: 0 }),
    target: createTarget(config.target, config),
    timers: realTimers,
    journal,
    dispatcher: new MockAgent(),
    version: 'bench',
  });
  const app = web.server;
  await app.ready();
  const used = () => {
    gc();
    return process.memoryUsage().heapUsed / 2 ** 20;
  };
  const tags = config.tagSequence;
  const send = (i: number) =>
    app.inject({
      method: 'POST',
      url: '/propagate',
      headers: { 'content-type': 'application/json' },
      // every tag, every push new: the busiest the chain's memory can get
      payload: payload(tags[i % tags.length] as string, 1764158400 + i),
    });
  for (let i = 0; i < 2000; i++) await send(i);
  const beforeMiB = used();
  let at10kMiB = 0;
  for (let i = 0; i < deliveries; i++) {
    await send(i);
    if (i === 10_000) at10kMiB = used();
  }
  const afterMiB = used();
  await web.close();
  return { beforeMiB, afterMiB, at10kMiB };
}

/** Trigger time against due time, for `count` propagations and for the clock's kick-offs. */
async function timing(count: number): Promise<{ propagation: number[]; kickoff: number[] }> {
  const tags = Array.from({ length: count + 1 }, (_, i) => `t${i}`);
  let dyno: Dyno | undefined;
  const hub = await startFakeHub({
    user: 'maddouri',
    repo: 'void-docker',
    webhookUrl: () => `${dyno?.url}/propagate`,
  });
  const common = {
    DOCKERHUB_URL: hub.url,
    DOCKERHUB_TRIGGER_TOKEN: 'bench-token',
    TAG_SEQUENCE: tags.join(','),
    TRIGGER_SCHEDULE: '0 0 0 1 1 *',
  };
  dyno = await startDyno({ ...common, PROPAGATION_DELAY: '1' });
  await hub.push('t0');
  await new Promise<void>((resolve) => {
    hub.on('delivery', () => hub.deliveries.length === tags.length && resolve());
  });
  await dyno.stop();
  const propagation = hub.triggers.map(
    (trigger, i) => trigger.at - ((hub.deliveries[i]?.at ?? 0) + 1000),
  );

  // the clock, kicking off every second
  const kicks = await startFakeHub({ user: 'maddouri', repo: 'void-docker' });
  const clock = await startDyno({
    ...common,
    DOCKERHUB_URL: kicks.url,
    TAG_SEQUENCE: 'k',
    TRIGGER_SCHEDULE: '* * * * * *',
  });
  await new Promise<void>((resolve) =>
    kicks.on('trigger', () => kicks.triggers.length === 8 && resolve()),
  );
  await clock.stop();
  // the first kick-offs may race the start; the scheduled moment is the whole second
  const kickoff = kicks.triggers.slice(2).map((trigger) => trigger.at % 1000);
  await hub.close();
  await kicks.close();
  return { propagation, kickoff };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};
const medianRun = (runs: Load[]) =>
  [...runs].sort((a, b) => a.rps - b.rps)[Math.floor(runs.length / 2)] as Load;
const round = (value: number, digits = 1) => Number(value.toFixed(digits));

async function main(): Promise<void> {
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`;
  console.log(
    `benchmark on ${machine}; ${connections} connections, ${seconds} s per load run, ${rounds} rounds`,
  );

  const starts: number[] = [];
  for (let i = 0; i < 5; i++) {
    const dyno = await startDyno();
    starts.push(dyno.startMs);
    await dyno.stop();
  }

  const dyno = await startDyno();
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const idle = treeMemory(dyno.run);
  // The load generator shares the machine: run the baseline and the webhook in turns, and keep
  // the round with the median throughput of each.
  const basePort = await freePort();
  const baseline = await startBaseline(basePort);
  const bareUrl = `http://127.0.0.1:${basePort}/propagate`;
  await load(bareUrl, payload('latest'), 2);
  await load(`${dyno.url}/propagate`, payload('latest'), 2);
  const bareRuns: Load[] = [];
  const lastRuns: Load[] = [];
  for (let i = 0; i < rounds; i++) {
    bareRuns.push(await load(bareUrl, payload('latest')));
    lastRuns.push(await load(`${dyno.url}/propagate`, payload('latest')));
  }
  baseline.kill();
  const bare = medianRun(bareRuns);
  const last = medianRun(lastRuns);
  const middle = await load(`${dyno.url}/propagate`, payload('step-1'));
  const loaded = treeMemory(dyno.run);
  await dyno.stop();

  const heap = await heapGrowth(100_000);
  const precision = await timing(20);

  const third = Math.max(1, Math.floor(middle.perSecond.length / 3));
  const early = middle.perSecond.slice(0, third);
  const late = middle.perSecond.slice(-third);
  const results = {
    machine,
    date: new Date().toISOString(),
    connections,
    seconds,
    webhook: {
      baseline: bare,
      lastTag: last,
      middleTag: middle,
      roundsRps: {
        baseline: bareRuns.map((run) => round(run.rps)),
        lastTag: lastRuns.map((run) => round(run.rps)),
      },
      throughputRatio: round(last.rps / bare.rps, 2),
      p99Ratio: round(last.p99 / Math.max(bare.p99, 1), 2),
      middleLateVsEarly: round(median(late) / median(early), 2),
    },
    memoryMiB: {
      idleRss: round(idle.rss),
      idlePss: round(idle.pss),
      afterLoadRss: round(loaded.rss),
      afterLoadPss: round(loaded.pss),
      idleByProcess: idle.processes,
      heapBefore: round(heap.beforeMiB, 2),
      heapAfter10k: round(heap.at10kMiB, 2),
      heapAfter100k: round(heap.afterMiB, 2),
    },
    startMs: { runs: starts.map((ms) => round(ms)), median: round(median(starts)) },
    timingErrorMs: {
      propagation: {
        median: median(precision.propagation),
        max: Math.max(...precision.propagation),
        samples: precision.propagation,
      },
      kickoff: {
        median: median(precision.kickoff),
        max: Math.max(...precision.kickoff),
        samples: precision.kickoff,
      },
    },
  };
  const budgets: [string, boolean, string][] = [
    [
      'throughput ≥ 0.8 × baseline',
      results.webhook.throughputRatio >= 0.8,
      `${results.webhook.throughputRatio}`,
    ],
    ['p99 ≤ 1.5 × baseline', results.webhook.p99Ratio <= 1.5, `${results.webhook.p99Ratio}`],
    [
      'idle memory of the tree (PSS) < 150 MB',
      idle.pss * 1.048576 < 150,
      `${round(idle.pss * 1.048576)} MB`,
    ],
    [
      'idle RSS summed over the tree < 150 MB',
      idle.rss * 1.048576 < 150,
      `${round(idle.rss * 1.048576)} MB`,
    ],
    ['start < 1.5 s', median(starts) < 1500, `${round(median(starts))} ms`],
    [
      'propagation timing error median < 50 ms',
      results.timingErrorMs.propagation.median < 50,
      `${results.timingErrorMs.propagation.median} ms`,
    ],
    [
      'kick-off timing error median < 50 ms',
      results.timingErrorMs.kickoff.median < 50,
      `${results.timingErrorMs.kickoff.median} ms`,
    ],
    [
      'no heap growth over 100k deliveries (< 5 MiB)',
      heap.afterMiB - heap.beforeMiB < 5,
      `${round(heap.afterMiB - heap.beforeMiB, 2)} MiB`,
    ],
    [
      'middle-tag load does not degrade (late/early ≥ 0.9)',
      results.webhook.middleLateVsEarly >= 0.9,
      `${results.webhook.middleLateVsEarly}`,
    ],
  ];
  console.table({
    'bare node:http': {
      'req/s': round(bare.rps),
      'p50 ms': bare.p50,
      'p99 ms': bare.p99,
      errors: bare.errors + bare.non2xx,
    },
    'webhook, last tag': {
      'req/s': round(last.rps),
      'p50 ms': last.p50,
      'p99 ms': last.p99,
      errors: last.errors + last.non2xx,
    },
    'webhook, middle tag': {
      'req/s': round(middle.rps),
      'p50 ms': middle.p50,
      'p99 ms': middle.p99,
      errors: middle.errors + middle.non2xx,
    },
  });
  console.table({
    'idle tree, PSS / RSS sum (MiB)': {
      value: `${results.memoryMiB.idlePss} / ${results.memoryMiB.idleRss}`,
    },
    'after load, PSS / RSS sum (MiB)': {
      value: `${results.memoryMiB.afterLoadPss} / ${results.memoryMiB.afterLoadRss}`,
    },
    'heap before / after 100k deliveries (MiB)': {
      value: `${results.memoryMiB.heapBefore} / ${results.memoryMiB.heapAfter100k}`,
    },
    'start, median of 5 (ms)': { value: results.startMs.median },
    'propagation error median / max (ms)': {
      value: `${results.timingErrorMs.propagation.median} / ${results.timingErrorMs.propagation.max}`,
    },
    'kick-off error median / max (ms)': {
      value: `${results.timingErrorMs.kickoff.median} / ${results.timingErrorMs.kickoff.max}`,
    },
  });
  console.table(
    Object.fromEntries(
      budgets.map(([name, ok, value]) => [name, { value, ok: ok ? 'yes' : 'MISSED' }]),
    ),
  );
  const file = join(appDir(), 'test', 'bench-results.json');
  writeFileSync(file, `${JSON.stringify({ ...results, budgets }, null, 2)}\n`);
  console.log(`written to ${file}`);
}

void main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
