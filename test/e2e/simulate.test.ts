import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appDir } from '../../webapp/deployment/app-info';
import { startNotifyReceiver } from '../helpers/notify-receiver';

/** `npm run simulate` as a user runs it, with their config in the environment. */
function simulate(args: string[], env: Record<string, string>) {
  const child = spawn('npm', ['run', '--silent', 'simulate', '--', ...args], {
    cwd: appDir(),
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  return new Promise<{ code: number | null; output: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, output })),
  );
}

/**
 * A module for node's --require that refuses every connection to a host not on this machine,
 * and writes each one (and each look-up of such a name) to the file OUTBOUND_LOG names.
 */
const outboundGuard = `
const dns = require('node:dns');
const net = require('node:net');
const { appendFileSync } = require('node:fs');
// 0.0.0.0 and :: are this machine's every address: what a server listens on
const own = (host) =>
  host === undefined || /^(localhost|127\\..*|::1|\\[::1\\]|0\\.0\\.0\\.0|::)$/.test(host);
const note = (what) => appendFileSync(process.env.OUTBOUND_LOG, what + '\\n');
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  const options =
    typeof first === 'object' && first !== null
      ? first
      : { port: first, host: typeof args[1] === 'string' ? args[1] : undefined };
  if (options.path === undefined && !own(options.host)) {
    note(process.pid + ' connect ' + options.host + ':' + options.port);
    process.nextTick(() => this.destroy(new Error('refused: ' + options.host + ' is not on this machine')));
    return this;
  }
  return connect.apply(this, args);
};
const lookup = dns.lookup;
dns.lookup = function (host, ...rest) {
  if (!own(host)) note(process.pid + ' lookup ' + host);
  return lookup.call(this, host, ...rest);
};
`;

describe('npm run simulate', () => {
  // The simulator starts the dyno again with a longer kick-off lead whenever it started too
  // slowly for the last one, then gives the chain 20 s, each image's delay, build and a read
  // of its run (1 s), and 20 s more: more than jest's 30 s.
  it('runs a 3-tag chain through the real processes and exits 0, telling NOTIFY_URL nothing', async () => {
    const receiver = await startNotifyReceiver();
    const { code, output } = await simulate(['--delay', '0.3', '--build-time', '0.2'], {
      NOTIFY_URL: receiver.url,
      TAG_SEQUENCE: 'base,middle,top',
      PROPAGATION_ROUTE: '/hooks/dockerhub',
      WEBHOOK_SECRET: 'simulate-secret-0123456789',
    }).finally(() => receiver.close());
    expect(code).toBe(0);
    const steps = output.split('\n').filter((line) => /^\[.*(triggered|built)/.test(line));
    expect(steps.map((line) => line.replace(/^\[[\d.]+ s\] /, ''))).toEqual([
      'triggered base (dockerhub answered 200)',
      'built base; push webhook answered 200',
      'triggered middle (dockerhub answered 200)',
      'built middle; push webhook answered 200',
      'triggered top (dockerhub answered 200)',
      'built top; push webhook answered 200',
    ]);
    expect(output).toMatch(/chain complete: base → middle → top built in order/);
    expect(output).not.toContain('simulate-secret');
    expect(receiver.requests).toEqual([]);
  }, 90_000);

  it('runs a graph file across repositories and prints each step of its wave', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'dtp-simulate-'));
    const file = join(folder, 'chains.yml');
    // its own delay, schedule and API address are the simulation's to set: never used
    writeFileSync(
      file,
      `delay: 3600
schedule: "0 0 1 1 *"
images:
  - image: acme/base:latest
    from: [alpine:3.20]
    build: { target: dockerhub, token_env: BASE_TOKEN }
  - image: acme/svc:a
    from: [acme/base]
    build: { target: github, repository: acme/svc, workflow: build.yml, api_url: "https://api.github.com", token_env: GH_TOKEN }
  - image: acme/app:latest
    from: [acme/svc:a, acme/base]
    build: { target: gitlab, project: acme/app, token_env: APP_TOKEN }
`,
    );
    const { code, output } = await simulate(['--delay', '0.3', '--build-time', '0.2'], {
      GRAPH_FILE: file,
    });
    expect(code).toBe(0);
    const steps = output.split('\n').filter((line) => /^\[[\d.]+ s\] (triggered|built)/.test(line));
    expect(steps.map((line) => line.replace(/^\[[\d.]+ s\] /, ''))).toEqual([
      'triggered acme/base:latest (dockerhub answered 200)',
      'built acme/base:latest; push webhook answered 200',
      'triggered acme/svc:a (github answered 200)',
      'built acme/svc:a; push webhook answered 200',
      'triggered acme/app:latest (gitlab answered 201)',
      'built acme/app:latest; push webhook answered 200',
    ]);
    expect(output).toContain(
      'acme/base:latest pushed: acme/svc:a will be triggered in 0 s; acme/app:latest waits for acme/svc:a',
    );
    expect(output).toMatch(/wave complete: 3 images, each built once after its parents/);
    // GitHub Actions first; Automated Builds named with their end, once, as a note
    expect(output.split('\n')[0]).toBe(
      `simulating ${file}: 3 images, built by GitHub Actions (1), GitLab CI (1), Docker Hub (1); delay 0.3 s, build 0.2 s`,
    );
    const notes = output.split('\n').filter((line) => line.includes('Automated Builds'));
    expect(notes).toEqual([
      'note: Docker Hub retires Automated Builds on 2027-04-01, and 1 of these images is built by one (acme/base:latest): see "Leaving Automated Builds" in the README to build them with GitHub Actions',
    ]);
  }, 90_000);

  it('runs a graph on GHCR built by GitHub Actions from Quay, on loopback only, by the names it gives', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'dtp-simulate-'));
    const file = join(folder, 'chains.yml');
    const guard = join(folder, 'outbound-guard.js');
    const outbound = join(folder, 'outbound.log');
    writeFileSync(guard, outboundGuard);
    // The guard itself refuses and tells, without the network.
    const probe = spawnSync(
      'node',
      [
        '--require',
        guard,
        '-e',
        "require('node:net').connect(443, 'ghcr.io').on('error', () => {})",
      ],
      {
        env: { PATH: process.env.PATH, OUTBOUND_LOG: join(folder, 'probe.log') },
        encoding: 'utf8',
      },
    );
    expect(probe.status).toBe(0);
    expect(readFileSync(join(folder, 'probe.log'), 'utf8')).toMatch(/ connect ghcr\.io:443$/m);
    // The second image's workflow is in a repository of another name, on a branch.
    writeFileSync(
      file,
      `images:
  - image: ghcr.io/acme/base:latest
    from: [quay.io/acme/builder:1.0, docker.io/library/alpine:3.20]
    build: { target: github, repository: acme/base, workflow: build.yml, api_url: "https://api.github.com", token_env: GH_TOKEN }
  - image: ghcr.io/acme/app:2.1
    from: ghcr.io/acme/base
    build: { target: github, repository: acme/images, workflow: app.yml, ref: release, token_env: GH_TOKEN }
`,
    );
    const { code, output } = await simulate(['--delay', '0.3', '--build-time', '0.2'], {
      GRAPH_FILE: file,
      NODE_OPTIONS: `--require ${guard}`,
      OUTBOUND_LOG: outbound,
      // npm's own look for a newer npm is no part of the simulation
      npm_config_update_notifier: 'false',
    });
    expect(code).toBe(0);
    const lines = output.split('\n');
    expect(lines[0]).toBe(
      `simulating ${file}: 2 images, built by GitHub Actions (2); delay 0.3 s, build 0.2 s`,
    );
    const steps = lines.filter((line) => /^\[[\d.]+ s\] (triggered|built)/.test(line));
    expect(steps.map((line) => line.replace(/^\[[\d.]+ s\] /, ''))).toEqual([
      'triggered ghcr.io/acme/base:latest (github answered 200)',
      'built ghcr.io/acme/base:latest; the app read that its GitHub Actions run 7001 succeeded',
      'triggered ghcr.io/acme/app:2.1 (github answered 200)',
      'built ghcr.io/acme/app:2.1; the app read that its GitHub Actions run 7002 succeeded',
    ]);
    // each build's new digest read from the registry, right after its run's end
    const digests = lines.filter((line) =>
      /^\[[\d.]+ s\]   the app read its new digest/.test(line),
    );
    expect(digests).toEqual([
      expect.stringMatching(/ the app read its new digest sha256:[0-9a-f]{12}$/),
      expect.stringMatching(/ the app read its new digest sha256:[0-9a-f]{12}$/),
    ]);
    expect(lines.indexOf(digests[0] as string)).toBe(lines.indexOf(steps[1] as string) + 1);
    expect(output).toMatch(/wave complete: 2 images, each built once after its parents/);
    expect(output).not.toContain('127.0.0.1');
    expect(output).not.toContain('Automated Builds');
    expect(existsSync(outbound) ? readFileSync(outbound, 'utf8') : '').toBe('');
  }, 90_000);

  it('exits non-zero with the reason when the config is wrong', async () => {
    const { code, output } = await simulate([], { TAG_SEQUENCE: 'a,a' });
    expect(code).toBe(1);
    expect(output).toMatch(/TAG_SEQUENCE: must not name a tag twice/);
  });

  it('exits 2 on a bad flag, and 0 with its usage on --help', async () => {
    const { code, output } = await simulate(['--delay', 'soon'], {});
    expect(code).toBe(2);
    expect(output).toMatch(/--delay and --build-time take seconds/);
    const help = await simulate(['--help'], {});
    expect(help).toEqual({ code: 0, output: expect.stringMatching(/^usage: simulate/) });
    const services = ['GitHub Actions', 'GitLab CI', 'Docker Hub'].map((name) =>
      help.output.indexOf(name),
    );
    expect(services.every((at) => at > 0)).toBe(true);
    expect([...services].sort((a, b) => a - b)).toEqual(services);
  });
});

describe('npm run trigger', () => {
  const trigger = (args: string[], env: Record<string, string> = {}) => {
    const result = spawnSync('node', [join(appDir(), 'dist/webapp/bin/trigger.js'), ...args], {
      env: { PATH: process.env.PATH, LOG_FORMAT: 'json', ...env },
      encoding: 'utf8',
    });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  };

  it('triggers the first tag by default, honouring dry run', () => {
    const { code, stdout } = trigger([]);
    expect(code).toBe(0);
    expect(stdout).toMatch(
      /^dry run: would have triggered init at .*\/trigger\/\*\*\*\/ \(DOCKERHUB_TRIGGER_TOKEN is not set\)$/m,
    );
  });

  it('refuses a tag that is not in the sequence', () => {
    const { code, stderr } = trigger(['nope']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/'nope' is not one tag of TAG_SEQUENCE \(init, step-1/);
  });

  it('prints its usage on --help, and exits 0 without reading the config', () => {
    const { code, stdout } = trigger(['--help'], { TAG_SEQUENCE: 'a,a' });
    expect(code).toBe(0);
    expect(stdout).toMatch(/^usage: npm run trigger -- \[--dry-run\] \[tag\]$/m);
    expect(stdout).not.toContain('triggered');
  });

  it('refuses an unknown option with its usage, and exits 2', () => {
    const { code, stdout, stderr } = trigger(['--force', 'init']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^unknown option: --force\nusage: npm run trigger/);
    expect(stdout).toBe('');
  });

  it('prints the exact request on --dry-run, token masked, and sends nothing', () => {
    // Nothing listens there: a request sent would end in 'failed to trigger', exit 1.
    const { code, stdout } = trigger(['--dry-run', 'step-1'], {
      DOCKERHUB_URL: 'http://127.0.0.1:9',
      DOCKERHUB_TRIGGER_TOKEN: 'dry-run-secret',
      TRIGGER_RETRY_GIVE_UP: '0',
    });
    expect(stdout).toBe(
      [
        'dry run: the request that triggers step-1, not sent:',
        'POST http://127.0.0.1:9/u/maddouri/void-docker/trigger/***/',
        'content-type: application/json',
        '',
        '{"docker_tag":"step-1"}',
        '',
      ].join('\n'),
    );
    expect(code).toBe(0);
  });

  it('masks a token sent in a header on --dry-run', () => {
    const { code, stdout } = trigger(['--dry-run'], {
      BUILD_TARGET: 'github',
      BUILD_GITHUB_REPOSITORY: 'acme/images',
      BUILD_GITHUB_WORKFLOW: 'build.yml',
      BUILD_GITHUB_TOKEN: 'github-dry-secret',
    });
    expect(code).toBe(0);
    expect(stdout).toContain(
      'POST https://api.github.com/repos/acme/images/actions/workflows/build.yml/dispatches\n',
    );
    expect(stdout).toContain('authorization: Bearer ***\n');
    expect(stdout).toContain('{"ref":"main","inputs":{"tag":"init"},"return_run_details":true}');
    expect(stdout).not.toContain('github-dry-secret');
  });

  it('says why a trigger failed, without the token', () => {
    const { code, stdout } = trigger(['step-2'], {
      DOCKERHUB_TRIGGER_TOKEN: 'cli-secret',
      DOCKERHUB_URL: 'http://127.0.0.1:9',
      TRIGGER_RETRY_GIVE_UP: '0',
    });
    expect(code).toBe(1);
    expect(stdout).toMatch(
      /failed to trigger step-2 at http:\/\/127.0.0.1:9\/u\/maddouri\/void-docker\/trigger\/\*\*\*\/: ECONNREFUSED/,
    );
    expect(stdout).not.toContain('cli-secret');
  });

  it.each([
    ['user info', 'http://cli-user:cli-pass@127.0.0.1:9/hook/', 'http://***:***@127.0.0.1:9/***/'],
    [
      'a token in the query',
      'http://127.0.0.1:9/build?token=cli-query-secret&ref=main',
      'http://127.0.0.1:9/***?token=***&ref=***',
    ],
  ])('never shows a trigger URL with %s, in its output or its logs', (_shape, url, shown) => {
    const { code, stdout } = trigger(['init'], {
      DOCKERHUB_TRIGGER_URL: url,
      TRIGGER_RETRY_GIVE_UP: '0',
    });
    expect(code).toBe(1);
    expect(stdout).toContain(`failed to trigger init at ${shown}: ECONNREFUSED`);
    expect(stdout).not.toMatch(/cli-user|cli-pass|cli-query-secret/);
  });
});

describe('log format', () => {
  const run = (env: Record<string, string>) =>
    spawnSync('node', [join(appDir(), 'dist/webapp/bin/trigger.js')], {
      env: { PATH: process.env.PATH, ...env },
      encoding: 'utf8',
    }).stdout;

  it('is JSON lines when nobody watches (Heroku, CI)', () => {
    const [line] = run({}).split('\n');
    expect(JSON.parse(line ?? '')).toMatchObject({ level: 40, name: 'trigger', tag: 'init' });
  });

  it('is short and readable with pino-pretty when a person watches', () => {
    const [line] = run({ LOG_FORMAT: 'pretty' }).split('\n');
    expect(line).toMatch(/WARN.*trigger: dry run: would trigger init/);
    expect(line).not.toMatch(/^\{/);
  });
});
