// The SQLite store's publish transaction, written once for the two connections that run it: the
// store's own (an in-memory database, which no other connection can open) and the publish worker's
// (sqlite-publish-worker.ts, every file-backed store). It is the HA fence: the lease check, the new
// weights version, the weights body and the decision record commit together or not at all.
//
// Why a thread of its own: better-sqlite3 is synchronous, and at 1M subnets the publish writes tens of
// MB (the weights body and the decision's diff) and fsyncs them (synchronous=FULL): 0.1-0.7 s during
// which the calling thread (the scheduler's, which also serves the API and renews the lease) stood
// still. The bodies arrive here already checked and serialised (records.ts preparePublishSteps).
//
// The weights go in as a change row when the request carries one and the head is still what it was
// made against (weights-chain.ts refuseChange), else as a base (and the change rows go): a refused
// change row fails the whole transaction with `base_needed`, nothing written, and the caller comes
// back with the body.
import type Database from 'better-sqlite3';
import { LeaseLost, type Fence } from '../../scheduler/loop/store.ts';
import { DECISION_INSERT, decisionValues, type DecisionRow } from './records.ts';
import { StoreError } from './store.ts';
import type { ChainLength } from './own-weights.ts';
import { BaseNeeded, HEAD_COLUMNS, refuseChange, type ChainHead, type ChangeToWrite } from './weights-chain.ts';

export interface PublishRequest {
  lbId: string;
  /** The weights body, JSON (written as a base); null with `change`. */
  body: string | null;
  /** The change row to write instead of a base, when the head is still `change.expect`. */
  change: ChangeToWrite | null;
  /** The subnet entries of the weights (a base's base_entries). */
  entries: number;
  /** The decision row (its weights_version is set here). */
  row: DecisionRow;
  fence?: Fence | undefined;
  /** Every origin id the weights name. */
  named: string[];
}

/** What an error thrown in the transaction becomes on its way across a thread, and back. */
export type PublishFailure =
  | { kind: 'lease_lost'; fence: Fence; detail: string }
  | { kind: 'store'; storeKind: StoreError['kind']; message: string; field?: string | undefined }
  /** The weights name origins the load balancer does not have: these are the ones it has (the caller names the field). */
  | { kind: 'unknown_origins'; known: string[] }
  /** The change row was refused (another writer's head, compaction due): nothing written; send the body. */
  | { kind: 'base_needed'; why: string }
  | { kind: 'error'; message: string };

export type PublishOutcome = { ok: true; version: number; published_at: string; decision_id: number; chain: ChainLength } | { ok: false; failure: PublishFailure };

class UnknownOrigins extends Error {
  constructor(readonly known: string[]) {
    super('unknown origins');
  }
}

/**
 * Inside a write transaction (SQLite's write lock is held from the first statement): the lease still
 * names this holder and epoch and has not expired. Else nothing of the write is applied.
 */
export function checkFence(db: Database.Database, fence: Fence | undefined): void {
  if (!fence) return;
  const row = db.prepare(`SELECT holder, epoch, expires_at FROM leases WHERE name = ?`).get(fence.name) as { holder: string; epoch: number; expires_at: number } | undefined;
  if (!row) throw new LeaseLost(fence, 'no such lease');
  if (row.epoch !== fence.epoch || row.holder !== fence.holder) throw new LeaseLost(fence, `the lease is at epoch ${row.epoch}, held by ${row.holder}`);
  if (row.expires_at <= Date.now()) throw new LeaseLost(fence, `it expired at ${new Date(row.expires_at).toISOString()}`);
}

/** One BEGIN IMMEDIATE transaction; never throws (the outcome crosses a thread). */
export function publishTransaction(db: Database.Database, req: PublishRequest): PublishOutcome {
  try {
    return db
      .transaction((): PublishOutcome => {
        checkFence(db, req.fence);
        if (!db.prepare(`SELECT 1 FROM load_balancers WHERE id = ?`).get(req.lbId)) throw new StoreError('not_found', `no load balancer with id ${req.lbId}`, 'id');
        const known = db.prepare(`SELECT id FROM origins WHERE load_balancer_id = ?`).pluck().all(req.lbId) as string[];
        const have = new Set(known);
        if (!req.named.every((id) => have.has(id))) throw new UnknownOrigins(known);
        const head = db.prepare(`SELECT ${HEAD_COLUMNS} FROM weights WHERE load_balancer_id = ?`).get(req.lbId) as ChainHead | undefined;
        const refused = req.change ? refuseChange(head, req.change) : null;
        if (refused !== null || (!req.change && req.body === null)) throw new BaseNeeded(refused ?? 'no body');
        const version = (db.prepare(`UPDATE meta SET value = value + 1 WHERE key = 'weights_version' RETURNING value`).get() as { value: number }).value;
        const publishedAt = new Date().toISOString();
        const chain = req.change ? writeChange(db, req.lbId, version, publishedAt, head!, req.change) : writeBase(db, req.lbId, version, publishedAt, req.body!, req.entries);
        const r = req.row;
        const id = db
          .prepare(`${DECISION_INSERT} VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
          .run(...decisionValues(r, version)).lastInsertRowid;
        db.prepare(`UPDATE meta SET value = value + 1 WHERE key = 'change_seq'`).run();
        return { ok: true, version, published_at: publishedAt, decision_id: Number(id), chain };
      })
      .immediate();
  } catch (err) {
    return { ok: false, failure: failureOf(err) };
  }
}

/** The weights as a new base: the head row rewritten, every change row of the load balancer gone. */
function writeBase(db: Database.Database, lbId: string, version: number, publishedAt: string, body: string, entries: number): ChainLength {
  db.prepare(
    `INSERT INTO weights (load_balancer_id, version, published_at, base_version, base_published_at, base_entries, since_base, change_rows) VALUES (?, ?, ?, ?, ?, ?, 0, 0)
     ON CONFLICT (load_balancer_id) DO UPDATE SET version = excluded.version, published_at = excluded.published_at,
       base_version = excluded.base_version, base_published_at = excluded.base_published_at, base_entries = excluded.base_entries, since_base = 0, change_rows = 0`,
  ).run(lbId, version, publishedAt, version, publishedAt, entries);
  db.prepare(`INSERT INTO weights_base (load_balancer_id, body) VALUES (?, ?) ON CONFLICT (load_balancer_id) DO UPDATE SET body = excluded.body`).run(lbId, body);
  db.prepare(`DELETE FROM weights_changes WHERE load_balancer_id = ?`).run(lbId);
  return { base_entries: entries, since_base: 0, change_rows: 0 };
}

/** The weights as a change row after `head` (refuseChange allowed it), and the head (a narrow row: no body) moved to it. */
function writeChange(db: Database.Database, lbId: string, version: number, publishedAt: string, head: ChainHead, c: ChangeToWrite): ChainLength {
  db.prepare(
    `INSERT INTO weights_changes (load_balancer_id, version, published_at, prev_version, prev_published_at, edges, subnets, deleted) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  ).run(lbId, version, publishedAt, head.version, head.published_at, c.edges, c.subnets, c.deleted);
  const chain = { base_entries: head.base_entries, since_base: head.since_base + c.entries, change_rows: head.change_rows + 1 };
  db.prepare(`UPDATE weights SET version = ?, published_at = ?, since_base = ?, change_rows = ? WHERE load_balancer_id = ?`).run(version, publishedAt, chain.since_base, chain.change_rows, lbId);
  return chain;
}

function failureOf(err: unknown): PublishFailure {
  if (err instanceof LeaseLost) return { kind: 'lease_lost', fence: err.fence, detail: err.detail };
  if (err instanceof StoreError) return { kind: 'store', storeKind: err.kind, message: err.message, field: err.field };
  if (err instanceof UnknownOrigins) return { kind: 'unknown_origins', known: err.known };
  if (err instanceof BaseNeeded) return { kind: 'base_needed', why: err.why };
  return { kind: 'error', message: err instanceof Error ? err.message : String(err) };
}

/** The error the publish failed with, as the store's caller knows it (unknown_origins is the caller's to name). */
export function errorOf(f: Exclude<PublishFailure, { kind: 'unknown_origins' | 'base_needed' }>): Error {
  if (f.kind === 'lease_lost') return new LeaseLost(f.fence, f.detail);
  if (f.kind === 'store') return new StoreError(f.storeKind, f.message, f.field);
  return new Error(f.message);
}
