// Schema migrations, applied in order inside one transaction each; PRAGMA user_version records how far
// a data dir has come. Never edit a shipped migration: add the next one.
export const MIGRATIONS: string[] = [
  // 1: the initial schema.
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
  INSERT INTO meta (key, value) VALUES ('change_seq', 0), ('weights_version', 0);

  CREATE TABLE load_balancers (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    spec TEXT NOT NULL,
    revision INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );

  CREATE TABLE origins (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
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
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL UNIQUE,
    spec TEXT NOT NULL,
    revision INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );

  CREATE TABLE weights (
    load_balancer_id TEXT PRIMARY KEY REFERENCES load_balancers(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    published_at TEXT NOT NULL,
    body TEXT NOT NULL
  );

  -- The audit log outlives what it describes: no foreign key.
  CREATE TABLE decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    load_balancer_id TEXT NOT NULL,
    weights_version INTEGER,
    created_at TEXT NOT NULL,
    reason TEXT NOT NULL,
    body TEXT NOT NULL
  );
  CREATE INDEX decisions_by_lb ON decisions (load_balancer_id, id);

  CREATE TABLE latency (
    subnet TEXT NOT NULL,
    origin_id TEXT NOT NULL,
    rtt_ms REAL NOT NULL,
    samples INTEGER NOT NULL,
    last_updated TEXT NOT NULL,
    PRIMARY KEY (subnet, origin_id)
  );
  CREATE INDEX latency_by_origin ON latency (origin_id);
  CREATE INDEX latency_by_age ON latency (last_updated);

  CREATE TABLE origin_health (
    origin_id TEXT PRIMARY KEY REFERENCES origins(id) ON DELETE CASCADE,
    healthy INTEGER NOT NULL,
    since TEXT NOT NULL,
    detail TEXT NOT NULL
  );

  CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at INTEGER NOT NULL
  );
  `,
  // 2: fenced scheduler leases (an epoch that survives release), the lease epoch on each decision, and
  // every replica's own health observations.
  `
  ALTER TABLE leases ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE leases ADD COLUMN acquired_at INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE decisions ADD COLUMN leader_epoch INTEGER;

  CREATE TABLE health_observations (
    origin_id TEXT NOT NULL REFERENCES origins(id) ON DELETE CASCADE,
    vantage TEXT NOT NULL,
    healthy INTEGER NOT NULL,
    observed_at TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (origin_id, vantage)
  );
`,
  // 3: health by quorum (issue 13): each observation says who reported (kind, the edge), its last raw
  // result and latency; a health decision keeps the reason and the votes behind it; edge-local
  // reachability decisions.
  `
  ALTER TABLE health_observations ADD COLUMN kind TEXT NOT NULL DEFAULT 'control_plane';
  ALTER TABLE health_observations ADD COLUMN edge_id TEXT REFERENCES edges(id) ON DELETE CASCADE;
  ALTER TABLE health_observations ADD COLUMN result TEXT NOT NULL DEFAULT '';
  ALTER TABLE health_observations ADD COLUMN latency_ms REAL;
  CREATE INDEX health_observations_by_age ON health_observations (observed_at);
  CREATE INDEX health_observations_by_edge ON health_observations (edge_id);
  ALTER TABLE origin_health ADD COLUMN reason TEXT NOT NULL DEFAULT 'set';
  ALTER TABLE origin_health ADD COLUMN votes TEXT NOT NULL DEFAULT '[]';

  CREATE TABLE origin_edge_health (
    origin_id TEXT NOT NULL REFERENCES origins(id) ON DELETE CASCADE,
    edge_id TEXT NOT NULL REFERENCES edges(id) ON DELETE CASCADE,
    healthy INTEGER NOT NULL,
    since TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (origin_id, edge_id)
  );
  CREATE INDEX origin_edge_health_by_edge ON origin_edge_health (edge_id);
`,
  // 4: operator overrides (issue 17): kept after cancellation or expiry, as the audit trail.
  `
  CREATE TABLE overrides (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
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
  // 5: weights as a base plus per-publish change rows (weights-chain.ts). `weights` becomes the
  // head (the latest version and time, the base's stamp and the chain's length) without the body: a
  // publish updates it, and SQLite rewrites a whole row on update (46 MB at 1M subnets). The body
  // moves to `weights_base`; every existing row is a base with no change rows.
  `
  ALTER TABLE weights ADD COLUMN base_version INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE weights ADD COLUMN base_published_at TEXT NOT NULL DEFAULT '';
  ALTER TABLE weights ADD COLUMN base_entries INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE weights ADD COLUMN since_base INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE weights ADD COLUMN change_rows INTEGER NOT NULL DEFAULT 0;
  UPDATE weights SET base_version = version, base_published_at = published_at,
    base_entries = (SELECT count(*) FROM json_each(weights.body, '$.subnets'));

  CREATE TABLE weights_base (
    load_balancer_id TEXT PRIMARY KEY REFERENCES load_balancers(id) ON DELETE CASCADE,
    body TEXT NOT NULL
  );
  INSERT INTO weights_base (load_balancer_id, body) SELECT load_balancer_id, body FROM weights;
  ALTER TABLE weights DROP COLUMN body;

  CREATE TABLE weights_changes (
    load_balancer_id TEXT NOT NULL REFERENCES load_balancers(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    published_at TEXT NOT NULL,
    prev_version INTEGER NOT NULL,
    prev_published_at TEXT NOT NULL,
    edges TEXT NOT NULL,
    subnets TEXT NOT NULL,
    deleted TEXT NOT NULL,
    PRIMARY KEY (load_balancer_id, version)
  );
`,
  // 6: each decision's capacity prices and the demand they priced, as columns of their own (not in the
  // body, megabytes at 1M subnets), and the index a new leader reads the latest priced decision of a
  // load balancer through (only priced rows: holds in between cost nothing).
  `
  ALTER TABLE decisions ADD COLUMN capacity_prices TEXT;
  ALTER TABLE decisions ADD COLUMN priced_demand_rps REAL;
  CREATE INDEX decisions_priced_by_lb ON decisions (load_balancer_id, id) WHERE priced_demand_rps IS NOT NULL;
`,
];
