// Pure functions of the DNS view's delta protocol (model/view-changes.ts): the compact subnet table
// (encode, and decode with validation in a loop), the diff of two views, the composition of two
// diffs (a server several publishes behind gets one delta), and applying a delta to a view.
//
// Costs, for n learned subnets and c changed ones: encode/decode O(n); diff O(n) (one pass over the
// new view's subnets, one over the old one's for removals), O(c) where the publisher named the changed
// keys (SubnetsChange); compose O(c1 + c2); apply O(n) for the
// copy of each changed record's subnet table (a view in force is never mutated: it may still be
// installed, or kept as the last good one) plus O(c).
//
// Decoding never trusts the input: the envelope is checked by the caller's schema, the big arrays
// here, element by element, with the path of the first bad one. Nothing is half-applied: a bad delta
// throws before any result exists.
import type { DnsRecordView, DnsView, WeightMap } from './views.ts';
import type { CompactDnsView, CompactSubnets, DnsRecordChange, DnsRecordMeta } from './view-changes.ts';
import { runToEnd, STEP_ITEMS, type Steps } from '../lib/steps.ts';
import { arrayJsonSteps, arrayOfJsonSteps, keyJsonSteps } from '../lib/json-steps.ts';

export class ViewDecodeError extends Error {
  override name = 'ViewDecodeError';
}

/** A cheap identity for a weight map: its entries in order. Equal maps written alike share one entry. */
function mapKey(m: WeightMap): string {
  let k = '';
  for (const id in m) k += `${id}\u0000${m[id]}\u0001`;
  return k;
}

/**
 * Whether two weight maps are the same entries in the same order. The order counts: it is the map's
 * JSON, which view versions hash and DNS servers parse, and a weighted pick walks the origins in it. A
 * map re-sent with its origins reordered is a change (found by a helper: compared without the order,
 * the store kept it out of a publish's change while its table held the new object, and the view's
 * version then differed from one built from scratch on another replica).
 */
export function sameWeights(a: WeightMap, b: WeightMap, bSize?: number): boolean {
  if (a === b) return true;
  let n = 0;
  for (const id in a) {
    if (b[id] !== a[id]) return false;
    n++;
  }
  // b's size, when the caller counted it on a walk of its own (the publish's one pass does, per entry).
  if (bSize === undefined) {
    let m = 0;
    for (const _ in b) m++;
    if (m !== n) return false;
  } else if (n !== bSize) return false;
  return n < 2 || sameOrder(a, b);
}

/** Two maps of the same keys: whether they list them in the same order (only reached for equal maps of 2+ origins). */
function sameOrder(a: WeightMap, b: WeightMap): boolean {
  const keys = Object.keys(b);
  let i = 0;
  for (const id in a) if (keys[i++] !== id) return false;
  return true;
}

/**
 * Shares one object per distinct weight map. A view parsed from JSON has one map object per subnet
 * (1M small objects at 1M subnets, ~100 MB of heap); most subnets share a few thousand distinct maps.
 */
export class WeightMapInterner {
  private readonly byKey = new Map<string, WeightMap>();
  /** The shared map equal to `m`; `check` (which may throw) runs once per distinct map, before it is kept. */
  intern(m: WeightMap, check?: (m: WeightMap) => void): WeightMap {
    const key = mapKey(m);
    const had = this.byKey.get(key);
    if (had) return had;
    check?.(m);
    this.byKey.set(key, m);
    return m;
  }
}

/** Groups `entries` by identical weight maps. */
export function compactSubnets(entries: Iterable<[string, WeightMap]>): CompactSubnets {
  return runToEnd(compactSubnetsSteps(entries));
}

/**
 * compactSubnets in steps (lib/steps.ts): a resync's full table at 1M subnets is ~0.2 s in one piece.
 * Maps are told apart by content, origins in order (as mapKey would), through a numeric hash and an
 * exact comparison on a hit: a delta's ~20k maps are fresh objects, and building each one's text key
 * (its shares printed) was most of the delta's encoding.
 */
export function* compactSubnetsSteps(entries: Iterable<[string, WeightMap]>, shared = true): Steps<CompactSubnets> {
  const maps: WeightMap[] = [];
  /** The last map with a given hash, and per map the one before it with the same hash (-1: none). */
  const byHash = new Map<number, number>();
  const sameHash: number[] = [];
  // A parsed view shares equal maps (parseView, fromCompactView): known by identity, no hash to compute.
  // `shared` false: the maps are mostly distinct objects (a delta's, fresh from the publish), where the
  // identity map only missed and grew.
  const byObject = shared ? new Map<WeightMap, number>() : null;
  const cidrs: string[] = [];
  const map: number[] = [];
  for (const [cidr, weights] of entries) {
    let i = byObject?.get(weights);
    if (i === undefined) {
      const h = mapHash(weights);
      i = byHash.get(h) ?? -1;
      while (i >= 0 && !sameInOrder(maps[i]!, weights)) i = sameHash[i]!;
      if (i < 0) {
        i = maps.length;
        maps.push(weights);
        sameHash.push(byHash.get(h) ?? -1);
        byHash.set(h, i);
      }
      byObject?.set(weights, i);
    }
    cidrs.push(cidr);
    if (map.push(i) % STEP_ITEMS === 0) yield;
  }
  return { maps, cidrs, map };
}

const f64 = new Float64Array(1);
const f64Words = new Uint32Array(f64.buffer);

/** A 30-bit hash of a map's origin ids and shares in order (a small integer: a cheap Map key). */
function mapHash(m: WeightMap): number {
  let h = 0x811c9dc5;
  for (const id in m) {
    for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
    // -0 and 0 hash alike, as they print alike in mapKey (and compare equal in sameInOrder).
    f64[0] = m[id]! + 0;
    h = Math.imul(h ^ f64Words[0]!, 0x01000193);
    h = Math.imul(h ^ f64Words[1]! ^ 0x100, 0x01000193);
  }
  return (h ^ (h >>> 15)) & 0x3fffffff;
}

const keysOfA: string[] = [];

/** The same origin ids in the same order with the same shares (mapKey(a) === mapKey(b), without the text). */
function sameInOrder(a: WeightMap, b: WeightMap): boolean {
  if (a === b) return true;
  let n = 0;
  for (const id in a) keysOfA[n++] = id;
  let i = 0;
  for (const id in b) {
    if (i >= n || keysOfA[i] !== id || a[id] !== b[id]) return false;
    i++;
  }
  return i === n;
}

/**
 * Checks the table's arrays element by element and calls `each` per subnet. `where` names the table in
 * errors (e.g. "zones[0].records[2].subnets"). The maps themselves are few and schema-checked by the caller.
 */
export function forEachCompact(c: CompactSubnets, where: string, each: (cidr: string, weights: WeightMap) => void): void {
  checkCompact(c, where);
  const { maps, cidrs, map } = c;
  for (let i = 0; i < cidrs.length; i++) each(cidrs[i]!, maps[map[i]!]!);
}

/**
 * forEachCompact's checks alone (throws ViewDecodeError naming the element): what a delta's decode
 * runs on every table. Without a callback its loop is the same code on every delta; V8 kept
 * recompiling forEachCompact, called with a different closure from each place.
 */
export function checkCompact(c: CompactSubnets, where: string): void {
  const { maps, cidrs, map } = c;
  if (!Array.isArray(cidrs) || !Array.isArray(map)) throw new ViewDecodeError(`${where}: cidrs and map must be arrays`);
  if (cidrs.length !== map.length) throw new ViewDecodeError(`${where}: cidrs has ${cidrs.length} entries but map has ${map.length}; they must pair up`);
  for (let i = 0; i < cidrs.length; i++) {
    const cidr = cidrs[i];
    if (typeof cidr !== 'string') throw new ViewDecodeError(`${where}.cidrs[${i}]: expected a CIDR string, got ${JSON.stringify(cidr)}`);
    const m = map[i];
    if (typeof m !== 'number' || !Number.isInteger(m) || m < 0 || m >= maps.length) {
      throw new ViewDecodeError(`${where}.map[${i}]: expected an index into maps (0..${maps.length - 1}), got ${JSON.stringify(m)}`);
    }
  }
}

export function expandSubnets(c: CompactSubnets, where: string): Record<string, WeightMap> {
  const out: Record<string, WeightMap> = {};
  forEachCompact(c, where, (cidr, w) => {
    out[cidr] = w;
  });
  return out;
}

function metaOf(r: DnsRecordView): DnsRecordMeta {
  const { subnets: _, ...meta } = r;
  return meta;
}

export function toCompactView(view: DnsView): CompactDnsView {
  return {
    ...view,
    zones: view.zones.map((z) => ({ zone: z.zone, records: z.records.map((r) => ({ ...metaOf(r), subnets: compactSubnets(Object.entries(r.subnets)) })) })),
  };
}

/** JSON.stringify(c) of a compact subnet table (as compactSubnets makes it), in steps. */
export function* compactSubnetsJsonSteps(c: CompactSubnets, sink: (piece: string) => void): Steps<void> {
  sink(`{"maps":${JSON.stringify(c.maps)},"cidrs":`);
  yield* arrayJsonSteps(c.cidrs, sink);
  sink(',"map":');
  yield* arrayJsonSteps(c.map, sink);
  sink('}');
}

/** JSON.stringify(changes) of a delta's records (each `set` a compact table, encodeDiff's), in steps. */
export function* changesJsonSteps(changes: DnsRecordChange[], sink: (piece: string) => void): Steps<void> {
  yield* arrayOfJsonSteps(changes, sink, (c) => keyJsonSteps(c, 'set', sink, (set) => compactSubnetsJsonSteps(set, sink)));
}

function* entriesOf<V>(table: Record<string, V>, keys: readonly string[]): Generator<[string, V]> {
  for (const key of keys) yield [key, table[key]!];
}

/** How a big table's keys are listed: Object.keys, or a cache of them for tables that do not change (lib/json-steps.ts keysOnce). */
export type KeysOf = (table: object) => readonly string[];

/**
 * JSON.stringify(toCompactView(view)) in steps, except that `zones` is written last (the parse does not
 * care about key order; the compact view carries no hash). For a resync at 1M subnets.
 */
export function* compactViewJsonSteps(view: DnsView, sink: (piece: string) => void, keysOf: KeysOf = Object.keys): Steps<void> {
  const { zones, ...head } = view;
  yield* keyJsonSteps({ ...head, zones }, 'zones', sink, (zs) =>
    arrayOfJsonSteps(zs, sink, (z) =>
      keyJsonSteps(z, 'records', sink, (records) =>
        arrayOfJsonSteps(records, sink, function* (r) {
          // Entries one at a time: Object.entries of 1M subnets is itself a long piece.
          const compact = yield* compactSubnetsSteps(entriesOf(r.subnets, keysOf(r.subnets)));
          yield* keyJsonSteps({ ...metaOf(r), subnets: compact }, 'subnets', sink, (c) => compactSubnetsJsonSteps(c, sink));
        }),
      ),
    ),
  );
}

export function fromCompactView(view: CompactDnsView): DnsView {
  return {
    ...view,
    zones: view.zones.map((z, zi) => ({ zone: z.zone, records: z.records.map((r, ri) => ({ ...r, subnets: expandSubnets(r.subnets, `zones[${zi}].records[${ri}].subnets`) })) })),
  };
}

/** Same zones in the same order, each with the same records (by load balancer) in the same order. */
export function sameShape(a: DnsView, b: DnsView): boolean {
  if (a.zones.length !== b.zones.length) return false;
  return a.zones.every((z, zi) => {
    const other = b.zones[zi]!;
    return z.zone === other.zone && z.records.length === other.records.length && z.records.every((r, ri) => r.load_balancer_id === other.records[ri]!.load_balancer_id);
  });
}

/** Changes of one record, before encoding: subnet -> new weights, or null when removed. */
export interface RecordDiff {
  zone: number;
  record: number;
  load_balancer_id: string;
  meta: DnsRecordMeta | null;
  subnets: Map<string, WeightMap | null>;
}

/**
 * What the publisher of a subnet table knew about it: every key whose entry may differ between the
 * table `from` (the one it replaced) and the table this change is attached to (added, removed or
 * re-weighted; an unchanged key named too is harmless, a changed key missing is not). It lets the
 * view's diff and version look at the changed keys only.
 */
export interface SubnetsChange {
  from: Record<string, WeightMap>;
  keys: readonly string[];
}

/**
 * A SubnetsChange looked up: the keys whose entry is another object in `to` than in `from` (each once),
 * with the entry before (`was`) and after (`now`; undefined where absent). The version's digest and the
 * diff both need exactly this; at 1M subnets each lookup in a 1M-key table is a cache miss or two, so
 * they share one resolution per table (resolvedChangeSteps) instead of looking every key up twice each.
 */
export interface ResolvedChange {
  from: Record<string, WeightMap>;
  to: Record<string, WeightMap>;
  cidrs: string[];
  was: (WeightMap | undefined)[];
  now: (WeightMap | undefined)[];
}

/** Resolutions per (new) table object: a table has one change attached (SubnetsChanges), and never changes. */
const resolutions = new WeakMap<object, ResolvedChange>();

/** `change` (attached to the table `to`) resolved, once per table: O(changed keys). */
export function* resolvedChangeSteps(change: SubnetsChange, to: Record<string, WeightMap>): Steps<ResolvedChange> {
  const had = resolutions.get(to);
  if (had && had.from === change.from) return had;
  const { from, keys } = change;
  const r: ResolvedChange = { from, to, cidrs: [], was: [], now: [] };
  // Each key once: a key named twice would move the digest's sums twice.
  const seen = new Set<string>();
  for (let i = 0; i < keys.length; i++) {
    if (i % STEP_ITEMS === STEP_ITEMS - 1) yield;
    const cidr = keys[i]!;
    if (seen.size === seen.add(cidr).size) continue;
    const was = own(from, cidr);
    const now = own(to, cidr);
    // Equal maps that are other objects stay in: their key order may differ, which the digest counts.
    if (was === now) continue;
    r.cidrs.push(cidr);
    r.was.push(was);
    r.now.push(now);
  }
  resolutions.set(to, r);
  return r;
}

/** Hints for diffViewsSteps: the change known for a table, keyed by the (new) table object. */
export type SubnetsChanges = ReadonlyMap<object, SubnetsChange>;

/** prev -> next, or null when the shape changed (a delta cannot say that: send the full view). */
export function diffViews(prev: DnsView, next: DnsView, changes?: SubnetsChanges): RecordDiff[] | null {
  return runToEnd(diffViewsSteps(prev, next, Object.keys, changes));
}

/**
 * table[key] when `key` is its own, in one lookup for a CIDR (a 1M-key table: each lookup a cache
 * miss): Object.prototype has no property whose name holds a "/", so a defined value is an own one;
 * other keys ask hasOwn too.
 */
export const own = (table: Record<string, WeightMap>, key: string): WeightMap | undefined => {
  const v = table[key];
  return v !== undefined && (key.includes('/') || Object.hasOwn(table, key)) ? v : undefined;
};

/**
 * diffViews in steps (lib/steps.ts). A record whose subnet table is the very object it was in `prev`
 * has no subnet changes (tables are never changed once in a view); one whose table comes with a
 * change from `prev`'s table (`changes`: the publisher's own knowledge) is compared on those keys only,
 * O(changes); any other is compared in full, one pass over both tables (~0.5-1 s at 1M).
 */
export function* diffViewsSteps(prev: DnsView, next: DnsView, keysOf: KeysOf = Object.keys, changes?: SubnetsChanges): Steps<RecordDiff[] | null> {
  if (!sameShape(prev, next)) return null;
  const out: RecordDiff[] = [];
  for (let zi = 0; zi < next.zones.length; zi++) {
    const records = next.zones[zi]!.records;
    for (let ri = 0; ri < records.length; ri++) {
      const r = records[ri]!;
      const old = prev.zones[zi]!.records[ri]!;
      const subnets = yield* tableDiffSteps(old.subnets, r.subnets, changes?.get(r.subnets), keysOf);
      const meta = JSON.stringify(metaOf(old)) === JSON.stringify(metaOf(r)) ? null : metaOf(r);
      if (meta || subnets.size > 0) out.push({ zone: zi, record: ri, load_balancer_id: r.load_balancer_id, meta, subnets });
    }
  }
  return out;
}

/** One record's subnet table, prev -> next: what diffViewsSteps says about it (see there). */
function* tableDiffSteps(prev: Record<string, WeightMap>, next: Record<string, WeightMap>, hint: SubnetsChange | undefined, keysOf: KeysOf): Steps<Map<string, WeightMap | null>> {
  const out = new Map<string, WeightMap | null>();
  if (next === prev) return out;
  let n = 0;
  if (hint && hint.from === prev) {
    const { cidrs, was, now } = yield* resolvedChangeSteps(hint, next);
    for (let i = 0; i < cidrs.length; i++) {
      const before = was[i];
      const after = now[i];
      if (after === undefined) out.set(cidrs[i]!, null);
      else if (before === undefined || !sameWeights(before, after)) out.set(cidrs[i]!, after);
      if (i % STEP_ITEMS === STEP_ITEMS - 1) yield;
    }
    return out;
  }
  for (const cidr of keysOf(next)) {
    const was = prev[cidr];
    const now = next[cidr]!;
    if (was === undefined || !sameWeights(was, now)) out.set(cidr, now);
    if (++n % STEP_ITEMS === 0) yield;
  }
  for (const cidr of keysOf(prev)) {
    if (!(cidr in next)) out.set(cidr, null);
    if (++n % STEP_ITEMS === 0) yield;
  }
  return out;
}

/** `a` then `b` as one diff (both of the same shape). */
export function composeDiffs(a: RecordDiff[], b: RecordDiff[]): RecordDiff[] {
  return runToEnd(composeDiffsSteps(a, b));
}

/** composeDiffs in steps: O(changes), but a server 16 publishes behind at 1M may be owed 100k+ of them. */
export function* composeDiffsSteps(a: RecordDiff[], b: RecordDiff[]): Steps<RecordDiff[]> {
  const byPos = new Map<string, RecordDiff>();
  for (const d of a) {
    byPos.set(`${d.zone}/${d.record}`, { ...d, subnets: new Map(d.subnets) });
    yield;
  }
  for (const d of b) {
    const key = `${d.zone}/${d.record}`;
    const was = byPos.get(key);
    if (!was) {
      byPos.set(key, { ...d, subnets: new Map(d.subnets) });
      yield;
      continue;
    }
    if (d.meta) was.meta = d.meta;
    let n = 0;
    for (const [cidr, w] of d.subnets) {
      was.subnets.set(cidr, w);
      if (++n % STEP_ITEMS === 0) yield;
    }
  }
  return [...byPos.values()].sort((x, y) => x.zone - y.zone || x.record - y.record);
}

export function encodeDiff(diff: RecordDiff[]): DnsRecordChange[] {
  return runToEnd(encodeDiffSteps(diff));
}

/**
 * encodeDiff in steps: each record's changes compacted straight from the diff's map (no list of pairs
 * in between: at 1M subnets and 2 % changed a delta is ~20k entries).
 */
export function* encodeDiffSteps(diff: RecordDiff[]): Steps<DnsRecordChange[]> {
  const out: DnsRecordChange[] = [];
  for (const d of diff) {
    const removed: string[] = [];
    const set = yield* compactSubnetsSteps(setEntries(d.subnets, removed), false);
    out.push({ zone: d.zone, record: d.record, load_balancer_id: d.load_balancer_id, meta: d.meta, set, removed });
  }
  return out;
}

/** The entries of `subnets` that set a map, in order; the removed ones pushed onto `removed` on the way. */
function* setEntries(subnets: Map<string, WeightMap | null>, removed: string[]): Generator<[string, WeightMap]> {
  for (const entry of subnets) {
    if (entry[1]) yield entry as [string, WeightMap];
    else removed.push(entry[0]);
  }
}

/**
 * The view after `changes` (a delta made from `view`), `view` left as it was: what a delta means, on
 * the object form (the DNS server applies deltas to its packed view, dns/packed/packed-view.ts, and
 * its tests compare the two). Throws ViewDecodeError, before building anything, when a change points
 * at a record that is not there or not the one named, or when a subnet table is malformed.
 */
export function applyChanges(view: DnsView, changes: DnsRecordChange[], header: { version: string; seq: number | null; weights_version: number | null }): DnsView {
  checkChanges(view, changes);
  // Checked: nothing below throws.
  const zones = view.zones.map((z) => ({ zone: z.zone, records: [...z.records] }));
  for (const c of changes) {
    const rec = zones[c.zone]!.records[c.record]!;
    const subnets = { ...rec.subnets };
    forEachCompact(c.set, '', (cidr, w) => {
      subnets[cidr] = w;
    });
    for (const cidr of c.removed) delete subnets[cidr];
    zones[c.zone]!.records[c.record] = { ...(c.meta ?? metaOf(rec)), subnets };
  }
  return { version: header.version, seq: header.seq, weights_version: header.weights_version, zones };
}

/** Throws ViewDecodeError when `changes` cannot be applied to `view` (applyChanges then cannot fail). */
export function checkChanges(view: DnsView, changes: DnsRecordChange[]): void {
  changes.forEach((c, i) => {
    const where = `records[${i}]`;
    const rec = view.zones[c.zone]?.records[c.record];
    if (!rec) throw new ViewDecodeError(`${where}: no record at zones[${c.zone}].records[${c.record}] in the view in force`);
    if (rec.load_balancer_id !== c.load_balancer_id) throw new ViewDecodeError(`${where}: zones[${c.zone}].records[${c.record}] is load balancer ${rec.load_balancer_id}, the delta names ${c.load_balancer_id}`);
    checkCompact(c.set, `${where}.set`);
    if (!Array.isArray(c.removed)) throw new ViewDecodeError(`${where}.removed: expected an array of CIDR strings`);
    c.removed.forEach((cidr, j) => {
      if (typeof cidr !== 'string') throw new ViewDecodeError(`${where}.removed[${j}]: expected a CIDR string`);
    });
  });
}
