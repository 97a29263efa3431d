import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort } from '../../webapp/simulation/run-procfile';

export interface RunningPostgres {
  /** postgres://<user>:<password>@127.0.0.1:<port>/<database> for a database of its own */
  url: string;
  /** the password in `url`: no log line, answer or page may show it */
  password: string;
  port: number;
  /** Makes another empty database on the same server, and its URL. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server (fast shutdown: open connections are cut) and keeps its data. */
  halt(): Promise<void>;
  /** Starts it again on the same port, with the same data. */
  resume(): Promise<void>;
  /** Stops the server and removes its data. */
  stop(): Promise<void>;
}

/** Debian's PostgreSQL binaries: not on PATH, under /usr/lib/postgresql/<major>/bin. */
function findBinaries(): string {
  const base = '/usr/lib/postgresql';
  const majors = existsSync(base)
    ? readdirSync(base)
        .filter((name) => /^\d+$/.test(name) && existsSync(join(base, name, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (majors[0] !== undefined) return join(base, majors[0], 'bin');
  const found = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  if (found.status === 0 && found.stdout.trim() !== '') {
    return found.stdout.trim().replace(/\/initdb$/, '');
  }
  throw new Error(
    "no PostgreSQL found: install Debian's postgresql package (apt-get install -y postgresql); " +
      '.ci/run installs it where it is missing',
  );
}

/** initdb refuses root: as root, the server runs as `postgres` (the package's user) or `nobody`. */
function serverUser(): string | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const postgres = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  return postgres.status === 0 ? 'postgres' : 'nobody';
}

function idsOf(user: string): { uid: number; gid: number } {
  const uid = Number(spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout.trim());
  const gid = Number(spawnSync('id', ['-g', user], { encoding: 'utf8' }).stdout.trim());
  return { uid, gid };
}

/**
 * A throwaway PostgreSQL cluster in a temporary folder, on a free loopback port, owned by a
 * user that is not root. Logins need a password (scram), as a hosted database's do. Resolves
 * once it accepts a connection.
 */
export async function startPostgres(): Promise<RunningPostgres> {
  const bin = findBinaries();
  const user = serverUser();
  const folder = mkdtempSync(join(tmpdir(), 'dtp-postgres-'));
  const data = join(folder, 'data');
  const password = `pw-${Math.random().toString(36).slice(2)}-secret`;
  writeFileSync(join(folder, 'password'), password);
  if (user !== undefined) {
    const { uid, gid } = idsOf(user);
    chownSync(folder, uid, gid);
    chownSync(join(folder, 'password'), uid, gid);
  }
  chmodSync(folder, 0o700);
  // Started as that user by Node itself: a wrapper such as runuser would not pass signals on.
  const ids = user === undefined ? {} : idsOf(user);
  const init = {
    command: join(bin, 'initdb'),
    args: [
      '-D',
      data,
      '-U',
      'app',
      '--auth=scram-sha-256',
      `--pwfile=${join(folder, 'password')}`,
      '-E',
      'UTF8',
      '--no-sync',
    ],
  };
  const made = spawnSync(init.command, init.args, { encoding: 'utf8', ...ids });
  if (made.status !== 0) throw new Error(`initdb failed: ${made.stderr || made.stdout}`);
  const port = await freePort();
  let server: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = async () => {
    const run = {
      command: join(bin, 'postgres'),
      args: [
        '-D',
        data,
        '-p',
        String(port),
        '-k',
        folder,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'fsync=off',
        '-c',
        'max_connections=100',
      ],
    };
    const child = spawn(run.command, run.args, { stdio: ['ignore', 'ignore', 'pipe'], ...ids });
    server = child;
    let log = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      log = (log + chunk.toString()).slice(-4000);
    });
    exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + 20_000;
    for (;;) {
      const client = new Client({
        host: '127.0.0.1',
        port,
        user: 'app',
        password,
        database: 'postgres',
      });
      try {
        await client.connect();
        await client.end();
        return;
      } catch (err) {
        await client.end().catch(() => undefined);
        if (child.exitCode !== null || Date.now() > deadline) {
          throw new Error(`PostgreSQL did not start: ${(err as Error).message}\n${log}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };
  const halt = async () => {
    if (server === undefined || server.exitCode !== null) return;
    server.kill('SIGINT');
    await exited;
    server = undefined;
  };
  await start();
  const urlOf = (database: string) =>
    `postgres://app:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
  return {
    url: urlOf('postgres'),
    password,
    port,
    async createDatabase(name) {
      const client = new Client({ connectionString: urlOf('postgres') });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${name.replace(/"/g, '')}"`);
      } finally {
        await client.end();
      }
      return urlOf(name);
    },
    halt,
    resume: start,
    async stop() {
      await halt();
      rmSync(folder, { recursive: true, force: true });
    },
  };
}
