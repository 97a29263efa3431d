import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { appDir } from '../../webapp/deployment/app-info';
import { waitForReady } from '../../webapp/simulation/start-local-dyno';
import {
  freePort,
  procfileCommand,
  runProcfileCommand,
  type Running,
} from '../../webapp/simulation/run-procfile';

interface Lock {
  packages: Record<string, { dev?: boolean; devOptional?: boolean }>;
}

/**
 * The app as Heroku leaves it after pruning devDependencies, cheaply: its files and build,
 * beside a node_modules that links only the production packages of the lock file. Run with
 * --preserve-symlinks, a package resolves its own dependencies there too, so anything that
 * needs a devDependency at run time fails as it would on the dyno.
 */
function pruneCopy(): string {
  const root = appDir();
  const dir = mkdtempSync(join(tmpdir(), 'dtp-pruned-'));
  for (const entry of ['package.json', 'Procfile', 'Procfile.foreman', 'webapp']) {
    cpSync(join(root, entry), join(dir, entry), { recursive: true, preserveTimestamps: true });
  }
  cpSync(join(root, 'dist', 'webapp'), join(dir, 'dist', 'webapp'), {
    recursive: true,
    preserveTimestamps: true,
  });
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as Lock;
  for (const [path, entry] of Object.entries(lock.packages)) {
    const topLevel = /^node_modules\/(@[^/]+\/)?[^/]+$/.test(path);
    if (!topLevel || entry.dev === true || entry.devOptional === true) continue;
    if (!existsSync(join(root, path))) continue; // an optional package of another platform
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    symlinkSync(join(root, path), join(dir, path));
  }
  return dir;
}

describe('the app with devDependencies pruned', () => {
  let dir = '';
  let web: Running | undefined;
  beforeAll(() => {
    dir = pruneCopy();
  });
  afterAll(async () => {
    await web?.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it("has no compiler, and npm start's build step runs the build as it is", () => {
    expect(existsSync(join(dir, 'node_modules', 'typescript'))).toBe(false);
    const scripts = (
      JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        scripts: Record<string, string>;
      }
    ).scripts;
    // npm ci runs these, with or without devDependencies: none may need the compiler.
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) {
      expect([hook, scripts[hook]]).toEqual([hook, undefined]);
    }
    expect(scripts.start).toMatch(
      /^node webapp\/bin\/plan-build\.js && (exec )?node (--[\w-]+(=\S+)? )*dist\//,
    );
    const plan = spawnSync(process.execPath, ['webapp/bin/plan-build.js'], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect([plan.status, plan.stdout, plan.stderr]).toEqual([0, '', '']);
  });

  it("starts the Procfile's web command with production packages only", async () => {
    const port = await freePort();
    const running = runProcfileCommand(
      procfileCommand('web'),
      {
        HOME: process.env.HOME ?? '/tmp',
        PATH: process.env.PATH,
        NODE_OPTIONS: '--preserve-symlinks',
        PORT: String(port),
        LOG_FORMAT: 'json',
        STATE_FILE: join(dir, 'pending.json'),
        TRIGGER_SCHEDULE: '0 0 0 1 1 *',
      },
      dir,
    );
    web = running;
    await waitForReady(running);
    const answer = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(answer.status).toBe(200);
    expect(running.output()).not.toMatch(/Cannot find module|MODULE_NOT_FOUND/);
  });
});
