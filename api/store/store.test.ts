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
import { storeContract } from './store.contract.ts';
import type { Store } from './store.ts';

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

storeContract('SQLite', {
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
});

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
  storeContract('PostgreSQL', {
    fresh: async () => open(await server.createDatabase()),
    peer: async (s) => open(urls.get(s)!),
    async openNewer(s) {
      const url = urls.get(s)!;
      await s.close();
      await server.query('INSERT INTO sluice_schema (version) VALUES (999)', [], new URL(url).pathname.slice(1));
      return open(url);
    },
  });
});

export type { PostgresStore };
