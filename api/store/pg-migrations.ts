// PostgreSQL schema migrations. Applied at start by every replica, so several starting at once must
// not race: the whole check-and-apply runs under a session advisory lock, each migration in its own
// transaction, and `sluice_schema` records which versions are applied. A database whose schema is
// newer than this binary is refused (an older replica must not write to a newer schema). Never edit a
// shipped migration: add the next one. The same data as SQLite's migrations.ts, in PostgreSQL's types;
// timestamps the API shows are kept as the ISO text it returns (as in SQLite), lease times are the
// database's own clock (timestamptz), so every replica judges expiry by one clock.
import type pg from 'pg';

/** pg_advisory_lock key: "sluice" + migrations, an arbitrary 64-bit constant owned by sluice. */
export const MIGRATION_LOCK_KEY = '7312873490013845761';

export const PG_MIGRATIONS: string[] = [
  // 1: everything SQLite has after its migration 2.
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
  INSERT INTO meta (key, value) VALUES ('change_seq', 0), ('weights_version', 0);

  CREATE TABLE load_balancers (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    spec TEXT NOT NULL,
    revision INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );

  CREATE TABLE origins (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    load_balancer_id TEXT NOT NULL REFERENCES load_balancers(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    revision INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (load_balancer_id, name)
  );

  CREATE TABLE edges (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    spec TEXT NOT NULL,
    revision INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );

  CREATE TABLE weights (
    load_balancer_id TEXT PRIMARY KEY REFERENCES load_balancers(id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    published_at TEXT NOT NULL,
    body TEXT NOT NULL
  );

  -- The audit log outlives what it describes: no foreign key.
  CREATE TABLE decisions (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    load_balancer_id TEXT NOT NULL,
    weights_version BIGINT,
    leader_epoch BIGINT,
    created_at TEXT NOT NULL,
    reason TEXT NOT NULL,
    body TEXT NOT NULL
  );
  CREATE INDEX decisions_by_lb ON decisions (load_balancer_id, id);
  CREATE INDEX decisions_by_age ON decisions (created_at);

  CREATE TABLE latency (
    seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    subnet TEXT NOT NULL,
    origin_id TEXT NOT NULL,
    rtt_ms DOUBLE PRECISION NOT NULL,
    samples INTEGER NOT NULL,
    last_updated TEXT NOT NULL,
    PRIMARY KEY (subnet, origin_id)
  );
  CREATE INDEX latency_by_origin ON latency (origin_id);
  CREATE INDEX latency_by_age ON latency (last_updated);

  CREATE TABLE origin_health (
    origin_id TEXT PRIMARY KEY REFERENCES origins(id) ON DELETE CASCADE,
    healthy BOOLEAN NOT NULL,
    since TEXT NOT NULL,
    detail TEXT NOT NULL
  );

  CREATE TABLE health_observations (
    origin_id TEXT NOT NULL REFERENCES origins(id) ON DELETE CASCADE,
    vantage TEXT NOT NULL,
    healthy BOOLEAN NOT NULL,
    observed_at TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (origin_id, vantage)
  );

  CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    acquired_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
  );
  `,
  // 2: health by quorum (issue 13), as SQLite's migration 3.
  `
  ALTER TABLE health_observations ADD COLUMN kind TEXT NOT NULL DEFAULT 'control_plane';
  ALTER TABLE health_observations ADD COLUMN edge_id TEXT REFERENCES edges(id) ON DELETE CASCADE;
  ALTER TABLE health_observations ADD COLUMN result TEXT NOT NULL DEFAULT '';
  ALTER TABLE health_observations ADD COLUMN latency_ms DOUBLE PRECISION;
  CREATE INDEX health_observations_by_age ON health_observations (observed_at);
  CREATE INDEX health_observations_by_edge ON health_observations (edge_id);
  ALTER TABLE origin_health ADD COLUMN reason TEXT NOT NULL DEFAULT 'set';
  ALTER TABLE origin_health ADD COLUMN votes TEXT NOT NULL DEFAULT '[]';

  CREATE TABLE origin_edge_health (
    origin_id TEXT NOT NULL REFERENCES origins(id) ON DELETE CASCADE,
    edge_id TEXT NOT NULL REFERENCES edges(id) ON DELETE CASCADE,
    healthy BOOLEAN NOT NULL,
    since TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (origin_id, edge_id)
  );
  CREATE INDEX origin_edge_health_by_edge ON origin_edge_health (edge_id);
  `,
  // 3: operator overrides (issue 17), as SQLite's migration 4.
  `
  CREATE TABLE overrides (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    load_balancer_id TEXT NOT NULL REFERENCES load_balancers(id) ON DELETE CASCADE,
    spec TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    cancelled_at TEXT,
    cancelled_by TEXT
  );
  CREATE INDEX overrides_by_lb ON overrides (load_balancer_id, seq);
`,
  // 4: weights as a base plus per-publish change rows, as SQLite's migration 5 (the body in
  // `weights_base`, the head in `weights`).
  `
  ALTER TABLE weights ADD COLUMN base_version BIGINT NOT NULL DEFAULT 0;
  ALTER TABLE weights ADD COLUMN base_published_at TEXT NOT NULL DEFAULT '';
  ALTER TABLE weights ADD COLUMN base_entries BIGINT NOT NULL DEFAULT 0;
  ALTER TABLE weights ADD COLUMN since_base BIGINT NOT NULL DEFAULT 0;
  ALTER TABLE weights ADD COLUMN change_rows INTEGER NOT NULL DEFAULT 0;
  UPDATE weights SET base_version = version, base_published_at = published_at,
    base_entries = (SELECT count(*) FROM json_object_keys(CASE WHEN json_typeof(body::json -> 'subnets') = 'object' THEN body::json -> 'subnets' END));

  CREATE TABLE weights_base (
    load_balancer_id TEXT PRIMARY KEY REFERENCES load_balancers(id) ON DELETE CASCADE,
    body TEXT NOT NULL
  );
  INSERT INTO weights_base (load_balancer_id, body) SELECT load_balancer_id, body FROM weights;
  ALTER TABLE weights DROP COLUMN body;

  CREATE TABLE weights_changes (
    load_balancer_id TEXT NOT NULL REFERENCES load_balancers(id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    published_at TEXT NOT NULL,
    prev_version BIGINT NOT NULL,
    prev_published_at TEXT NOT NULL,
    edges TEXT NOT NULL,
    subnets TEXT NOT NULL,
    deleted TEXT NOT NULL,
    PRIMARY KEY (load_balancer_id, version)
  );
`,
  // 5: each decision's capacity prices and the demand they priced, as SQLite's migration 6.
  `
  ALTER TABLE decisions ADD COLUMN capacity_prices TEXT;
  ALTER TABLE decisions ADD COLUMN priced_demand_rps DOUBLE PRECISION;
  CREATE INDEX decisions_priced_by_lb ON decisions (load_balancer_id, id) WHERE priced_demand_rps IS NOT NULL;
`,
];

export class SchemaTooNew extends Error {
  constructor(where: string, applied: number, known: number) {
    super(`${where} was written by a newer sluice (schema ${applied}, this one knows ${known}); refusing to open it. Upgrade this replica, or restore a backup taken before the upgrade.`);
    this.name = 'SchemaTooNew';
  }
}

/** Applies pending migrations under the advisory lock; returns the versions it applied. */
export async function migratePostgres(client: pg.Client, where: string, migrations: string[] = PG_MIGRATIONS): Promise<number[]> {
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS sluice_schema (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
    const applied = Number((await client.query<{ v: number | null }>('SELECT max(version) AS v FROM sluice_schema')).rows[0]!.v ?? 0);
    if (applied > migrations.length) throw new SchemaTooNew(where, applied, migrations.length);
    const done: number[] = [];
    for (let v = applied + 1; v <= migrations.length; v++) {
      await client.query('BEGIN');
      try {
        await client.query(migrations[v - 1]!);
        await client.query('INSERT INTO sluice_schema (version) VALUES ($1)', [v]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new Error(`${where}: migration ${v} failed: ${(err as Error).message}`);
      }
      done.push(v);
    }
    return done;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
  }
}
