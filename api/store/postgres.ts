// The store of several control-plane replicas: one PostgreSQL database, any number of replicas, each
// serving the whole API. Same contract as the SQLite store (store.contract.ts runs against both):
// - every write is one transaction (READ COMMITTED; retried on a serialization failure or deadlock);
//   each that can change a long-polled view (resources, published weights, health transitions) bumps
//   meta.change_seq and NOTIFYs it, so long-polls on every replica wake (pg-changes.ts); decisions,
//   latency rows and leases do not, as in SQLite;
// - weights versions come from one counter row updated inside the publishing transaction: its row
//   lock orders publishers, so versions are strictly increasing and gap-free in commit order;
// - leases and fencing use the database's clock (clock_timestamp()), never a replica's: a fenced
//   write takes the lease row FOR SHARE and checks holder, epoch and expiry first, so a takeover
//   (which must UPDATE that row) waits for the write to commit, or the write sees the takeover and
//   is refused — there is no moment where both the old and the new leader can write;
// - a session stuck inside a transaction (a paused replica) is ended by the server after
//   idle_in_transaction_timeout, so it cannot hold the lease row or a counter row for long.
import pg from 'pg';
import { runPaced } from '../../lib/steps.ts';
import type { Decision, DecisionInput, Edge, EdgeOriginHealth, LatencyEntry, LoadBalancer, LoadBalancerSpec, LoadBalancerWeights, Origin, OriginHealth, OriginSpec, Override, OverrideSpec, WeightsInput } from '../../model/index.ts';
import { LeaseLost, type Fence, type LeaseGrant, type WeightsChangeHint, type WeightsHead, type StoredPrices } from '../../scheduler/loop/store.ts';
import { CHANGE_CHANNEL, PgChangeFeed } from './pg-changes.ts';
import { pgConnection, type PgConnection, type PostgresConfig } from './pg-connection.ts';
import { migratePostgres, PG_MIGRATIONS } from './pg-migrations.ts';
import { PgResourceTable } from './pg-resource-table.ts';
import { OwnWeightsMemo, weightsWork, type WeightsWork } from './own-weights.ts';
import { BaseNeeded, CHANGE_COLUMNS, finishReads, HEAD_COLUMNS, HeldWeightsCache, loadBalancerWeights, planRead, refuseChange, type ChainHead, type ChangeRow, type ChangeToWrite, type PendingRead, type WeightsReads } from './weights-chain.ts';
import { assertKnownOrigins, checkLatency, DECISION_COLUMNS, DECISION_INSERT, decisionValues, LATEST_PRICES_SQL, storedPricesFromRow, checkObservation, decisionFromRow, decisionRow, insertedDecision, edgeHealthFromRow, healthDecisionRecord, originHealthFromRow, namedSteps, type DecisionRow, type PreparedWeights, type PreparedDecisionRow } from './records.ts';
import { activeAt, overrideAudit, overrideFromRow, type OverrideRow } from './override-rows.ts';
import { decodeCursor, encodeCursor, newId, type ResourceRow } from './resource-table.ts';
import { StoreError, type DecisionFilter, type EdgeSpec, type HealthDecisionInput, type HealthObservation, type LatencyFilter, type LeaseState, type Page, type PageRequest, type Store, type StoreSnapshot } from './store.ts';

type Q = pg.ClientBase;

/** BIGINT columns come back as numbers (versions, seqs and ids stay far below 2^53). */
const TYPES = {
  getTypeParser: ((oid: number, format?: string) => (oid === 20 ? Number : pg.types.getTypeParser(oid, format as 'text'))) as typeof pg.types.getTypeParser,
};

/** Thrown inside a publish when the origin names standing in for reused maps include an unknown one: the caller names exactly. */
class NamedInexact extends Error {}

/** SQLSTATEs worth retrying the whole transaction for. */
const RETRYABLE = new Set(['40001', '40P01']);

export interface PgStoreOptions {
  config: PostgresConfig;
  /** Shown in pg_stat_activity as application_name. */
  replica: string;
  log: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

/** Connects, migrates (under the advisory lock) and starts the change feed. */
export async function openPostgresStore(o: PgStoreOptions): Promise<PostgresStore> {
  const conn = pgConnection(o.config, `sluice ${o.replica}`);
  const store = new PostgresStore(conn, o);
  try {
    await store.init();
  } catch (err) {
    await store.close().catch(() => undefined);
    throw new Error(`PostgreSQL ${conn.display}: ${conn.redact((err as Error).message)}`);
  }
  return store;
}

/** `sluice control-plane --migrate-only`: applies pending migrations and returns what it did. */
export async function migrateOnly(config: PostgresConfig, replica: string): Promise<{ applied: number[]; version: number; display: string }> {
  const conn = pgConnection(config, `sluice ${replica} migrate`);
  const client = new pg.Client({ ...conn.options, types: TYPES });
  try {
    await client.connect();
    const applied = await migratePostgres(client, conn.display);
    return { applied, version: PG_MIGRATIONS.length, display: conn.display };
  } catch (err) {
    throw new Error(`PostgreSQL ${conn.display}: ${conn.redact((err as Error).message)}`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export class PostgresStore implements Store {
  private readonly pool: pg.Pool;
  private readonly listeners = new Set<() => void>();
  private feed: PgChangeFeed | undefined;
  private readonly lbs: PgResourceTable<LoadBalancerSpec, LoadBalancer>;
  private readonly origins: PgResourceTable<OriginSpec, Origin>;
  private readonly edges: PgResourceTable<EdgeSpec, Edge>;
  private closed = false;
  /** The weights this process published, handed to readWorld's callers instead of the body (own-weights.ts). */
  private readonly own: OwnWeightsMemo;
  /** The weights readWorld handed out last, per load balancer: where its next read starts (weights-chain.ts). */
  private readonly held: HeldWeightsCache;

  constructor(
    private readonly conn: PgConnection,
    private readonly o: PgStoreOptions,
  ) {
    this.pool = new pg.Pool({ ...conn.options, types: TYPES });
    this.own = new OwnWeightsMemo((lbId, why) => o.log.warn({ load_balancer: lbId, why }, 'weights: a publish\'s change hint did not hold up; checked in full'));
    this.held = new HeldWeightsCache((lbId, why) => o.log.warn({ load_balancer: lbId, why }, 'weights: reading in full, the change rows do not lead from the weights held'));
    // An idle pooled connection dropped by the server (restart): the pool replaces it on next use.
    this.pool.on('error', (err) => o.log.warn({ err: conn.redact(err.message) }, 'postgres: an idle connection failed; it will be replaced'));
    const meta = (row: ResourceRow) => ({ id: row.id, revision: row.revision, created_at: row.created_at, updated_at: row.updated_at });
    this.lbs = new PgResourceTable({ table: 'load_balancers', idPrefix: 'lb', noun: 'load balancer' }, (row, spec) => ({ ...spec, ...meta(row) }));
    this.origins = new PgResourceTable({ table: 'origins', idPrefix: 'or', noun: 'origin', parentColumn: 'load_balancer_id' }, (row, spec) => ({ ...spec, ...meta(row), load_balancer_id: row.parent! }));
    this.edges = new PgResourceTable({ table: 'edges', idPrefix: 'ed', noun: 'edge' }, (row, spec) => ({ ...spec, ...meta(row) }));
  }

  /** Where this store points, without the password. */
  get display(): string {
    return this.conn.display;
  }

  /** True while the LISTEN connection is up. */
  get listening(): boolean {
    return this.feed?.listening ?? false;
  }

  /** Migrates (under the advisory lock; refuses a newer schema), then starts the change feed. */
  async init(): Promise<void> {
    const client = new pg.Client({ ...this.conn.options, types: TYPES });
    try {
      await client.connect();
      await migratePostgres(client, this.conn.display);
    } finally {
      await client.end().catch(() => undefined);
    }
    this.feed = new PgChangeFeed({
      connect: () => new pg.Client({ ...this.conn.options, types: TYPES, statement_timeout: 0 }),
      readSeq: () => this.changeSeq(),
      pollMs: this.o.config.change_poll,
      onChange: () => {
        for (const l of this.listeners) l();
      },
      log: this.o.log,
      redact: this.conn.redact,
    });
    await this.feed.start();
  }

  // ---- plumbing ----

  /**
   * A pooled connection with an 'error' listener while checked out: a connection dropped between two
   * statements (a database restart) emits 'error' on the client, which would otherwise crash the
   * process; the statement in flight rejects on its own and the pool discards the dead client.
   */
  private async checkout(): Promise<pg.PoolClient & { done(broken?: Error): void }> {
    const c = await this.pool.connect();
    const onError = (err: Error) => this.o.log.warn({ err: this.conn.redact(err.message) }, 'postgres: a connection in use failed');
    c.on('error', onError);
    return Object.assign(c, {
      done(broken?: Error) {
        c.off('error', onError);
        c.release(broken);
      },
    });
  }

  private async tx<T>(fn: (c: Q) => Promise<T>, begin = 'BEGIN'): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const c = await this.checkout();
      let broken: Error | undefined;
      try {
        await c.query(begin);
        const out = await fn(c);
        await c.query('COMMIT');
        return out;
      } catch (err) {
        // A failed COMMIT over a dropped connection is ambiguous; the caller was not told it succeeded.
        // A connection that cannot even roll back is discarded (the pool also drops unqueryable ones).
        await c.query('ROLLBACK').catch((e: Error) => (broken = e));
        const code = (err as { code?: string }).code;
        if (code && RETRYABLE.has(code) && attempt < 4) continue;
        throw err;
      } finally {
        c.done(broken);
      }
    }
  }

  private async read<T>(fn: (c: Q) => Promise<T>): Promise<T> {
    const c = await this.checkout();
    try {
      return await fn(c);
    } finally {
      c.done();
    }
  }

  /** Last statement of every transaction that changes what long-pollers see. */
  private async bumpChangeSeq(c: Q): Promise<void> {
    const seq = (await c.query<{ value: number }>(`UPDATE meta SET value = value + 1 WHERE key = 'change_seq' RETURNING value`)).rows[0]!.value;
    await c.query(`SELECT pg_notify('${CHANGE_CHANNEL}', $1)`, [String(seq)]);
  }

  /** First statement of a fenced write: see the header. */
  private async checkFence(c: Q, fence: Fence | undefined): Promise<void> {
    if (!fence) return;
    const { rows } = await c.query<{ holder: string; epoch: number; expires_at: Date; live: boolean }>(
      `SELECT holder, epoch, expires_at, expires_at > clock_timestamp() AS live FROM leases WHERE name = $1 FOR SHARE`,
      [fence.name],
    );
    const row = rows[0];
    if (!row) throw new LeaseLost(fence, 'no such lease');
    if (row.epoch !== fence.epoch || row.holder !== fence.holder) throw new LeaseLost(fence, `the lease is at epoch ${row.epoch}, held by ${row.holder}`);
    if (!row.live) throw new LeaseLost(fence, `it expired at ${row.expires_at.toISOString()}`);
  }

  private write<T>(fn: (c: Q) => Promise<T>, opts: { bump?: boolean; fence?: Fence } = {}): Promise<T> {
    return this.tx(async (c) => {
      await this.checkFence(c, opts.fence);
      const out = await fn(c);
      if (opts.bump ?? true) await this.bumpChangeSeq(c);
      return out;
    });
  }

  // ---- load balancers, origins, edges ----

  createLoadBalancer(spec: LoadBalancerSpec) { return this.write((c) => this.lbs.create(c, spec)); }
  getLoadBalancer(id: string) { return this.read((c) => this.lbs.get(c, id)); }
  listLoadBalancers(page: PageRequest) { return this.read((c) => this.lbs.list(c, page)); }
  replaceLoadBalancer(id: string, spec: LoadBalancerSpec, ifRevision?: number) { return this.write((c) => this.lbs.replace(c, id, spec, ifRevision)); }
  deleteLoadBalancer(id: string, ifRevision?: number) { return this.write((c) => this.lbs.delete(c, id, ifRevision)); }
  allLoadBalancers() { return this.read((c) => this.lbs.all(c)); }

  createOrigin(lbId: string, spec: OriginSpec) {
    return this.write(async (c) => {
      await this.lbs.get(c, lbId);
      return this.origins.create(c, spec, lbId);
    });
  }
  getOrigin(lbId: string, id: string) { return this.read((c) => this.origins.get(c, id, lbId)); }
  listOrigins(lbId: string, page: PageRequest) {
    return this.read(async (c) => {
      await this.lbs.get(c, lbId);
      return this.origins.list(c, page, lbId);
    });
  }
  replaceOrigin(lbId: string, id: string, spec: OriginSpec, ifRevision?: number) { return this.write((c) => this.origins.replace(c, id, spec, ifRevision, lbId)); }
  deleteOrigin(lbId: string, id: string, ifRevision?: number) { return this.write((c) => this.origins.delete(c, id, ifRevision, lbId)); }
  allOrigins(lbId?: string) { return this.read((c) => this.origins.all(c, lbId)); }

  createEdge(spec: EdgeSpec) { return this.write((c) => this.edges.create(c, spec)); }
  getEdge(id: string) { return this.read((c) => this.edges.get(c, id)); }
  listEdges(page: PageRequest) { return this.read((c) => this.edges.list(c, page)); }
  replaceEdge(id: string, spec: EdgeSpec, ifRevision?: number) { return this.write((c) => this.edges.replace(c, id, spec, ifRevision)); }
  deleteEdge(id: string, ifRevision?: number) { return this.write((c) => this.edges.delete(c, id, ifRevision)); }
  allEdges() { return this.read((c) => this.edges.all(c)); }

  // ---- operator overrides ----

  private async overrideRows(c: Q, lbId: string, where = '', args: unknown[] = []): Promise<OverrideRow[]> {
    const { rows } = await c.query<OverrideRow>(
      `SELECT id, load_balancer_id, spec, created_at, created_by, cancelled_at, cancelled_by FROM overrides WHERE load_balancer_id = $1 ${where} ORDER BY seq`,
      [lbId, ...args],
    );
    return rows;
  }

  createOverride(lbId: string, spec: OverrideSpec, by: string, check: (active: Override[]) => void): Promise<Override> {
    return this.write(
      async (c) => {
        // The load balancer's row lock serialises override writes of one load balancer across replicas.
        const { rowCount } = await c.query(`SELECT 1 FROM load_balancers WHERE id = $1 FOR UPDATE`, [lbId]);
        if (!rowCount) throw new StoreError('not_found', `no load balancer with id ${lbId}`, 'id');
        check(activeAt(await this.overrideRows(c, lbId, 'AND cancelled_at IS NULL'), Date.now()));
        const row: OverrideRow = { id: newId('ov'), load_balancer_id: lbId, spec: JSON.stringify(spec), created_at: new Date().toISOString(), created_by: by, cancelled_at: null, cancelled_by: null };
        await c.query(`INSERT INTO overrides (id, load_balancer_id, spec, created_at, created_by) VALUES ($1, $2, $3, $4, $5)`, [row.id, row.load_balancer_id, row.spec, row.created_at, row.created_by]);
        const created = overrideFromRow(row, Date.now());
        await this.insertDecision(c, overrideAudit(created, 'created'), null, undefined);
        return created;
      },
      { bump: false },
    );
  }

  getOverride(lbId: string, id: string): Promise<Override> {
    return this.read(async (c) => {
      const row = (await this.overrideRows(c, lbId, 'AND id = $2', [id]))[0];
      if (!row) throw new StoreError('not_found', `no override with id ${id} in load balancer ${lbId}`, 'id');
      return overrideFromRow(row, Date.now());
    });
  }

  listOverrides(lbId: string, page: PageRequest): Promise<Page<Override>> {
    return this.read(async (c) => {
      await this.lbs.get(c, lbId);
      const after = decodeCursor(page.cursor);
      const { rows } = await c.query<OverrideRow & { seq: string }>(
        `SELECT seq, id, load_balancer_id, spec, created_at, created_by, cancelled_at, cancelled_by FROM overrides WHERE load_balancer_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
        [lbId, after, page.limit + 1],
      );
      const items = rows.slice(0, page.limit);
      return { items: items.map((r) => overrideFromRow(r, Date.now())), next_cursor: rows.length > page.limit ? encodeCursor(Number(items[items.length - 1]!.seq)) : null };
    });
  }

  cancelOverride(lbId: string, id: string, by: string): Promise<Override> {
    return this.write(
      async (c) => {
        await c.query(`SELECT 1 FROM load_balancers WHERE id = $1 FOR UPDATE`, [lbId]);
        const row = (await this.overrideRows(c, lbId, 'AND id = $2', [id]))[0];
        if (!row) throw new StoreError('not_found', `no override with id ${id} in load balancer ${lbId}`, 'id');
        const now = Date.now();
        const before = overrideFromRow(row, now);
        if (before.state !== 'active') throw new StoreError('conflict', `override ${id} is already ${before.state}`, 'id');
        const cancelled = { ...row, cancelled_at: new Date(now).toISOString(), cancelled_by: by };
        await c.query(`UPDATE overrides SET cancelled_at = $1, cancelled_by = $2 WHERE id = $3`, [cancelled.cancelled_at, by, id]);
        const out = overrideFromRow(cancelled, now);
        await this.insertDecision(c, overrideAudit(out, 'cancelled'), null, undefined);
        return out;
      },
      { bump: false },
    );
  }

  activeOverrides(lbId: string): Promise<Override[]> {
    return this.read(async (c) => activeAt(await this.overrideRows(c, lbId, 'AND cancelled_at IS NULL'), Date.now()));
  }

  // ---- scheduler's write side ----

  async publishWeights(lbId: string, weights: WeightsInput, decision: DecisionInput, fence?: Fence, changed?: WeightsChangeHint): Promise<{ version: number; decision: Decision; weights: LoadBalancerWeights }> {
    // Checked and serialised before the transaction, in steps (as the SQLite store: records.ts); inside
    // it the fence, the origins as they are now (a few ids), the weights (a change row against this
    // process's last publish when the head is still that one, else a base: weights-chain.ts) and the
    // decision. A refused change row rolls back and the publish runs again with the body.
    const start = this.own.start(lbId, this.held.latest(lbId), await this.weightsHead(lbId));
    const { ready, prepared, entries, change, body } = await this.own.plan(lbId, weights, decision, fence, start, changed);
    let write: { change: ChangeToWrite } | { body: string } = change ? { change } : { body: await body() };
    let out;
    // At most twice more, each time with nothing written: a refused change row goes again as a base;
    // names that stood in for reused maps naming an origin the load balancer no longer has go again
    // named exactly (records.ts PreparedWeights).
    for (let again = 0; ; again++) {
      try {
        out = await this.publishTx(lbId, ready, prepared, fence, write, entries);
        break;
      } catch (err) {
        if (again === 2) throw err;
        if (err instanceof BaseNeeded && 'change' in write) write = { body: await body() };
        else if (err instanceof NamedInexact) {
          ready.named = await runPaced(namedSteps(ready.parsed));
          ready.namedExact = true;
        } else throw err;
      }
    }
    this.own.remember(lbId, out.version, out.weights.published_at, ready, out.chain, this.held.latest(lbId)?.subnets);
    const { chain: _chain, ...result } = out;
    return result;
  }

  private publishTx(lbId: string, ready: PreparedWeights, prepared: PreparedDecisionRow, fence: Fence | undefined, write: { change: ChangeToWrite } | { body: string }, entries: number) {
    const { parsed } = ready;
    return this.write(
      async (c) => {
        await this.lbs.get(c, lbId);
        const known = new Set((await this.origins.all(c, lbId)).map((o) => o.id));
        if (!ready.namedExact && ![...ready.named].every((id) => known.has(id))) throw new NamedInexact();
        assertKnownOrigins(lbId, known, parsed, ready.named);
        // The version counter's row first: every weights write takes it, so the head read next is the
        // one this commits on (a lock on the head row taken first deadlocked with a first publish,
        // which finds no row to lock, holding the counter).
        const version = (await c.query<{ value: number }>(`UPDATE meta SET value = value + 1 WHERE key = 'weights_version' RETURNING value`)).rows[0]!.value;
        const head = (await c.query<ChainHead>(`SELECT ${HEAD_COLUMNS} FROM weights WHERE load_balancer_id = $1`, [lbId])).rows[0];
        if ('change' in write) {
          const refused = refuseChange(head, write.change);
          if (refused !== null) throw new BaseNeeded(refused);
        }
        const publishedAt = new Date().toISOString();
        let chain;
        if ('change' in write) {
          const ch = write.change;
          await c.query(`INSERT INTO weights_changes (load_balancer_id, ${CHANGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, [lbId, version, publishedAt, head!.version, head!.published_at, ch.edges, ch.subnets, ch.deleted]);
          chain = { base_entries: Number(head!.base_entries), since_base: Number(head!.since_base) + ch.entries, change_rows: Number(head!.change_rows) + 1 };
          await c.query(`UPDATE weights SET version = $1, published_at = $2, since_base = $3, change_rows = $4 WHERE load_balancer_id = $5`, [version, publishedAt, chain.since_base, chain.change_rows, lbId]);
        } else {
          await c.query(
            `INSERT INTO weights (load_balancer_id, version, published_at, base_version, base_published_at, base_entries, since_base, change_rows) VALUES ($1, $2, $3, $2, $3, $4, 0, 0)
             ON CONFLICT (load_balancer_id) DO UPDATE SET version = excluded.version, published_at = excluded.published_at,
               base_version = excluded.base_version, base_published_at = excluded.base_published_at, base_entries = excluded.base_entries, since_base = 0, change_rows = 0`,
            [lbId, version, publishedAt, entries],
          );
          await c.query(`INSERT INTO weights_base (load_balancer_id, body) VALUES ($1, $2) ON CONFLICT (load_balancer_id) DO UPDATE SET body = excluded.body`, [lbId, write.body]);
          await c.query(`DELETE FROM weights_changes WHERE load_balancer_id = $1`, [lbId]);
          chain = { base_entries: entries, since_base: 0, change_rows: 0 };
        }
        const recorded = await this.insertRow(c, { ...prepared, weights_version: version, recorded: { ...prepared.recorded, weights_version: version } });
        return { version, decision: recorded, weights: { load_balancer_id: lbId, version, published_at: publishedAt, edges: parsed.edges, subnets: parsed.subnets }, chain };
      },
      { fence },
    );
  }

  /** How publishes used their change hints and reads their idle copies (own-weights.ts weightsWork). */
  get weightsWork(): WeightsWork {
    return weightsWork(this.own, this.held.spares);
  }

  /** How this store's readers fared: incremental reads, full reads, fallbacks (weights-chain.ts). */
  get weightsReads(): WeightsReads {
    return { ...this.held.reads };
  }

  recordDecision(decision: DecisionInput, fence?: Fence): Promise<Decision> {
    // The audit log is in no long-polled view: a cycle that only explains itself wakes nobody.
    return this.write((c) => this.insertDecision(c, decision, null, fence), { fence, bump: false });
  }

  private insertDecision(c: Q, input: DecisionInput, weightsVersion: number | null, fence: Fence | undefined): Promise<Decision> {
    return this.insertRow(c, decisionRow(input, weightsVersion, fence, new Date().toISOString()));
  }

  private async insertRow(c: Q, row: PreparedDecisionRow): Promise<Decision> {
    const { rows } = await c.query<{ id: number }>(
      `${DECISION_INSERT} VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
      decisionValues(row),
    );
    return insertedDecision(rows[0]!.id, row);
  }

  async getWeights(lbId: string): Promise<LoadBalancerWeights | null> {
    // As readWorld reads each load balancer's (weights-chain.ts), and held after: a new leader's first
    // publish (the scheduler reads the weights in force with this) can then be a change row against them.
    const pending = await this.tx((c) => this.pendingReads(c, [lbId]), 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    return pending.length > 0 ? loadBalancerWeights((await finishReads(this.held, pending))[0]!) : null;
  }

  weightsHead(lbId: string): Promise<WeightsHead | null> {
    return this.read(async (c) => (await c.query<WeightsHead>(`SELECT version, published_at FROM weights WHERE load_balancer_id = $1`, [lbId])).rows[0] ?? null);
  }

  /** The change rows of `lbId` after version `after`, oldest first. */
  private async changeRows(c: Q, lbId: string, after: number): Promise<ChangeRow[]> {
    return (await c.query<ChangeRow>(`SELECT ${CHANGE_COLUMNS} FROM weights_changes WHERE load_balancer_id = $1 AND version > $2 ORDER BY version`, [lbId, after])).rows;
  }

  /**
   * Inside a read transaction (readWorld's, getWeights'): per load balancer, this process's own publish as published, or
   * what this store handed out before plus the change rows since, or the base and its change rows
   * (weights-chain.ts); parsed after the transaction.
   */
  private async pendingReads(c: Q, lbIds: string[]): Promise<PendingRead[]> {
    const { rows } = await c.query<ChainHead & { load_balancer_id: string }>(`SELECT load_balancer_id, ${HEAD_COLUMNS} FROM weights WHERE load_balancer_id = ANY($1)`, [lbIds]);
    const heads = new Map(rows.map((r) => [r.load_balancer_id, r]));
    const pending: PendingRead[] = [];
    for (const id of lbIds) {
      const head = heads.get(id);
      if (!head) continue;
      const plan = planRead(this.held, this.own.of(id, head.version, head.published_at), id, head);
      let step = plan.next();
      while (!step.done) {
        const got = 'body' in step.value ? (await c.query<{ body: string }>(`SELECT body FROM weights_base WHERE load_balancer_id = $1`, [id])).rows[0]!.body : await this.changeRows(c, id, step.value.rowsAfter);
        step = plan.next(got);
      }
      pending.push(step.value);
    }
    return pending;
  }

  listDecisions(filter: DecisionFilter): Promise<Page<Decision>> {
    return this.read(async (c) => {
      const before = filter.cursor ? decodeCursor(filter.cursor) : Number.MAX_SAFE_INTEGER;
      const byLb = filter.load_balancer_id !== undefined;
      const { rows } = await c.query<DecisionRow & { id: number }>(
        `SELECT ${DECISION_COLUMNS} FROM decisions WHERE id < $1${byLb ? ' AND load_balancer_id = $3' : ''} ORDER BY id DESC LIMIT $2`,
        byLb ? [before, filter.limit + 1, filter.load_balancer_id] : [before, filter.limit + 1],
      );
      const more = rows.length > filter.limit;
      const items = rows.slice(0, filter.limit).map((r) => decisionFromRow(r.id, r));
      return { items, next_cursor: more ? encodeCursor(items[items.length - 1]!.id) : null };
    });
  }

  pruneDecisions(before: string): Promise<number> {
    // Not a change anyone long-polls for: no change_seq bump.
    return this.write(async (c) => (await c.query(`DELETE FROM decisions WHERE created_at < $1`, [before])).rowCount ?? 0, { bump: false });
  }

  latestPrices(lbId: string): Promise<StoredPrices | null> {
    return this.read(async (c) => {
      const row = (await c.query<Parameters<typeof storedPricesFromRow>[0]>(LATEST_PRICES_SQL('$1'), [lbId])).rows[0];
      return row ? storedPricesFromRow(row) : null;
    });
  }

  upsertLatency(entries: LatencyEntry[], fence?: Fence): Promise<void> {
    return this.write(
      async (c) => {
        checkLatency(entries);
        // One statement per 1000 rows: unnest keeps the parameter count at five.
        for (let i = 0; i < entries.length; i += 1000) {
          const chunk = entries.slice(i, i + 1000);
          await c.query(
            `INSERT INTO latency (subnet, origin_id, rtt_ms, samples, last_updated)
             SELECT * FROM unnest($1::text[], $2::text[], $3::float8[], $4::int[], $5::text[])
             ON CONFLICT (subnet, origin_id) DO UPDATE SET rtt_ms = excluded.rtt_ms, samples = excluded.samples, last_updated = excluded.last_updated`,
            [chunk.map((e) => e.subnet), chunk.map((e) => e.origin_id), chunk.map((e) => e.rtt_ms), chunk.map((e) => e.samples), chunk.map((e) => e.last_updated)],
          );
        }
      },
      // Latency reaches DNS and edges only through published weights: no change_seq bump.
      { fence, bump: false },
    );
  }

  expireLatency(before: string): Promise<number> {
    return this.write(async (c) => (await c.query(`DELETE FROM latency WHERE last_updated < $1`, [before])).rowCount ?? 0, { bump: false });
  }

  listLatency(filter: LatencyFilter): Promise<Page<LatencyEntry>> {
    return this.read(async (c) => {
      const args: unknown[] = [decodeCursor(filter.cursor), filter.limit + 1];
      const where = ['seq > $1'];
      if (filter.subnet) where.push(`subnet = $${args.push(filter.subnet)}`);
      if (filter.origin_id) where.push(`origin_id = $${args.push(filter.origin_id)}`);
      const { rows } = await c.query<LatencyEntry & { seq: number }>(`SELECT seq, subnet, origin_id, rtt_ms, samples, last_updated FROM latency WHERE ${where.join(' AND ')} ORDER BY seq LIMIT $2`, args);
      const more = rows.length > filter.limit;
      const page = rows.slice(0, filter.limit);
      return { items: page.map(({ seq: _seq, ...e }) => e), next_cursor: more ? encodeCursor(page[page.length - 1]!.seq) : null };
    });
  }

  // ---- health ----

  setOriginHealth(originId: string, healthy: boolean, detail: string): Promise<OriginHealth> {
    return this.tx(async (c) => (await this.upsertOriginHealth(c, { origin_id: originId, healthy, detail, reason: 'set', votes: [] })).health);
  }

  /** Upserts the effective health; `since` moves and change_seq is bumped only on a transition (or a first row). */
  private async upsertOriginHealth(c: Q, h: Omit<OriginHealth, 'since'>): Promise<{ health: OriginHealth; changed: boolean }> {
    const prev = (await c.query<{ healthy: boolean; since: string }>(`SELECT healthy, since FROM origin_health WHERE origin_id = $1 FOR UPDATE`, [h.origin_id])).rows[0];
    const changed = !prev || prev.healthy !== h.healthy;
    const since = changed ? new Date().toISOString() : prev.since;
    try {
      await c.query(
        `INSERT INTO origin_health (origin_id, healthy, since, detail, reason, votes) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (origin_id) DO UPDATE SET healthy = excluded.healthy, since = excluded.since, detail = excluded.detail, reason = excluded.reason, votes = excluded.votes`,
        [h.origin_id, h.healthy, since, h.detail, h.reason, JSON.stringify(h.votes)],
      );
    } catch (err) {
      if ((err as { code?: string }).code === '23503') throw new StoreError('not_found', `no origin with id ${h.origin_id}`, 'origin_id');
      throw err;
    }
    if (changed) await this.bumpChangeSeq(c);
    return { health: { ...h, since }, changed };
  }

  listOriginHealth(): Promise<OriginHealth[]> {
    return this.read((c) => this.healthRows(c));
  }

  private async healthRows(c: Q): Promise<OriginHealth[]> {
    return (await c.query<Parameters<typeof originHealthFromRow>[0]>(`SELECT origin_id, healthy, since, detail, reason, votes FROM origin_health ORDER BY origin_id`)).rows.map(originHealthFromRow);
  }

  listEdgeHealth(): Promise<EdgeOriginHealth[]> {
    return this.read((c) => this.edgeHealthRows(c));
  }

  private async edgeHealthRows(c: Q): Promise<EdgeOriginHealth[]> {
    return (await c.query<Parameters<typeof edgeHealthFromRow>[0]>(`SELECT origin_id, edge_id, healthy, since, reason, detail FROM origin_edge_health ORDER BY origin_id, edge_id`)).rows.map(edgeHealthFromRow);
  }

  recordHealthDecision(d: HealthDecisionInput, fence?: Fence): Promise<{ changed: boolean }> {
    return this.tx(async (c) => {
      await this.checkFence(c, fence);
      if (d.edge_id === null) {
        const prev = (await c.query<{ healthy: boolean }>(`SELECT healthy FROM origin_health WHERE origin_id = $1 FOR UPDATE`, [d.origin_id])).rows[0];
        // No row means healthy. Only transitions are written (with their votes) and logged.
        if ((prev?.healthy ?? true) === d.healthy) return { changed: false };
        await this.upsertOriginHealth(c, { origin_id: d.origin_id, healthy: d.healthy, detail: d.detail, reason: d.reason, votes: d.votes });
      } else {
        const prev = (await c.query<{ healthy: boolean }>(`SELECT healthy FROM origin_edge_health WHERE origin_id = $1 AND edge_id = $2 FOR UPDATE`, [d.origin_id, d.edge_id])).rows[0];
        if ((prev?.healthy ?? true) === d.healthy) return { changed: false };
        try {
          await c.query(
            `INSERT INTO origin_edge_health (origin_id, edge_id, healthy, since, reason, detail) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (origin_id, edge_id) DO UPDATE SET healthy = excluded.healthy, since = excluded.since, reason = excluded.reason, detail = excluded.detail`,
            [d.origin_id, d.edge_id, d.healthy, new Date().toISOString(), d.reason, d.detail],
          );
        } catch (err) {
          if ((err as { code?: string }).code === '23503') throw new StoreError('not_found', `no origin ${d.origin_id} or edge ${d.edge_id}`, 'origin_id');
          throw err;
        }
        await this.bumpChangeSeq(c);
      }
      await this.insertDecision(c, healthDecisionRecord(d, fence?.epoch ?? null), null, undefined);
      return { changed: true };
    });
  }

  recordHealthObservations(list: HealthObservation[]): Promise<void> {
    return this.write(
      async (c) => {
        for (const obs of list) {
          checkObservation(obs);
          try {
            await c.query(
              `INSERT INTO health_observations (origin_id, vantage, kind, edge_id, healthy, result, latency_ms, observed_at, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
               ON CONFLICT (origin_id, vantage) DO UPDATE SET kind = excluded.kind, edge_id = excluded.edge_id, healthy = excluded.healthy, result = excluded.result,
                 latency_ms = excluded.latency_ms, observed_at = excluded.observed_at, detail = excluded.detail`,
              [obs.origin_id, obs.vantage, obs.kind, obs.edge_id, obs.healthy, obs.result, obs.latency_ms, obs.observed_at, obs.detail],
            );
          } catch (err) {
            if ((err as { code?: string }).code === '23503') throw new StoreError('not_found', `no origin with id ${obs.origin_id}${obs.edge_id ? ` or no edge ${obs.edge_id}` : ''}`, 'origin_id');
            throw err;
          }
        }
      },
      { bump: false },
    );
  }

  listHealthObservations(): Promise<HealthObservation[]> {
    return this.read(
      async (c) =>
        (await c.query<HealthObservation>(`SELECT origin_id, vantage, kind, edge_id, healthy, result, latency_ms, observed_at, detail FROM health_observations ORDER BY origin_id, vantage`)).rows,
    );
  }

  pruneHealthObservations(before: string): Promise<number> {
    return this.write(async (c) => (await c.query(`DELETE FROM health_observations WHERE observed_at < $1`, [before])).rowCount ?? 0, { bump: false });
  }

  // ---- leases ----

  acquireLease(name: string, holder: string, ttlMs: number): Promise<LeaseGrant | null> {
    // One statement, the database's clock: insert, renew (same holder, unexpired: same epoch), or take
    // over an expired lease (epoch + 1). A live lease of another holder makes the WHERE false: no row.
    return this.tx(async (c) => {
      await c.query(`SET LOCAL lock_timeout = '2s'`);
      const { rows } = await c.query<{ epoch: number; acquired_at: Date; expires_at: Date }>(
        `INSERT INTO leases AS l (name, holder, epoch, acquired_at, expires_at)
         VALUES ($1, $2, 1, clock_timestamp(), clock_timestamp() + make_interval(secs => $3::float8 / 1000))
         ON CONFLICT (name) DO UPDATE SET
           holder = excluded.holder,
           epoch = CASE WHEN l.holder = excluded.holder AND l.expires_at > clock_timestamp() THEN l.epoch ELSE l.epoch + 1 END,
           acquired_at = CASE WHEN l.holder = excluded.holder AND l.expires_at > clock_timestamp() THEN l.acquired_at ELSE clock_timestamp() END,
           expires_at = excluded.expires_at
         WHERE l.holder = excluded.holder OR l.expires_at <= clock_timestamp()
         RETURNING epoch, acquired_at, expires_at`,
        [name, holder, ttlMs],
      );
      const r = rows[0];
      return r ? { name, holder, epoch: r.epoch, acquired_at: r.acquired_at.toISOString(), expires_at: r.expires_at.toISOString() } : null;
    });
  }

  releaseLease(name: string, holder: string): Promise<void> {
    // Expire, never delete: the epoch counter must keep growing across holders.
    return this.tx(async (c) => {
      await c.query(`UPDATE leases SET expires_at = clock_timestamp() WHERE name = $1 AND holder = $2 AND expires_at > clock_timestamp()`, [name, holder]);
    });
  }

  getLease(name: string): Promise<LeaseState | null> {
    return this.read(async (c) => {
      const { rows } = await c.query<{ holder: string; epoch: number; acquired_at: Date; expires_at: Date; now: Date }>(
        `SELECT holder, epoch, acquired_at, expires_at, clock_timestamp() AS now FROM leases WHERE name = $1`,
        [name],
      );
      const r = rows[0];
      if (!r) return null;
      return { name, holder: r.holder, epoch: r.epoch, acquired_at: r.acquired_at.toISOString(), expires_at: r.expires_at.toISOString(), held: r.expires_at > r.now, now: r.now.toISOString() };
    });
  }

  // ---- snapshots and change notification ----

  readWorld(): Promise<StoreSnapshot> {
    return this.tx(async (c) => {
      const seq = (await c.query<{ value: number }>(`SELECT value FROM meta WHERE key = 'change_seq'`)).rows[0]!.value;
      const loadBalancers = await this.lbs.all(c);
      const origins = await this.origins.all(c);
      const health = await this.healthRows(c);
      const edgeHealth = await this.edgeHealthRows(c);
      const lbIds = loadBalancers.map((lb) => lb.id);
      const pending = await this.pendingReads(c, lbIds);
      this.held.keepOnly(new Set(lbIds));
      return { seq, loadBalancers, origins, health, edgeHealth, pending };
    }, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY').then(async ({ pending, ...world }) => ({ ...world, weights: await finishReads(this.held, pending) }));
  }

  changeSeq(): Promise<number> {
    return this.read(async (c) => (await c.query<{ value: number }>(`SELECT value FROM meta WHERE key = 'change_seq'`)).rows[0]!.value);
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    await this.feed?.stop();
    await this.pool.end();
  }
}
