// The store contract (store.contract.ts) against both implementations, on real databases: a SQLite
// file in a temp dir, and a PostgreSQL server this file starts (test/helpers/postgres.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe } from 'vitest';
import { postgresUnavailable, startPostgres, type RunningPostgres } from '../../test/helpers/postgres.ts';
import { PostgresConfig } from './pg-connection.ts';
import { openPostgresStore, type PostgresStore } from './postgres.ts';
import { openSqliteStore, SqliteStore } from './sqlite.ts';
import { LB, ORIGIN, storeContract } from './store.contract.ts';
import type { Store } from './store.ts';
import { weightsChainContract, type WeightsHarness } from './weights-chain.contract.ts';
import { publishHintContract } from './publish-hint.contract.ts';
import { pricesContract } from './prices.contract.ts';
import { MIGRATIONS } from './migrations.ts';
import { PG_MIGRATIONS } from './pg-migrations.ts';

/** The rows of a load balancer with origins o1, o2 and weights `body` at version 1, in SQL both databases take. */
function legacyRows(body: string): string[] {
  const now = new Date().toISOString();
  const q = (x: unknown) => `'${JSON.stringify(x).replaceAll("'", "''")}'`;
  return [
    `INSERT INTO load_balancers (id, name, spec, revision, created_at, updated_at) VALUES ('lb_0000000000000001', 'app', ${q(LB)}, 1, '${now}', '${now}')`,
    ...['o1', 'o2'].map((o) => `INSERT INTO origins (id, load_balancer_id, name, spec, revision, created_at, updated_at) VALUES ('${o}', 'lb_0000000000000001', '${o}', ${q({ ...ORIGIN, name: o })}, 1, '${now}', '${now}')`),
    `INSERT INTO weights (load_balancer_id, version, published_at, body) VALUES ('lb_0000000000000001', 1, '${now}', '${body.replaceAll("'", "''")}')`,
    `UPDATE meta SET value = 1 WHERE key = 'weights_version'`,
    `INSERT INTO decisions (load_balancer_id, weights_version, leader_epoch, created_at, reason, body) VALUES ('lb_0000000000000001', 1, 3, '${now}', 'optimize', ${q({ detail: 'written before prices', objective: 1, inputs: {}, predicted_load_rps: {}, overload_rps: 0, diff: [] })})`,
  ];
}

const opened: Store[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close().catch(() => undefined);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function track<T extends Store>(s: T): T {
  opened.push(s);
  return s;
}

const sqliteHarness: WeightsHarness = {
  async fresh() {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-store-'));
    dirs.push(dir);
    return track(openSqliteStore(dir));
  },
  async peer(s) {
    return track(new SqliteStore((s as SqliteStore).path));
  },
  async openNewer(s) {
    const path = (s as SqliteStore).path;
    await s.close();
    const raw = new Database(path);
    raw.pragma('user_version = 999');
    raw.close();
    return new Promise((resolve, reject) => {
      try {
        resolve(track(new SqliteStore(path)));
      } catch (err) {
        reject(err);
      }
    });
  },
  async sql<T>(s: Store, text: string) {
    const raw = new Database((s as SqliteStore).path, { timeout: 5000 });
    try {
      const stmt = raw.prepare(text);
      return (stmt.reader ? stmt.all() : (stmt.run(), [])) as T[];
    } finally {
      raw.close();
    }
  },
  reads: (s) => (s as SqliteStore).weightsReads,
  hints: (s) => (s as SqliteStore).weightsWork.hints,
  async legacy(body) {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-store-'));
    dirs.push(dir);
    const raw = new Database(join(dir, 'sluice.db'));
    raw.pragma('journal_mode = WAL');
    for (const m of MIGRATIONS.slice(0, 4)) raw.exec(m);
    raw.pragma('user_version = 4');
    for (const sql of legacyRows(body)) raw.exec(sql);
    raw.close();
    return { store: track(openSqliteStore(dir)), lbId: 'lb_0000000000000001', origins: ['o1', 'o2'] };
  },
};
storeContract('SQLite', sqliteHarness);
weightsChainContract('SQLite', sqliteHarness);
publishHintContract('SQLite', sqliteHarness);
pricesContract('SQLite', sqliteHarness, 'sqlite');

const pgSkip = postgresUnavailable();
describe.skipIf(pgSkip)('PostgreSQL', () => {
  let server: RunningPostgres;
  const urls = new Map<Store, string>();
  beforeAll(async () => {
    server = await startPostgres();
  }, 60_000);
  afterAll(async () => {
    await server?.destroy();
  });
  const log = pino({ level: 'silent' });
  const open = async (url: string) => {
    const store = track(await openPostgresStore({ config: PostgresConfig.parse({ url, password_file: server.passwordFile, change_poll: '1s' }), replica: 'test', log }));
    urls.set(store, url);
    return store;
  };
  const dbOf = (s: Store) => new URL(urls.get(s)!).pathname.slice(1);
  const pgHarness: WeightsHarness = {
    fresh: async () => open(await server.createDatabase()),
    peer: async (s) => open(urls.get(s)!),
    async openNewer(s) {
      const url = urls.get(s)!;
      await s.close();
      await server.query('INSERT INTO sluice_schema (version) VALUES (999)', [], new URL(url).pathname.slice(1));
      return open(url);
    },
    sql: async <T>(s: Store, text: string) => (await server.query(text, [], dbOf(s))) as T[],
    reads: (s) => (s as PostgresStore).weightsReads,
    hints: (s) => (s as PostgresStore).weightsWork.hints,
    async legacy(body) {
      const url = await server.createDatabase();
      const db = new URL(url).pathname.slice(1);
      await server.query(`CREATE TABLE IF NOT EXISTS sluice_schema (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`, [], db);
      for (const [i, m] of PG_MIGRATIONS.slice(0, 3).entries()) {
        await server.query(m, [], db);
        await server.query(`INSERT INTO sluice_schema (version) VALUES (${i + 1})`, [], db);
      }
      for (const sql of legacyRows(body)) await server.query(sql, [], db);
      return { store: await open(url), lbId: 'lb_0000000000000001', origins: ['o1', 'o2'] };
    },
  };
  storeContract('PostgreSQL', pgHarness);
  weightsChainContract('PostgreSQL', pgHarness);
  publishHintContract('PostgreSQL', pgHarness);
  pricesContract('PostgreSQL', pgHarness, 'postgres');
});

export type { PostgresStore };
