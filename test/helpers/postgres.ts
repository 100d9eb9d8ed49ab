// A real PostgreSQL (Debian's postgresql-15) for tests: initdb into a temp dir and run `postgres` as an
// unprivileged user (tests run as root in CI; postgres refuses root), on a kernel-chosen loopback port
// and a unix socket in the temp dir, with password (scram) auth. Stopped and restarted by PID.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { IN_CI, isRoot } from './env.ts';
import { freePort } from './ports.ts';
import { waitFor } from './wait.ts';

/** Debian installs the server binaries outside PATH. */
export function postgresBinDir(): string | null {
  if (process.env.SLUICE_PG_BIN && existsSync(join(process.env.SLUICE_PG_BIN, 'postgres'))) return process.env.SLUICE_PG_BIN;
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'postgres'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : null;
}

/** Like env.ts' unavailable(): the reason PostgreSQL cannot run here (throws under CI=true), or null. */
export function postgresUnavailable(): string | null {
  if (postgresBinDir()) return null;
  const reason = 'PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (apt-get install postgresql, or set SLUICE_PG_BIN)';
  if (IN_CI) throw new Error(`CI=true and this test cannot run: ${reason}`);
  process.stderr.write(`SKIPPED: ${reason}\n`);
  return reason;
}

/** Polls until the server answers SELECT 1 (`check` may throw to give up, e.g. when the process died). */
export async function waitForPostgres(conn: { host: string; port: number; user: string; password: string }, check: () => void = () => undefined, what = 'postgres to accept connections'): Promise<void> {
  await waitFor(
    async () => {
      check();
      const probe = new pg.Client({ ...conn, database: 'postgres', connectionTimeoutMillis: 1000 });
      try {
        await probe.connect();
        await probe.query('SELECT 1');
        return true;
      } finally {
        await probe.end().catch(() => undefined);
      }
    },
    { timeoutMs: 30_000, intervalMs: 100, what },
  );
}

export interface RunningPostgres {
  host: string;
  port: number;
  user: string;
  password: string;
  /** A file holding the password (mode 0600), for configs that take password_file. */
  passwordFile: string;
  /** postgres://user@host:port/db — no password in it. */
  url(db?: string): string;
  createDatabase(name?: string): Promise<string>;
  /** Runs SQL as the superuser on `db` (default postgres). */
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[], db?: string): Promise<T[]>;
  pid(): number | undefined;
  /** Fast shutdown (SIGINT: clients disconnected, a clean checkpoint) and wait for exit. */
  stop(): Promise<void>;
  /** Starts again on the same port and data. */
  start(): Promise<void>;
  log(): string;
  /** Stops and removes everything. */
  destroy(): Promise<void>;
}

const UNPRIVILEGED = { uid: 65534, gid: 65534 }; // nobody:nogroup

export async function startPostgres(opts: { settings?: Record<string, string> } = {}): Promise<RunningPostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL not installed (apt-get install postgresql)');
  const dir = mkdtempSync(join(tmpdir(), 'sluice-pg-'));
  const asUser = isRoot() ? UNPRIVILEGED : {};
  if (isRoot()) chownSync(dir, UNPRIVILEGED.uid, UNPRIVILEGED.gid);
  const data = join(dir, 'data');
  const user = 'sluice';
  const password = randomBytes(12).toString('hex');
  const passwordFile = join(dir, 'password');
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  const pwForInitdb = join(dir, 'pw-initdb');
  writeFileSync(pwForInitdb, password, { mode: 0o600 });
  if (isRoot()) chownSync(pwForInitdb, UNPRIVILEGED.uid, UNPRIVILEGED.gid);
  execFileSync(join(bin, 'initdb'), ['-D', data, '-U', user, `--pwfile=${pwForInitdb}`, '--auth=scram-sha-256', '-E', 'UTF8', '--locale=C', '-N'], { stdio: 'pipe', ...asUser, cwd: dir });
  const port = await freePort();
  const host = '127.0.0.1';
  const settings = {
    listen_addresses: host,
    port: String(port),
    unix_socket_directories: dir,
    max_connections: '200',
    shared_buffers: '32MB',
    log_min_messages: 'warning',
    ...opts.settings,
  };
  let child: ChildProcess | undefined;
  let log = '';
  const adminPool = new Map<string, pg.Pool>();
  const pool = (db: string) => {
    let p = adminPool.get(db);
    if (!p) {
      p = new pg.Pool({ host, port, user, password, database: db, max: 2 });
      p.on('error', () => undefined); // a restart drops idle admin connections; the next query reconnects
      adminPool.set(db, p);
    }
    return p;
  };

  async function start(): Promise<void> {
    const args = ['-D', data, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
    const c = spawn(join(bin!, 'postgres'), args, { stdio: ['ignore', 'pipe', 'pipe'], ...asUser, cwd: dir });
    child = c;
    c.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    c.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    await waitForPostgres({ host, port, user, password }, () => {
      if (c.exitCode !== null) throw new Error(`postgres exited: ${log.slice(-1500)}`);
    });
  }

  async function stop(): Promise<void> {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGINT');
    const t = setTimeout(() => c.kill('SIGQUIT'), 10_000);
    await exited;
    clearTimeout(t);
  }

  try {
    await start();
  } catch (err) {
    await stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  let n = 0;
  return {
    host,
    port,
    user,
    password,
    passwordFile,
    url: (db = 'postgres') => `postgres://${user}@${host}:${port}/${db}`,
    async createDatabase(name = `t${process.pid}_${n++}_${randomBytes(3).toString('hex')}`) {
      await pool('postgres').query(`CREATE DATABASE "${name}"`);
      return `postgres://${user}@${host}:${port}/${name}`;
    },
    async query<T extends pg.QueryResultRow>(sql: string, params: unknown[] = [], db = 'postgres') {
      return (await pool(db).query<T>(sql, params)).rows;
    },
    pid: () => child?.pid,
    stop,
    start,
    log: () => log,
    async destroy() {
      for (const p of adminPool.values()) await p.end().catch(() => undefined);
      adminPool.clear();
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
