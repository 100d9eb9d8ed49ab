// Published weights as stored by both stores (SQLite, PostgreSQL): per load balancer a BASE (the full
// JSON body, in `weights_base`) and, per later publish, a CHANGE ROW (`weights_changes`): the
// edges table whole (small), the subnet keys set (with their weights) and the keys deleted against the
// version before it. At 1M subnets with 2 % changed a publish then writes ~1 MB instead of a 46 MB body,
// and a replica that did not publish reads the few change rows after the version it holds.
//
// Model and invariants:
// - The `weights` row is the HEAD, a narrow row a change row's publish updates (SQLite rewrites a whole
//   row on update: with the body in it, 46 MB per publish at 1M): version and published_at are the
//   latest publish's (weightsHead reads only them), base_version/base_published_at the base's,
//   base_entries the base's subnet count, since_base the changed entries of the change rows after it,
//   change_rows how many there are.
// - A change row names the version and time it applies to (prev_version, prev_published_at): the rows
//   after a base form a chain from it to the head, each link checked by the reader (chainFrom). Versions
//   are store-wide and time-stamped, so a row written against other weights (another writer's, a
//   restored backup's) can never be taken for a link.
// - A publish writes a change row only when the head is, inside its write transaction, exactly the
//   version and time of the table its one pass compared against (own-weights.ts): the one this process
//   published last, or the one its store last handed to a reader (HeldWeightsCache: a replica that
//   followed, then took the lease, publishes a change row in its first cycle instead of a 46 MB base).
//   Either way that table is the head's content: a (version, time) pair names one publish, across
//   writers and restores, and a held table was read from exactly that head (a full read, or change
//   rows checked link by link). Then the changed keys are the change against the head. Anything else
//   (another writer since, a restore, nothing held, compaction due) writes a base and deletes the
//   change rows, in the same transaction: no half state survives a crash. The leader's fence is
//   checked in the same transaction, so a deposed leader writes neither.
// - Compaction (compactionDue): a base is written instead of a change row when the change rows would
//   total more than a quarter of the base's entries, or more than MAX_CHANGE_ROWS rows. Why a quarter:
//   a full read (a new replica, or one that fell behind past a compaction) then parses at most 1.25x the
//   entries of one body, storage stays under ~1.25 bodies, and at 2 % changed per publish one publish
//   in ~12 writes a full body (at 1M ~2.7 s CPU once, ~0.2 s per publish on average). The row bound keeps
//   a tiny table's chain (a few changes per publish, a quarter of very little) from growing without end.
// - Readers never mutate a table they handed out (views keep them, keyed by identity): applying change
//   rows builds a new table from the old one's keys (~0.35 s at 1M, vs ~1 s for a parse of the body) and
//   tells keysOnce its keys. The result equals a full read's content (same keys, weights, version,
//   time); only the order of keys may differ (added keys come last), which no reader depends on.
// - A chain that does not reach the head from what the reader holds (a gap, a compaction it missed)
//   makes the reader read in full (counted: WeightsReads.fallbacks); a full read whose chain is broken
//   throws (a wrong table is never served; the views keep the last good one).
import { runPaced, STEP_ITEMS, type Steps } from '../../lib/steps.ts';
import { keysOnce, knownKeys, parseJsonObjectSteps } from '../../lib/json-steps.ts';
import type { LoadBalancerWeights, WeightMap } from '../../model/index.ts';
import type { SubnetsChange } from '../../model/view-codec.ts';
import { namedSteps, type PreparedWeights } from './records.ts';
import type { OwnWeights, StoredWeights } from './store.ts';
import { copyTableSteps, keyListSteps, SpareTables, type KeyListChange } from './spare-table.ts';

export type Subnets = LoadBalancerWeights['subnets'];
export type EdgesTable = LoadBalancerWeights['edges'];

/** At most this many change rows after a base (see the header). */
export const MAX_CHANGE_ROWS = 64;
/** Change rows may total at most this share of the base's subnet entries (see the header). */
export const MAX_CHANGED_SHARE = 0.25;

/** How far the store's chain of change rows was from its base (at a publish, or a read). */
export type ChainLength = Pick<ChainHead, 'base_entries' | 'since_base' | 'change_rows'>;

/** A version as written: its number and publication time (together unique, across restores too). */
export interface VersionStamp {
  version: number;
  published_at: string;
}

/** The `weights` columns of ChainHead, for both stores' SELECTs. */
export const HEAD_COLUMNS = 'version, published_at, base_version, base_published_at, base_entries, since_base, change_rows';

/** The `weights_changes` columns of ChangeRow, for both stores' SELECTs and INSERTs. */
export const CHANGE_COLUMNS = 'version, published_at, prev_version, prev_published_at, edges, subnets, deleted';

/** The `weights` row without its body. */
export interface ChainHead extends VersionStamp {
  base_version: number;
  base_published_at: string;
  base_entries: number;
  since_base: number;
  change_rows: number;
}

/** A `weights_changes` row as stored (JSON text columns). */
export interface ChangeRow extends VersionStamp {
  prev_version: number;
  prev_published_at: string;
  edges: string;
  /** JSON object: subnet -> weights, for every key added or re-weighted. */
  subnets: string;
  /** JSON array of the subnet keys removed. */
  deleted: string;
}

/** What a publish asks the transaction to write as a change row (when the head is still `expect`). */
export interface ChangeToWrite {
  expect: VersionStamp;
  edges: string;
  subnets: string;
  deleted: string;
  /** Subnet keys this change names (set + deleted): counted towards since_base. */
  entries: number;
}

/** Whether a change of `entries` after `head` must be a base instead (compaction). */
export function compactionDue(head: Pick<ChainHead, 'base_entries' | 'since_base' | 'change_rows'>, entries: number): boolean {
  return head.change_rows + 1 > MAX_CHANGE_ROWS || head.since_base + entries > head.base_entries * MAX_CHANGED_SHARE;
}

/** The change row of a prepared publish against the table it was compared with (ready.changed), serialised: O(changes). */
export function changeToWrite(ready: PreparedWeights, expect: VersionStamp): ChangeToWrite | null {
  if (!ready.changed) return null;
  const set: Subnets = {};
  const deleted: string[] = [];
  const subnets = ready.parsed.subnets;
  for (const k of ready.changed.keys) {
    if (Object.hasOwn(subnets, k)) set[k] = subnets[k]!;
    else deleted.push(k);
  }
  return { expect, edges: JSON.stringify(ready.parsed.edges), subnets: JSON.stringify(set), deleted: JSON.stringify(deleted), entries: ready.changed.keys.length };
}

/** Thrown inside a publish transaction when the change row cannot be written: the caller writes a base. */
export class BaseNeeded extends Error {
  constructor(readonly why: string) {
    super(`a full weights body is needed: ${why}`);
    this.name = 'BaseNeeded';
  }
}

/** Inside the publish transaction: why a change row after `head` is not allowed, or null when it is. */
export function refuseChange(head: ChainHead | undefined, change: ChangeToWrite): string | null {
  if (!head) return 'no weights stored';
  if (Number(head.version) !== change.expect.version || head.published_at !== change.expect.published_at) return `the head is version ${head.version}, not the ${change.expect.version} this change was computed against`;
  if (compactionDue(head, change.entries)) return 'compaction due';
  return null;
}

/** True when `rows` (ascending versions) lead from `start` to `head` link by link. */
export function chainFrom(start: VersionStamp, rows: readonly ChangeRow[], head: VersionStamp): boolean {
  let at = start;
  for (const r of rows) {
    if (Number(r.prev_version) !== Number(at.version) || r.prev_published_at !== at.published_at) return false;
    at = r;
  }
  return Number(at.version) === Number(head.version) && at.published_at === head.published_at;
}

/** Parsed weights of one version, as a reader holds them (tables shared: never mutated). */
export interface HeldWeights extends VersionStamp {
  edges: EdgesTable;
  subnets: Subnets;
  /** How `subnets` moved from the table held before it, when known. */
  changed?: SubnetsChange | null;
  /** The store's chain when it was read (a publish against it pre-checks compaction with it); unknown for this process's own publishes. */
  chain?: ChainLength;
  /**
   * Every origin id `subnets`' maps name, or more (names of entries gone since may stay): where a
   * publish starts from this table, maps it hands over again as the very objects are not walked
   * (records.ts, hinted-weights.ts); a name no longer in the load balancer makes it name exactly.
   */
  named?: ReadonlySet<string>;
}

const PACED_TABLES = new Set(['edges', 'subnets']);

/** A base body parsed in steps (at 1M subnets one JSON.parse is ~1 s in one piece). */
export function* parseBodySteps(body: string): Steps<{ edges: EdgesTable; subnets: Subnets }> {
  const parsed = (yield* parseJsonObjectSteps(body, PACED_TABLES)) as Partial<{ edges: EdgesTable; subnets: Subnets }>;
  return { edges: parsed.edges ?? {}, subnets: parsed.subnets ?? {} };
}

/**
 * `from` moved along `rows` (already checked by chainFrom), as a new table: `from` is not touched.
 * `changed`: the keys that may differ from `from` (for the views' O(changes) diff). O(n) only in the
 * copy of the key list and the table, paced; with `spare` (a copy of `from.subnets` nobody else
 * holds: spare-table.ts) the table is not copied but changed in place, and its key list is left for
 * later (`keysLater`: keysOnce lists the table itself if asked first).
 */
export function* applyChangesSteps(from: HeldWeights, rows: readonly ChangeRow[], spare?: Subnets): Steps<{ weights: { edges: EdgesTable; subnets: Subnets }; changed: SubnetsChange; keysLater?: KeyListChange; named?: ReadonlySet<string> }> {
  const last = rows.at(-1);
  if (!last) return { weights: { edges: from.edges, subnets: from.subnets }, changed: { from: from.subnets, keys: [] }, ...(from.named ? { named: from.named } : {}) };
  // The net change over every row: the last word on each key wins (null: deleted).
  const net = new Map<string, WeightMap | null>();
  // `from`'s origin names and those the rows' maps name (a superset: see HeldWeights.named).
  const named = from.named ? new Set(from.named) : undefined;
  for (const r of rows) {
    const set = JSON.parse(r.subnets) as Subnets;
    for (const k in set) {
      net.set(k, set[k]!);
      if (named) for (const origin in set[k]) named.add(origin);
    }
    for (const k of JSON.parse(r.deleted) as string[]) net.set(k, null);
  }
  const old = from.subnets;
  const oldKeys = keysOnce(old);
  // The copy first, then the net change on it: a Map lookup per key of a 1M-key copy was ~0.2 s. A
  // spare (spare-table.ts: the copy made while idle, handed to nobody) is changed in place instead.
  const subnets: Subnets = spare ?? (yield* copyTableSteps(old));
  const changed: string[] = [];
  const added: string[] = [];
  const removed = new Set<string>();
  for (const [k, now] of net) {
    const had = Object.hasOwn(old, k);
    if (now !== null) {
      if (!had) added.push(k);
      subnets[k] = now;
    } else if (had) {
      delete subnets[k];
      removed.add(k);
    }
    if (had || now !== null) changed.push(k);
  }
  const weights = { edges: JSON.parse(last.edges) as EdgesTable, subnets };
  const keyChange = { old: oldKeys, removed, added };
  // In place: the key list (a walk of the old one) is the spare's to make after the render (spare-table.ts).
  const names = named ? { named } : {};
  if (spare) return { weights, changed: { from: old, keys: changed }, keysLater: keyChange, ...names };
  knownKeys(subnets, yield* keyListSteps(keyChange));
  return { weights, changed: { from: old, keys: changed }, ...names };
}

/** What a reader needs from the store for one load balancer, chosen from what it holds and the head. */
export type ReadPlan = { kind: 'since'; from: HeldWeights } | { kind: 'full' };

/** How readers fared (both stores count; tests and logs read it). */
export interface WeightsReads {
  /** Reads that applied change rows to what the reader held. */
  incremental: number;
  /** Reads of a base body (and the change rows after it). */
  full: number;
  /** Incremental reads whose chain did not reach the head (a gap, a compaction missed): read in full instead. */
  fallbacks: number;
}

/**
 * The weights this store last handed out to readers, per load balancer (a replica that did not
 * publish them keeps what it read): the start of its next incremental read.
 */
export class HeldWeightsCache {
  private readonly byLb = new Map<string, { weights: HeldWeights; ticket: number }>();
  /** Numbers reads in the order their transactions planned them. */
  private tickets = 0;
  readonly reads: WeightsReads = { incremental: 0, full: 0, fallbacks: 0 };

  constructor(
    private readonly onFallback?: (lbId: string, why: string) => void,
    /** Copies of the tables held, made while idle, for the next incremental read (spare-table.ts). */
    readonly spares = new SpareTables(),
  ) {}

  /** A ticket for a read being planned now (set() keeps the latest planned read's weights). */
  ticket(): number {
    return ++this.tickets;
  }

  /** The weights handed out last for `lbId`, whatever their version (where a publish may start: own-weights.ts). */
  latest(lbId: string): HeldWeights | undefined {
    return this.byLb.get(lbId)?.weights;
  }

  /** Exactly this version, or undefined. */
  at(lbId: string, at: VersionStamp): HeldWeights | undefined {
    const h = this.byLb.get(lbId)?.weights;
    return h && Number(h.version) === Number(at.version) && h.published_at === at.published_at ? h : undefined;
  }

  /** A read that could not go incrementally: counted, and told to `onFallback` (the store's log). */
  fallback(lbId: string, why: string): void {
    this.reads.fallbacks++;
    this.onFallback?.(lbId, why);
  }

  /**
   * The weights a read planned as `ticket` handed out. Two reads interleaving may finish out of order:
   * the later planned one's stay. (Not by version: a restore may take the store back to a lower one.)
   */
  set(lbId: string, w: HeldWeights, ticket: number): void {
    const h = this.byLb.get(lbId);
    if (h && h.ticket > ticket) return;
    this.byLb.set(lbId, { weights: w, ticket });
  }

  /** Load balancers gone from the store: forget their tables. */
  keepOnly(lbIds: ReadonlySet<string>): void {
    for (const id of this.byLb.keys()) if (!lbIds.has(id)) this.byLb.delete(id);
    this.spares.keepOnly(lbIds);
  }

  /** Where a read of `head` starts: incrementally from what is held when it lies at or after the base. */
  plan(lbId: string, head: ChainHead): ReadPlan {
    const h = this.byLb.get(lbId)?.weights;
    return h && Number(h.version) >= Number(head.base_version) && Number(h.version) <= Number(head.version) ? { kind: 'since', from: h } : { kind: 'full' };
  }
}

/** A full read's inputs: the base row and every change row after it. */
export interface FullRead {
  head: ChainHead;
  body: string;
  rows: ChangeRow[];
}

/** Base plus change rows -> the head's weights (fresh objects); throws when the chain does not reach the head. */
export function* fullReadSteps(lbId: string, read: FullRead): Steps<HeldWeights> {
  const { head } = read;
  const base = { version: Number(head.base_version), published_at: head.base_published_at };
  if (!chainFrom(base, read.rows, head)) throw new Error(`weights of ${lbId}: the change rows after base version ${base.version} do not reach version ${head.version}; refusing to serve a wrong table`);
  const parsed = yield* parseBodySteps(read.body);
  const stamp = { version: Number(head.version), published_at: head.published_at };
  // The base's origin names, once (~0.1 s at 1M, beside the parse's seconds); the rows' added after.
  const named = yield* namedSteps(parsed);
  if (read.rows.length === 0) return { ...stamp, ...parsed, named };
  const { weights, named: after } = yield* applyChangesSteps({ ...base, ...parsed, named }, read.rows);
  return { ...stamp, ...weights, named: after };
}

/** One load balancer's weights as a read transaction found them, to be finished (parsed, applied) after it. */
export type PendingRead = { lbId: string; ticket: number } & (
  | { kind: 'own'; stamp: VersionStamp; own: OwnWeights }
  | { kind: 'held'; held: HeldWeights }
  | { kind: 'since'; head: ChainHead; from: HeldWeights; rows: ChangeRow[] }
  | { kind: 'full'; read: FullRead }
);

/**
 * Inside the read transaction: what to read for `lbId` at `head`. `rowsAfter` and `body` run the
 * store's SELECTs (sync for SQLite, async for PostgreSQL: hence a generator the store drives).
 */
export function* planRead(
  cache: HeldWeightsCache,
  own: OwnWeights | undefined,
  lbId: string,
  head: ChainHead,
): Generator<{ rowsAfter: number } | { body: true }, PendingRead, ChangeRow[] | string> {
  const stamp = { version: Number(head.version), published_at: head.published_at };
  const ticket = cache.ticket();
  if (own) return { lbId, ticket, kind: 'own', stamp, own };
  const held = cache.at(lbId, stamp);
  if (held) return { lbId, ticket, kind: 'held', held };
  const plan = cache.plan(lbId, head);
  if (plan.kind === 'since') {
    const rows = (yield { rowsAfter: Number(plan.from.version) }) as ChangeRow[];
    if (chainFrom(plan.from, rows, head)) return { lbId, ticket, kind: 'since', head, from: plan.from, rows };
    cache.fallback(lbId, `the change rows after version ${plan.from.version} do not reach version ${head.version}`);
  }
  const body = (yield { body: true }) as string;
  const rows = (yield { rowsAfter: Number(head.base_version) }) as ChangeRow[];
  return { lbId, ticket, kind: 'full', read: { head, body, rows } };
}

/** After the read transaction: each pending read finished (parsed, applied, in steps) and remembered. */
export async function finishReads(cache: HeldWeightsCache, pending: readonly PendingRead[]): Promise<StoredWeights[]> {
  const out: StoredWeights[] = [];
  for (const p of pending) {
    let held: HeldWeights;
    if (p.kind === 'own') {
      // As today: this process's own publish, its body not even read.
      cache.set(p.lbId, { ...p.stamp, edges: p.own.edges, subnets: p.own.subnets, changed: p.own.changed }, p.ticket);
      cache.spares.forget(p.lbId);
      out.push({ load_balancer_id: p.lbId, ...p.stamp, body: null, own: p.own });
      continue;
    }
    if (p.kind === 'held') held = p.held;
    else if (p.kind === 'since') {
      const { weights, changed, keysLater, named } = await runPaced(applyChangesSteps(p.from, p.rows, cache.spares.take(p.lbId, p.from.subnets)?.copy));
      held = { version: Number(p.head.version), published_at: p.head.published_at, ...weights, changed, chain: chainLength(p.head), ...(named ? { named } : {}) };
      if (keysLater) cache.spares.keysLater(weights.subnets, keysLater);
      cache.reads.incremental++;
    } else {
      held = { ...(await runPaced(fullReadSteps(p.lbId, p.read))), changed: null, chain: chainLength(p.read.head) };
      cache.reads.full++;
    }
    cache.set(p.lbId, held, p.ticket);
    if (p.kind !== 'held') cache.spares.schedule(p.lbId, held.subnets);
    out.push(storedWeights(p.lbId, held));
  }
  return out;
}

/** A read's StoredWeights as getWeights returns them (the tables shared with the store's cache: never to be mutated). */
export function loadBalancerWeights(w: StoredWeights): LoadBalancerWeights {
  const t = (w.own ?? w.parsed)!;
  return { load_balancer_id: w.load_balancer_id, version: w.version, published_at: w.published_at, edges: t.edges, subnets: t.subnets };
}

/** The chain length columns of a head (PostgreSQL's BIGINT may come back as text). */
const chainLength = (h: ChainHead): ChainLength => ({ base_entries: Number(h.base_entries), since_base: Number(h.since_base), change_rows: Number(h.change_rows) });

/**
 * A StoredWeights of weights the store parsed: `parsed` for readers; `body` (the JSON text, as the
 * store held it before change rows) only serialised when asked for, and not enumerable, so copying
 * the row does not serialise a 1M-subnet table.
 */
function storedWeights(lbId: string, held: HeldWeights): StoredWeights {
  const row = { load_balancer_id: lbId, version: held.version, published_at: held.published_at, parsed: { edges: held.edges, subnets: held.subnets, changed: held.changed ?? null } } as StoredWeights;
  let body: string | undefined;
  Object.defineProperty(row, 'body', { enumerable: false, get: () => (body ??= JSON.stringify({ edges: held.edges, subnets: held.subnets })) });
  return row;
}
