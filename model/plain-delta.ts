// A hand-written check of the common delta answer (model/view-changes.ts), in front of the zod schema
// that a DNS server parses answers with (ReceivedDnsViewChange). At 1M learned subnets a 2 % delta
// carries ~4,000 distinct weight maps; the schema walks each through z.record (a new object per map)
// and, run once per publish, its code was recompiled by V8 on most deltas: a large share of the cluster
// primary's CPU per delta (bench/README.md, eighth pass).
//
// Invariant: isPlainDelta(doc) is true only for a document the schema accepts and returns unchanged
// (same keys, same values, no defaults filled in). It never decides a refusal: anything it does not
// recognise — a `full` answer, a record whose meta changed, a missing `seq` (the schema's default),
// an unexpected key, a value out of range — is answered false and goes through the schema, so an
// invalid answer gets exactly the schema's error, naming the field. (test/dns-plain-delta.test.ts
// checks that on a corpus of malformed deltas.) The loops are small functions of their own: V8 keeps
// them compiled across deltas instead of compiling one big function mid-loop and discarding it.

const DELTA_KEYS = ['kind', 'from', 'version', 'seq', 'weights_version', 'records'] as const;
const CHANGE_KEYS = ['zone', 'record', 'load_balancer_id', 'meta', 'set', 'removed'] as const;
const TABLE_KEYS = ['maps', 'cidrs', 'map'] as const;

/** True when `doc` is a delta answer the schema would accept as it is, with no record's meta changed. */
export function isPlainDelta(doc: unknown): boolean {
  if (!hasExactly(doc, DELTA_KEYS)) return false;
  const d = doc as Record<string, unknown>;
  if (d.kind !== 'delta' || typeof d.from !== 'string' || typeof d.version !== 'string') return false;
  if (!(d.seq === null || isIndex(d.seq))) return false;
  if (!(d.weights_version === null || Number.isSafeInteger(d.weights_version))) return false;
  return Array.isArray(d.records) && allPlainChanges(d.records);
}

function allPlainChanges(records: unknown[]): boolean {
  for (let i = 0; i < records.length; i++) if (!isPlainChange(records[i])) return false;
  return true;
}

function isPlainChange(c: unknown): boolean {
  if (!hasExactly(c, CHANGE_KEYS)) return false;
  const r = c as Record<string, unknown>;
  if (!isIndex(r.zone) || !isIndex(r.record) || typeof r.load_balancer_id !== 'string' || r.meta !== null) return false;
  if (!Array.isArray(r.removed) || !allStrings(r.removed)) return false;
  if (!hasExactly(r.set, TABLE_KEYS)) return false;
  const set = r.set as Record<string, unknown>;
  // cidrs and map are only checked to be arrays by the schema too (forEachCompact checks their elements).
  return Array.isArray(set.cidrs) && Array.isArray(set.map) && Array.isArray(set.maps) && allWeightMaps(set.maps);
}

function allStrings(a: unknown[]): boolean {
  for (let i = 0; i < a.length; i++) if (typeof a[i] !== 'string') return false;
  return true;
}

function allWeightMaps(maps: unknown[]): boolean {
  for (let i = 0; i < maps.length; i++) if (!isWeightMap(maps[i])) return false;
  return true;
}

/** model/views.ts WeightMap: origin id -> a share in [0, 1]. */
function isWeightMap(m: unknown): boolean {
  if (!isPlainObject(m)) return false;
  const o = m as Record<string, unknown>;
  for (const k in o) {
    // A "__proto__" key (JSON.parse makes it an own property) is left to the schema.
    if (k === '__proto__') return false;
    const v = o[k];
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) return false;
  }
  return true;
}

/** An integer >= 0 as z.number().int().min(0) accepts it (a safe integer). */
function isIndex(v: unknown): boolean {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}

function isPlainObject(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** A plain object with exactly these own keys (a strict object: no other key, none missing). */
function hasExactly(v: unknown, keys: readonly string[]): boolean {
  if (!isPlainObject(v)) return false;
  const o = v as Record<string, unknown>;
  let n = 0;
  for (const k in o) {
    if (!Object.hasOwn(o, k)) return false;
    n++;
  }
  if (n !== keys.length) return false;
  for (let i = 0; i < keys.length; i++) if (!Object.hasOwn(o, keys[i]!)) return false;
  return true;
}
