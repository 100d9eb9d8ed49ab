// The embedded store: one SQLite file in the data dir. WAL with synchronous=FULL, so an acknowledged
// write survives kill -9 and power loss; foreign keys on; every write one transaction.
//
// Several processes may open one data dir (a restart overlapping the old process, or two control
// planes by mistake): SQLite serialises their writes. Every write transaction is BEGIN IMMEDIATE, so
// it takes the write lock before it reads and waits up to BUSY_TIMEOUT_MS for it. A deferred
// transaction would read first and then fail to upgrade ("database is locked", SQLITE_BUSY, which
// no busy timeout can wait out) whenever another process committed in between.
//
// change_seq counts the commits that can change a long-polled view (load balancers, origins, edges,
// published weights, origin health transitions); decisions, latency rows and leases do not bump it,
// so a scheduler cycle that changes nothing wakes no long-poller.
import { runPaced } from '../../lib/steps.ts';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  type Decision,
  type DecisionInput,
  type Edge,
  type EdgeOriginHealth,
  type LatencyEntry,
  type LoadBalancer,
  type LoadBalancerSpec,
  type LoadBalancerWeights,
  type Origin,
  type OriginHealth,
  type OriginSpec,
  type Override,
  type OverrideSpec,
  type WeightsInput,
} from '../../model/index.ts';
import type { Fence, LeaseGrant, WeightsChangeHint, WeightsHead, StoredPrices } from '../../scheduler/loop/store.ts';
import { checkFence, errorOf, publishTransaction, type PublishOutcome, type PublishRequest } from './sqlite-publish.ts';
import { SqlitePublisher } from './sqlite-publisher.ts';
import { MIGRATIONS } from './migrations.ts';
import { OwnWeightsMemo, weightsWork, type WeightsWork } from './own-weights.ts';
import { finishReads, HEAD_COLUMNS, HeldWeightsCache, loadBalancerWeights, planRead, type ChainHead, type ChangeRow, type PendingRead, type WeightsReads } from './weights-chain.ts';
import { assertKnownOrigins, checkLatency, DECISION_COLUMNS, DECISION_INSERT, decisionValues, LATEST_PRICES_SQL, storedPricesFromRow, checkObservation, decisionFromRow, decisionRow, namedSteps, insertedDecision, edgeHealthFromRow, healthDecisionRecord, originHealthFromRow, type DecisionRow, type PreparedDecisionRow } from './records.ts';
import { activeAt, overrideAudit, overrideFromRow, type OverrideRow } from './override-rows.ts';
import { decodeCursor, encodeCursor, newId, ResourceTable, type ResourceRow } from './resource-table.ts';
import {
  StoreError,
  type DecisionFilter,
  type EdgeSpec,
  type HealthDecisionInput,
  type HealthObservation,
  type LatencyFilter,
  type LeaseState,
  type Page,
  type PageRequest,
  type Store,
  type StoreSnapshot,
} from './store.ts';

const CHANGE_POLL_MS = 200;
/** A publish this big (weights + decision JSON) is written on the publish worker's thread: ~1 MB is ~10 ms here. */
const PUBLISH_OFF_THREAD_CHARS = 1_000_000;
/** How long a write waits for another process's write lock before failing. */
const BUSY_TIMEOUT_MS = 5000;

/** Where the store tells what it cannot do the cheap way (a weights read that falls back to a full one). */
export interface StoreLog {
  warn(obj: object, msg: string): void;
}

export function openSqliteStore(dataDir: string, log?: StoreLog): SqliteStore {
  mkdirSync(dataDir, { recursive: true });
  return new SqliteStore(join(dataDir, 'sluice.db'), PUBLISH_OFF_THREAD_CHARS, log);
}

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly listeners = new Set<() => void>();
  private lastDataVersion = -1;
  private lastSeq = -1;
  private watcher: NodeJS.Timeout | undefined;
  private readonly lbs: ResourceTable<LoadBalancerSpec, LoadBalancer>;
  private readonly origins: ResourceTable<OriginSpec, Origin>;
  private readonly edges: ResourceTable<EdgeSpec, Edge>;
  /** The publish transaction's own thread and connection; none for an in-memory database. */
  private readonly publisher: SqlitePublisher | undefined;
  /** The weights this process published, handed to readWorld's callers instead of the body (own-weights.ts). */
  private readonly own: OwnWeightsMemo;
  /** The weights readWorld handed out last, per load balancer: where its next read starts (weights-chain.ts). */
  private readonly held: HeldWeightsCache;
  /** The publish worker's warm-up a fresh lease started (acquireLease), if any. */
  private warming: Promise<void> | undefined;

  /**
   * @param publishOffThreadChars publishes whose weights and decision bodies reach this size run on the
   *   publish worker (tests lower it to exercise that path with small data).
   */
  constructor(
    readonly path: string,
    private readonly publishOffThreadChars = PUBLISH_OFF_THREAD_CHARS,
    log?: StoreLog,
  ) {
    this.own = new OwnWeightsMemo((lbId, why) => log?.warn({ load_balancer: lbId, why }, 'weights: a publish\'s change hint did not hold up; checked in full'));
    this.held = new HeldWeightsCache((lbId, why) => log?.warn({ load_balancer: lbId, why }, 'weights: reading in full, the change rows do not lead from the weights held'));
    // The busy timeout is set at open: switching to WAL and migrating take locks another process may hold.
    this.db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.migrate();
    this.publisher = path === ':memory:' || path === '' ? undefined : new SqlitePublisher(path, BUSY_TIMEOUT_MS);
    const bump = () => this.bumpChangeSeq();
    const meta = (row: ResourceRow) => ({ id: row.id, revision: row.revision, created_at: row.created_at, updated_at: row.updated_at });
    this.lbs = new ResourceTable(this.db, { table: 'load_balancers', idPrefix: 'lb', noun: 'load balancer' }, (row, spec) => ({ ...spec, ...meta(row) }), bump);
    this.origins = new ResourceTable(
      this.db,
      { table: 'origins', idPrefix: 'or', noun: 'origin', parentColumn: 'load_balancer_id' },
      (row, spec) => ({ ...spec, ...meta(row), load_balancer_id: row.parent! }),
      bump,
    );
    this.edges = new ResourceTable(this.db, { table: 'edges', idPrefix: 'ed', noun: 'edge' }, (row, spec) => ({ ...spec, ...meta(row) }), bump);
  }

  /** The schema version this file is at (after the migrations applied at open). */
  get schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  private migrate(): void {
    const applied = this.db.pragma('user_version', { simple: true }) as number;
    if (applied > MIGRATIONS.length) {
      throw new Error(`${this.path} was written by a newer sluice (schema ${applied}, this one knows ${MIGRATIONS.length}); refusing to open it`);
    }
    MIGRATIONS.slice(applied).forEach((sql, i) => {
      this.db
        .transaction(() => {
          // Another process may have migrated while we waited for the lock.
          if ((this.db.pragma('user_version', { simple: true }) as number) > applied + i) return;
          this.db.exec(sql);
          this.db.pragma(`user_version = ${applied + i + 1}`);
        })
        .immediate();
    });
  }

  /** One write transaction, holding the write lock from its first statement (BEGIN IMMEDIATE). */
  private tx<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(this.db.transaction(fn).immediate());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private read<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private bumpChangeSeq(): void {
    this.db.prepare(`UPDATE meta SET value = value + 1 WHERE key = 'change_seq'`).run();
    queueMicrotask(() => this.notify());
  }

  private nextWeightsVersion(): number {
    return (this.db.prepare(`UPDATE meta SET value = value + 1 WHERE key = 'weights_version' RETURNING value`).get() as { value: number }).value;
  }

  // ---- load balancers, origins, edges ----

  createLoadBalancer(spec: LoadBalancerSpec) { return this.tx(() => this.lbs.create(spec)); }
  getLoadBalancer(id: string) { return this.read(() => this.lbs.get(id)); }
  listLoadBalancers(page: PageRequest) { return this.read(() => this.lbs.list(page)); }
  replaceLoadBalancer(id: string, spec: LoadBalancerSpec, ifRevision?: number) { return this.tx(() => this.lbs.replace(id, spec, ifRevision)); }
  deleteLoadBalancer(id: string, ifRevision?: number) { return this.tx(() => this.lbs.delete(id, ifRevision)); }
  allLoadBalancers() { return this.read(() => this.lbs.all()); }

  createOrigin(lbId: string, spec: OriginSpec) {
    return this.tx(() => {
      this.lbs.get(lbId);
      return this.origins.create(spec, lbId);
    });
  }
  getOrigin(lbId: string, id: string) { return this.read(() => this.origins.get(id, lbId)); }
  listOrigins(lbId: string, page: PageRequest) {
    return this.read(() => {
      this.lbs.get(lbId);
      return this.origins.list(page, lbId);
    });
  }
  replaceOrigin(lbId: string, id: string, spec: OriginSpec, ifRevision?: number) { return this.tx(() => this.origins.replace(id, spec, ifRevision, lbId)); }
  deleteOrigin(lbId: string, id: string, ifRevision?: number) { return this.tx(() => this.origins.delete(id, ifRevision, lbId)); }
  allOrigins(lbId?: string) { return this.read(() => this.origins.all(lbId)); }

  createEdge(spec: EdgeSpec) { return this.tx(() => this.edges.create(spec)); }
  getEdge(id: string) { return this.read(() => this.edges.get(id)); }
  listEdges(page: PageRequest) { return this.read(() => this.edges.list(page)); }
  replaceEdge(id: string, spec: EdgeSpec, ifRevision?: number) { return this.tx(() => this.edges.replace(id, spec, ifRevision)); }
  deleteEdge(id: string, ifRevision?: number) { return this.tx(() => this.edges.delete(id, ifRevision)); }
  allEdges() { return this.read(() => this.edges.all()); }

  // ---- operator overrides ----

  private overrideRows(lbId: string, where = '', args: unknown[] = []): OverrideRow[] {
    return this.db
      .prepare(`SELECT id, load_balancer_id, spec, created_at, created_by, cancelled_at, cancelled_by FROM overrides WHERE load_balancer_id = ? ${where} ORDER BY seq`)
      .all(lbId, ...args) as OverrideRow[];
  }

  createOverride(lbId: string, spec: OverrideSpec, by: string, check: (active: Override[]) => void): Promise<Override> {
    return this.tx(() => {
      this.lbs.get(lbId);
      check(activeAt(this.overrideRows(lbId, 'AND cancelled_at IS NULL'), Date.now()));
      const row: OverrideRow = { id: newId('ov'), load_balancer_id: lbId, spec: JSON.stringify(spec), created_at: new Date().toISOString(), created_by: by, cancelled_at: null, cancelled_by: null };
      this.db
        .prepare(`INSERT INTO overrides (id, load_balancer_id, spec, created_at, created_by) VALUES (?, ?, ?, ?, ?)`)
        .run(row.id, row.load_balancer_id, row.spec, row.created_at, row.created_by);
      const created = overrideFromRow(row, Date.now());
      this.insertDecision(overrideAudit(created, 'created'), null, undefined);
      return created;
    });
  }

  getOverride(lbId: string, id: string): Promise<Override> {
    return this.read(() => {
      const row = this.overrideRows(lbId, 'AND id = ?', [id])[0];
      if (!row) throw new StoreError('not_found', `no override with id ${id} in load balancer ${lbId}`, 'id');
      return overrideFromRow(row, Date.now());
    });
  }

  listOverrides(lbId: string, page: PageRequest): Promise<Page<Override>> {
    return this.read(() => {
      this.lbs.get(lbId);
      const after = decodeCursor(page.cursor);
      const rows = this.db
        .prepare(`SELECT seq, id, load_balancer_id, spec, created_at, created_by, cancelled_at, cancelled_by FROM overrides WHERE load_balancer_id = ? AND seq > ? ORDER BY seq LIMIT ?`)
        .all(lbId, after, page.limit + 1) as (OverrideRow & { seq: number })[];
      const items = rows.slice(0, page.limit);
      return { items: items.map((r) => overrideFromRow(r, Date.now())), next_cursor: rows.length > page.limit ? encodeCursor(items[items.length - 1]!.seq) : null };
    });
  }

  cancelOverride(lbId: string, id: string, by: string): Promise<Override> {
    return this.tx(() => {
      const row = this.overrideRows(lbId, 'AND id = ?', [id])[0];
      if (!row) throw new StoreError('not_found', `no override with id ${id} in load balancer ${lbId}`, 'id');
      const now = Date.now();
      const before = overrideFromRow(row, now);
      if (before.state !== 'active') throw new StoreError('conflict', `override ${id} is already ${before.state}`, 'id');
      const cancelled = { ...row, cancelled_at: new Date(now).toISOString(), cancelled_by: by };
      this.db.prepare(`UPDATE overrides SET cancelled_at = ?, cancelled_by = ? WHERE id = ?`).run(cancelled.cancelled_at, by, id);
      const out = overrideFromRow(cancelled, now);
      this.insertDecision(overrideAudit(out, 'cancelled'), null, undefined);
      return out;
    });
  }

  activeOverrides(lbId: string): Promise<Override[]> {
    return this.read(() => activeAt(this.overrideRows(lbId, 'AND cancelled_at IS NULL'), Date.now()));
  }

  // ---- scheduler's write side ----

  async publishWeights(lbId: string, weights: WeightsInput, decision: DecisionInput, fence?: Fence, changed?: WeightsChangeHint): Promise<{ version: number; decision: Decision; weights: LoadBalancerWeights }> {
    // Checked and serialised before the write transaction, in slices with turns of the event loop
    // between (lib/steps.ts): at 1M subnets the weights' check, their body, the decision's diff check
    // and its body were each 0.15-0.35 s of the caller's thread (the scheduler's, which also serves the
    // API). Invalid input still writes nothing. The transaction itself (the fence, the origins as they
    // are now, the inserts and the fsync) is one function (sqlite-publish.ts): a big one (tens of MB at
    // 1M subnets, 0.1-0.7 s) runs on the publish worker's connection, a small one here (sub-ms, and no
    // worker start-up in its way); an in-memory database, which only this connection sees, always here.
    //
    // The weights are written as a change row against this process's last publish, or the weights it
    // last read, when the store's head is still that one (weights-chain.ts): only the changed keys are
    // serialised and written, and the body only when the transaction refuses the change row (then it
    // runs again with the body). The head read here only picks the start; the transaction decides.
    const start = this.own.start(lbId, this.held.latest(lbId), this.chainHead(lbId));
    const { ready, prepared, entries, change, body } = await this.own.plan(lbId, weights, decision, fence, start, changed);
    const { recorded: _objects, ...row } = prepared;
    let request: PublishRequest = { lbId, body: change ? null : await body(), change, entries, row, fence, named: [...ready.named] };
    let outcome = await this.runPublish(request);
    // At most twice more, each time with nothing written: a refused change row goes again as a base;
    // names that stood in for reused maps (a superset) naming an origin the load balancer no longer
    // has go again named exactly.
    for (let again = 0; again < 2 && !outcome.ok; again++) {
      const f = outcome.failure;
      if (f.kind === 'base_needed' && request.change) request = { ...request, change: null, body: await body() };
      else if (f.kind === 'unknown_origins' && !ready.namedExact) {
        ready.named = await runPaced(namedSteps(ready.parsed));
        ready.namedExact = true;
        request = { ...request, named: [...ready.named] };
      } else break;
      outcome = await this.runPublish(request);
    }
    if (!outcome.ok) {
      const f = outcome.failure;
      if (f.kind === 'base_needed') throw new Error(`publishing the weights of ${lbId}: ${f.why}`);
      if (f.kind !== 'unknown_origins') throw errorOf(f);
      assertKnownOrigins(lbId, new Set(f.known), ready.parsed); // throws, naming the source and origin
      throw new StoreError('invalid', `weights name an origin not in load balancer ${lbId}`, 'weights');
    }
    const { version } = outcome;
    this.own.remember(lbId, version, outcome.published_at, ready, outcome.chain, this.held.latest(lbId)?.subnets);
    queueMicrotask(() => this.notify());
    return {
      version,
      decision: insertedDecision(outcome.decision_id, { ...prepared, weights_version: version, recorded: { ...prepared.recorded, weights_version: version } }),
      weights: { load_balancer_id: lbId, version, published_at: outcome.published_at, edges: ready.parsed.edges, subnets: ready.parsed.subnets },
    };
  }

  /** A big publish (tens of MB at 1M subnets) on the publish worker's connection, a small one here (sub-ms, no worker start-up in its way). */
  private runPublish(request: PublishRequest): Promise<PublishOutcome> | PublishOutcome {
    const size = (request.body?.length ?? 0) + (request.change ? request.change.subnets.length + request.change.edges.length + request.change.deleted.length : 0) + request.row.body.length;
    return this.publisher && size >= this.publishOffThreadChars ? this.publisher.publish(request) : publishTransaction(this.db, request);
  }

  /**
   * Resolves once the publish worker a fresh lease started (acquireLease) answers: true, or false when
   * none was started that way (tests; the benchmark waits for it as a new leader's first cycle would).
   */
  async publishWorkerWarm(): Promise<boolean> {
    if (!this.warming) return false;
    await this.warming;
    return true;
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
    return this.tx(() => {
      this.checkFence(fence);
      return this.insertDecision(decision, null, fence);
    });
  }

  private insertDecision(input: DecisionInput, weightsVersion: number | null, fence: Fence | undefined): Decision {
    return this.insertRow(decisionRow(input, weightsVersion, fence, new Date().toISOString()));
  }

  private insertRow(row: PreparedDecisionRow): Decision {
    const id = Number(
      this.db
        .prepare(`${DECISION_INSERT} VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
        .run(...decisionValues(row)).lastInsertRowid,
    );
    return insertedDecision(id, row);
  }

  private checkFence(fence: Fence | undefined): void {
    checkFence(this.db, fence);
  }

  async getWeights(lbId: string): Promise<LoadBalancerWeights | null> {
    // As readWorld reads each load balancer's (weights-chain.ts): this process's own publish as
    // published, else from the weights held plus the change rows since, else in full; and held after,
    // so that a new leader's first publish (the scheduler reads the weights in force with this) can be
    // a change row against them.
    const pending = await this.read(() => {
      const head = this.chainHead(lbId);
      return head ? this.pendingRead(lbId, head) : null;
    });
    return pending ? loadBalancerWeights((await finishReads(this.held, [pending]))[0]!) : null;
  }

  /** Inside a read transaction: what to read of `lbId`'s weights at `head` (weights-chain.ts planRead, driven). */
  private pendingRead(lbId: string, head: ChainHead): PendingRead {
    const plan = planRead(this.held, this.own.of(lbId, head.version, head.published_at), lbId, head);
    let step = plan.next();
    while (!step.done) step = plan.next('body' in step.value ? this.baseBody(lbId) : this.changeRows(lbId, step.value.rowsAfter));
    return step.value;
  }

  weightsHead(lbId: string): Promise<WeightsHead | null> {
    return this.read(() => (this.db.prepare(`SELECT version, published_at FROM weights WHERE load_balancer_id = ?`).get(lbId) as WeightsHead | undefined) ?? null);
  }

  private chainHead(lbId: string): ChainHead | undefined {
    return this.db.prepare(`SELECT ${HEAD_COLUMNS} FROM weights WHERE load_balancer_id = ?`).get(lbId) as ChainHead | undefined;
  }

  private baseBody(lbId: string): string {
    return (this.db.prepare(`SELECT body FROM weights_base WHERE load_balancer_id = ?`).get(lbId) as { body: string }).body;
  }

  /** The change rows of `lbId` after version `after`, oldest first. */
  private changeRows(lbId: string, after: number): ChangeRow[] {
    return this.db
      .prepare(`SELECT version, published_at, prev_version, prev_published_at, edges, subnets, deleted FROM weights_changes WHERE load_balancer_id = ? AND version > ? ORDER BY version`)
      .all(lbId, after) as ChangeRow[];
  }

  listDecisions(filter: DecisionFilter): Promise<Page<Decision>> {
    return this.read(() => {
      // Newest first: the cursor is the smallest id already returned.
      const before = filter.cursor ? decodeCursor(filter.cursor) : Number.MAX_SAFE_INTEGER;
      const byLb = filter.load_balancer_id !== undefined;
      const rows = this.db
        .prepare(`SELECT ${DECISION_COLUMNS} FROM decisions WHERE id < ?${byLb ? ' AND load_balancer_id = ?' : ''} ORDER BY id DESC LIMIT ?`)
        .all(...(byLb ? [before, filter.load_balancer_id, filter.limit + 1] : [before, filter.limit + 1])) as (DecisionRow & { id: number })[];
      const more = rows.length > filter.limit;
      const items = rows.slice(0, filter.limit).map((r) => decisionFromRow(r.id, r));
      return { items, next_cursor: more ? encodeCursor(items[items.length - 1]!.id) : null };
    });
  }

  pruneDecisions(before: string): Promise<number> {
    // Not a change anyone long-polls for: no change_seq bump.
    return this.tx(() => this.db.prepare(`DELETE FROM decisions WHERE created_at < ?`).run(before).changes);
  }

  latestPrices(lbId: string): Promise<StoredPrices | null> {
    return this.read(() => {
      const row = this.db.prepare(LATEST_PRICES_SQL('?')).get(lbId) as Parameters<typeof storedPricesFromRow>[0] | undefined;
      return row ? storedPricesFromRow(row) : null;
    });
  }

  upsertLatency(entries: LatencyEntry[], fence?: Fence): Promise<void> {
    return this.tx(() => {
      this.checkFence(fence);
      checkLatency(entries);
      const stmt = this.db.prepare(
        `INSERT INTO latency (subnet, origin_id, rtt_ms, samples, last_updated) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (subnet, origin_id) DO UPDATE SET rtt_ms = excluded.rtt_ms, samples = excluded.samples, last_updated = excluded.last_updated`,
      );
      for (const e of entries) {
        stmt.run(e.subnet, e.origin_id, e.rtt_ms, e.samples, e.last_updated);
      }
      // Latency reaches DNS and edges only through published weights: no change_seq bump.
    });
  }

  expireLatency(before: string): Promise<number> {
    return this.tx(() => this.db.prepare(`DELETE FROM latency WHERE last_updated < ?`).run(before).changes);
  }

  listLatency(filter: LatencyFilter): Promise<Page<LatencyEntry>> {
    return this.read(() => {
      const after = decodeCursor(filter.cursor);
      const where: string[] = ['rowid > ?'];
      const args: unknown[] = [after];
      if (filter.subnet) { where.push('subnet = ?'); args.push(filter.subnet); }
      if (filter.origin_id) { where.push('origin_id = ?'); args.push(filter.origin_id); }
      const rows = this.db
        .prepare(`SELECT rowid AS seq, subnet, origin_id, rtt_ms, samples, last_updated FROM latency WHERE ${where.join(' AND ')} ORDER BY rowid LIMIT ?`)
        .all(...args, filter.limit + 1) as (LatencyEntry & { seq: number })[];
      const more = rows.length > filter.limit;
      const page = rows.slice(0, filter.limit);
      return { items: page.map(({ seq: _seq, ...e }) => e), next_cursor: more ? encodeCursor(page[page.length - 1]!.seq) : null };
    });
  }

  setOriginHealth(originId: string, healthy: boolean, detail: string): Promise<OriginHealth> {
    return this.tx(() => this.upsertOriginHealth({ origin_id: originId, healthy, detail, reason: 'set', votes: [] }).health);
  }

  /** Upserts the effective health; `since` moves and change_seq is bumped only on a transition (or a first row). */
  private upsertOriginHealth(h: Omit<OriginHealth, 'since'>): { health: OriginHealth; changed: boolean } {
    const prev = this.db.prepare(`SELECT healthy, since FROM origin_health WHERE origin_id = ?`).get(h.origin_id) as { healthy: number; since: string } | undefined;
    const changed = !prev || Boolean(prev.healthy) !== h.healthy;
    const since = changed ? new Date().toISOString() : prev.since;
    try {
      this.db
        .prepare(
          `INSERT INTO origin_health (origin_id, healthy, since, detail, reason, votes) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (origin_id) DO UPDATE SET healthy = excluded.healthy, since = excluded.since, detail = excluded.detail, reason = excluded.reason, votes = excluded.votes`,
        )
        .run(h.origin_id, h.healthy ? 1 : 0, since, h.detail, h.reason, JSON.stringify(h.votes));
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_FOREIGNKEY') throw new StoreError('not_found', `no origin with id ${h.origin_id}`, 'origin_id');
      throw err;
    }
    if (changed) this.bumpChangeSeq();
    return { health: { ...h, since }, changed };
  }

  listOriginHealth(): Promise<OriginHealth[]> {
    return this.read(() => this.healthRows());
  }

  private healthRows(): OriginHealth[] {
    return (this.db.prepare(`SELECT origin_id, healthy, since, detail, reason, votes FROM origin_health ORDER BY origin_id`).all() as Parameters<typeof originHealthFromRow>[0][]).map(originHealthFromRow);
  }

  listEdgeHealth(): Promise<EdgeOriginHealth[]> {
    return this.read(() => this.edgeHealthRows());
  }

  private edgeHealthRows(): EdgeOriginHealth[] {
    return (this.db.prepare(`SELECT origin_id, edge_id, healthy, since, reason, detail FROM origin_edge_health ORDER BY origin_id, edge_id`).all() as Parameters<typeof edgeHealthFromRow>[0][]).map(edgeHealthFromRow);
  }

  recordHealthDecision(d: HealthDecisionInput, fence?: Fence): Promise<{ changed: boolean }> {
    return this.tx(() => {
      this.checkFence(fence);
      let changed: boolean;
      if (d.edge_id === null) {
        const prev = this.db.prepare(`SELECT healthy FROM origin_health WHERE origin_id = ?`).get(d.origin_id) as { healthy: number } | undefined;
        // No row means healthy. Only transitions are written (with their votes) and logged.
        if ((prev ? Boolean(prev.healthy) : true) === d.healthy) return { changed: false };
        changed = this.upsertOriginHealth({ origin_id: d.origin_id, healthy: d.healthy, detail: d.detail, reason: d.reason, votes: d.votes }).changed;
      } else {
        const prev = this.db.prepare(`SELECT healthy FROM origin_edge_health WHERE origin_id = ? AND edge_id = ?`).get(d.origin_id, d.edge_id) as { healthy: number } | undefined;
        changed = (prev ? Boolean(prev.healthy) : true) !== d.healthy;
        if (!changed) return { changed };
        try {
          this.db
            .prepare(
              `INSERT INTO origin_edge_health (origin_id, edge_id, healthy, since, reason, detail) VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (origin_id, edge_id) DO UPDATE SET healthy = excluded.healthy, since = excluded.since, reason = excluded.reason, detail = excluded.detail`,
            )
            .run(d.origin_id, d.edge_id, d.healthy ? 1 : 0, new Date().toISOString(), d.reason, d.detail);
        } catch (err) {
          if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_FOREIGNKEY') throw new StoreError('not_found', `no origin ${d.origin_id} or edge ${d.edge_id}`, 'origin_id');
          throw err;
        }
        this.bumpChangeSeq();
      }
      if (changed) this.insertDecision(healthDecisionRecord(d, fence?.epoch ?? null), null, undefined);
      return { changed };
    });
  }

  // One machine, one clock: SQLite's lease times are this host's (every process on the file shares it).
  async acquireLease(name: string, holder: string, ttlMs: number): Promise<LeaseGrant | null> {
    const grant = await this.tx(() => {
      const now = Date.now();
      const row = this.db.prepare(`SELECT holder, epoch, acquired_at, expires_at FROM leases WHERE name = ?`).get(name) as
        | { holder: string; epoch: number; acquired_at: number; expires_at: number }
        | undefined;
      if (row && row.holder !== holder && row.expires_at > now) return null;
      // A renewal keeps the epoch; a fresh acquisition (new holder, or our own lease had lapsed) is a new one.
      const renewal = row !== undefined && row.holder === holder && row.expires_at > now;
      const epoch = renewal ? row.epoch : (row?.epoch ?? 0) + 1;
      const acquiredAt = renewal ? row.acquired_at : now;
      this.db
        .prepare(
          `INSERT INTO leases (name, holder, epoch, acquired_at, expires_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, epoch = excluded.epoch, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at`,
        )
        .run(name, holder, epoch, acquiredAt, now + ttlMs);
      return { grant: { name, holder, epoch, acquired_at: new Date(acquiredAt).toISOString(), expires_at: new Date(now + ttlMs).toISOString() }, renewal };
    });
    if (!grant) return null;
    // A new holder (a failover) will publish soon: its publish worker starts now, not in that publish.
    // Not awaited: the lease is the caller's now; a worker that fails to start fails that publish.
    if (!grant.renewal && this.publisher) this.warming = this.publisher.warm().catch(() => undefined);
    return grant.grant;
  }

  releaseLease(name: string, holder: string): Promise<void> {
    // Expire, never delete: the epoch counter must keep growing across holders.
    return this.tx(() => {
      this.db.prepare(`UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ? AND expires_at > ?`).run(Date.now(), name, holder, Date.now());
    });
  }

  getLease(name: string): Promise<LeaseState | null> {
    return this.read(() => {
      const row = this.db.prepare(`SELECT holder, epoch, acquired_at, expires_at FROM leases WHERE name = ?`).get(name) as
        | { holder: string; epoch: number; acquired_at: number; expires_at: number }
        | undefined;
      if (!row) return null;
      const now = Date.now();
      const iso = (ms: number) => new Date(ms).toISOString();
      return { name, holder: row.holder, epoch: row.epoch, acquired_at: iso(row.acquired_at), expires_at: iso(row.expires_at), held: row.expires_at > now, now: iso(now) };
    });
  }

  readWorld(): Promise<StoreSnapshot> {
    // One read transaction: every SELECT sees the same WAL snapshot, so seq and content agree.
    return this.tx(() => {
      const seq = (this.db.prepare(`SELECT value FROM meta WHERE key = 'change_seq'`).get() as { value: number }).value;
      const loadBalancers = this.lbs.all();
      // Weights this process published itself are handed over as published, their body not even read;
      // others from what this store handed out before plus the change rows since, or in full
      // (weights-chain.ts). Parsed after the transaction, in steps.
      const pending = loadBalancers.flatMap((lb): PendingRead[] => {
        const head = this.chainHead(lb.id);
        return head ? [this.pendingRead(lb.id, head)] : [];
      });
      this.held.keepOnly(new Set(loadBalancers.map((lb) => lb.id)));
      return { seq, loadBalancers, origins: this.origins.all(), health: this.healthRows(), edgeHealth: this.edgeHealthRows(), pending };
    }).then(async ({ pending, ...world }) => ({ ...world, weights: await finishReads(this.held, pending) }));
  }

  recordHealthObservations(list: HealthObservation[]): Promise<void> {
    // Not a change anyone long-polls for: no change_seq bump.
    return this.tx(() => {
      const stmt = this.db.prepare(
        `INSERT INTO health_observations (origin_id, vantage, kind, edge_id, healthy, result, latency_ms, observed_at, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (origin_id, vantage) DO UPDATE SET kind = excluded.kind, edge_id = excluded.edge_id, healthy = excluded.healthy, result = excluded.result,
           latency_ms = excluded.latency_ms, observed_at = excluded.observed_at, detail = excluded.detail`,
      );
      for (const obs of list) {
        checkObservation(obs);
        try {
          stmt.run(obs.origin_id, obs.vantage, obs.kind, obs.edge_id, obs.healthy ? 1 : 0, obs.result, obs.latency_ms, obs.observed_at, obs.detail);
        } catch (err) {
          if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_FOREIGNKEY') throw new StoreError('not_found', `no origin with id ${obs.origin_id}${obs.edge_id ? ` or no edge ${obs.edge_id}` : ''}`, 'origin_id');
          throw err;
        }
      }
    });
  }

  listHealthObservations(): Promise<HealthObservation[]> {
    return this.read(() =>
      (this.db.prepare(`SELECT origin_id, vantage, kind, edge_id, healthy, result, latency_ms, observed_at, detail FROM health_observations ORDER BY origin_id, vantage`).all() as (Omit<HealthObservation, 'healthy'> & { healthy: number })[]).map((r) => ({
        ...r,
        healthy: Boolean(r.healthy),
      })),
    );
  }

  pruneHealthObservations(before: string): Promise<number> {
    return this.tx(() => this.db.prepare(`DELETE FROM health_observations WHERE observed_at < ?`).run(before).changes);
  }

  // ---- change notification ----

  changeSeq(): Promise<number> {
    return this.read(() => (this.db.prepare(`SELECT value FROM meta WHERE key = 'change_seq'`).get() as { value: number }).value);
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    this.ensureWatcher();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0 && this.watcher) {
        clearInterval(this.watcher);
        this.watcher = undefined;
      }
    };
  }

  /** Another process's commit changes PRAGMA data_version; our own commits notify directly. */
  private ensureWatcher(): void {
    if (this.watcher) return;
    this.lastDataVersion = this.db.pragma('data_version', { simple: true }) as number;
    this.watcher = setInterval(() => {
      const v = this.db.pragma('data_version', { simple: true }) as number;
      if (v !== this.lastDataVersion) {
        this.lastDataVersion = v;
        this.notify();
      }
    }, CHANGE_POLL_MS);
    this.watcher.unref();
  }

  private notify(): void {
    const seq = (this.db.prepare(`SELECT value FROM meta WHERE key = 'change_seq'`).get() as { value: number }).value;
    if (seq === this.lastSeq) return;
    this.lastSeq = seq;
    for (const l of this.listeners) l();
  }

  async close(): Promise<void> {
    if (this.watcher) clearInterval(this.watcher);
    this.listeners.clear();
    await this.publisher?.close();
    this.db.close();
  }
}
