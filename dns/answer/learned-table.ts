// A record's learned subnets, compact: network -> choice id (the record's distinct weight maps, each
// made into its precomputed FamilySets once), ECS scope floor and, for the few covering networks,
// the networks nested inside them. With a million learned subnets the general PrefixTable (one JS
// Map per prefix length, one entry object per network, an IPv6 key string or a boxed IPv4 key per
// network) cost ~100 bytes per subnet and one such index per thread; here a network costs its key
// words and two uint32s in flat typed arrays (~12–24 bytes before the load factor), and building or
// updating it leaves almost no garbage.
//
// Model: one open-addressing hash table (linear probing, power-of-two capacity, load <= 0.7, deletion
// by backward shift: no tombstones) per family and prefix length in use; a key is the masked network
// as ceil(prefix/32) uint32 words (IPv4: one). Per slot: `vals` = choice id + 1 (0: empty) and
// `meta` = scope floor (low 8 bits) | HAS_LIST (an IPv4 nested list is kept). Lookups probe from the
// longest length down, as PrefixTable does.
//
// Nesting: each length table keeps, for the few networks that hold longer learned ones ("outers",
// keyed by their key words, not by slot: slots move), a Nest: how many learned networks of each
// longer length sit inside, and for IPv4 the list of them while there are at most NESTED_SCAN_MAX.
// computeNesting builds them with one walk (a view's build); after it the table is `live`: insert and
// delete keep every Nest, floor and list up to date themselves, in O(lengths in use) per network added
// or removed (plus, for a network added over longer ones already there, finding those: probes of the
// candidates or a scan of that one length, whichever is fewer). A 2 % delta at 1M subnets then costs
// what it changes, not a walk over the million (measured: that walk was ~170 ms CPU per thread).
//
// Invariants: a stored network always has a choice (a map with nothing usable is not stored, so the
// network answers as unlearned); its floor is max(its prefix, the longest length with a count in its
// Nest); HAS_LIST is set exactly when its Nest holds a list (IPv4, 1..NESTED_SCAN_MAX nested); a live
// table's Nests equal what computeNesting would build (learned-table.test.ts checks this after random
// inserts and deletes). `find4`/`find6` fill one reused hit object (no allocation per query): it is
// valid until the next find on the same table, which on a single-threaded isolate means for the rest
// of the answer being built.
import type { FamilySets } from './view-index.ts';

/** What a lookup found (or what `networks()` yields per network). */
export interface LearnedHit extends FamilySets {
  prefix: number;
  /** Longest learned prefix nested inside this network (its own prefix when none): the ECS scope floor. */
  scopeFloor: number;
  /** IPv4 only, when few (<= NESTED_SCAN_MAX): the learned networks nested inside this one. */
  nested4?: { starts: Uint32Array; prefixes: Uint8Array } | undefined;
}

/** Nested networks scanned per answer at most; beyond, the entry answers with scopeFloor. */
export const NESTED_SCAN_MAX = 64;

const MIN_CAPACITY = 16;
const FLOOR_MASK = 0xff;
const HAS_LIST = 0x100;

/** What a network holds of the longer learned networks (see the header). */
interface Nest {
  /** Inner prefix length -> learned networks of that length inside this one. */
  counts: Map<number, number>;
  total: number;
  /** IPv4: the nested networks while total <= NESTED_SCAN_MAX, else null (IPv6: always null). */
  list: { start: number; prefix: number }[] | null;
  /** `list` as the query path reads it (choose.ts), packed when it changes. */
  packed: { starts: Uint32Array; prefixes: Uint8Array } | undefined;
}

/** One prefix length of one family. */
class LengthTable {
  readonly words: number;
  keys: Uint32Array;
  vals: Uint32Array;
  meta: Uint32Array;
  size = 0;
  /** The Nests of this length's networks that hold longer ones, by nestKey. */
  readonly nests = new Map<number | string, Nest>();
  private mask: number;

  constructor(readonly prefix: number, family: 4 | 6) {
    this.words = family === 4 ? 1 : Math.max(1, Math.ceil(prefix / 32));
    this.keys = new Uint32Array(MIN_CAPACITY * this.words);
    this.vals = new Uint32Array(MIN_CAPACITY);
    this.meta = new Uint32Array(MIN_CAPACITY);
    this.mask = MIN_CAPACITY - 1;
  }

  private hash(k: Uint32Array, at: number): number {
    let h = Math.imul(k[at]!, 0x9e3779b1);
    for (let w = 1; w < this.words; w++) h = Math.imul(h ^ k[at + w]!, 0x85ebca6b);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    h ^= h >>> 13;
    return h & this.mask;
  }

  private same(slot: number, k: Uint32Array, at: number): boolean {
    const base = slot * this.words;
    for (let w = 0; w < this.words; w++) if (this.keys[base + w] !== k[at + w]) return false;
    return true;
  }

  /** The slot holding key `k` (words from `at`), or -1. */
  find(k: Uint32Array, at: number): number {
    for (let s = this.hash(k, at); ; s = (s + 1) & this.mask) {
      if (this.vals[s] === 0) return -1;
      if (this.same(s, k, at)) return s;
    }
  }

  /** The slot for `k`: found, or claimed empty (vals 0) when absent. */
  claim(k: Uint32Array, at: number): number {
    if ((this.size + 1) * 10 > (this.mask + 1) * 7) this.grow();
    let s = this.hash(k, at);
    while (this.vals[s] !== 0 && !this.same(s, k, at)) s = (s + 1) & this.mask;
    if (this.vals[s] === 0) {
      for (let w = 0; w < this.words; w++) this.keys[s * this.words + w] = k[at + w]!;
      this.size++;
    }
    return s;
  }

  /** Removes the slot, shifting later members of its probe run back (no tombstones). */
  remove(slot: number): void {
    const { words, keys, vals, meta, mask } = this;
    let hole = slot;
    for (let s = (slot + 1) & mask; vals[s] !== 0; s = (s + 1) & mask) {
      const home = this.hash(keys, s * words);
      // The entry at s moves into the hole when its home is not cyclically within (hole, s].
      if (((s - home) & mask) >= ((s - hole) & mask)) {
        keys.copyWithin(hole * words, s * words, s * words + words);
        vals[hole] = vals[s]!;
        meta[hole] = meta[s]!;
        hole = s;
      }
    }
    vals[hole] = 0;
    meta[hole] = 0;
    this.size--;
  }

  private grow(): void {
    const { words, keys, vals, meta } = this;
    const cap = (this.mask + 1) * 2;
    this.keys = new Uint32Array(cap * words);
    this.vals = new Uint32Array(cap);
    this.meta = new Uint32Array(cap);
    this.mask = cap - 1;
    this.size = 0;
    for (let s = 0; s < vals.length; s++) {
      if (vals[s] === 0) continue;
      const t = this.claim(keys, s * words);
      this.vals[t] = vals[s]!;
      this.meta[t] = meta[s]!;
    }
  }

  capacity(): number {
    return this.mask + 1;
  }

  /** The Nest map's key of the network whose words start at `k[at]`. */
  nestKey(k: Uint32Array, at: number): number | string {
    if (this.words === 1) return k[at]!;
    let key = `${k[at]}`;
    for (let w = 1; w < this.words; w++) key += `,${k[at + w]}`;
    return key;
  }
}

class Family {
  readonly byLength = new Map<number, LengthTable>();
  /** Longest first: the order lookups probe in. */
  tables: LengthTable[] = [];
  constructor(readonly family: 4 | 6) {}
  table(prefix: number, create: boolean): LengthTable | undefined {
    let t = this.byLength.get(prefix);
    if (!t && create) {
      t = new LengthTable(prefix, this.family);
      this.byLength.set(prefix, t);
      this.tables = [...this.byLength.values()].sort((a, b) => b.prefix - a.prefix);
    }
    return t;
  }
  drop(prefix: number): void {
    this.byLength.delete(prefix);
    this.tables = this.tables.filter((t) => t.prefix !== prefix);
  }
}

/** `words` <- the network (4 or 16 bytes, from `bytes[at]`; `n` words) masked to `prefix`, as uint32 words. */
function maskInto(bytes: Uint8Array, prefix: number, words: Uint32Array, at = 0, n = bytes.length >> 2): void {
  for (let w = 0; w < n; w++) {
    const b = at + 4 * w;
    const v = ((bytes[b]! << 24) | (bytes[b + 1]! << 16) | (bytes[b + 2]! << 8) | bytes[b + 3]!) >>> 0;
    const bits = prefix - 32 * w;
    words[w] = bits >= 32 ? v : bits <= 0 ? 0 : (v & (0xffffffff << (32 - bits))) >>> 0;
  }
}

function mask32(v: number, bits: number): number {
  return bits >= 32 ? v : bits <= 0 ? 0 : (v & (0xffffffff << (32 - bits))) >>> 0;
}

export class LearnedTable {
  private readonly v4 = new Family(4);
  private readonly v6 = new Family(6);
  /** Choice id -> the precomputed answers of one distinct weight map (view-index.ts learnedChoice). */
  readonly choices: FamilySets[] = [];
  /** Set by computeNesting: from then on insert and delete keep the nesting themselves. */
  private live = false;
  size = 0;
  private readonly scratch = new Uint32Array(4);
  private readonly probe = new Uint32Array(4);
  private readonly hit: LearnedHit = { a: null, aaaa: null, prefix: 0, scopeFloor: 0, nested4: undefined };

  private fam(bytes: Uint8Array): Family {
    return bytes.length === 4 ? this.v4 : this.v6;
  }

  /**
   * Stores `choice` for the network. A network already stored keeps its scope floor and nested list
   * (the set of networks did not change); a new one starts with its own prefix as floor. True when new.
   */
  insert(bytes: Uint8Array, prefix: number, choice: number): boolean {
    return this.insertAt(bytes, 0, bytes.length === 16, prefix, choice);
  }

  /**
   * insert() of the network at `bytes[at]` (16 bytes if `v6`, else 4): a delta's networks packed in
   * one array are stored without a view object per network (20k of them per delta, per runtime).
   */
  insertAt(bytes: Uint8Array, at: number, v6: boolean, prefix: number, choice: number): boolean {
    const f = v6 ? this.v6 : this.v4;
    const t = f.table(prefix, true)!;
    maskInto(bytes, prefix, this.scratch, at, v6 ? 4 : 1);
    const s = t.claim(this.scratch, 0);
    const fresh = t.vals[s] === 0;
    t.vals[s] = choice + 1;
    if (fresh) {
      t.meta[s] = prefix;
      this.size++;
      if (this.live) this.nestAdded(f, t, prefix);
    }
    return fresh;
  }

  /** Removes exactly this network; true when it was stored. A length left empty is dropped. */
  delete(bytes: Uint8Array, prefix: number): boolean {
    return this.deleteAt(bytes, 0, bytes.length === 16, prefix);
  }

  /** delete() of the network at `bytes[at]` (see insertAt). */
  deleteAt(bytes: Uint8Array, at: number, v6: boolean, prefix: number): boolean {
    const f = v6 ? this.v6 : this.v4;
    const t = f.table(prefix, false);
    if (!t) return false;
    maskInto(bytes, prefix, this.scratch, at, v6 ? 4 : 1);
    const s = t.find(this.scratch, 0);
    if (s < 0) return false;
    t.remove(s);
    this.size--;
    if (this.live) {
      t.nests.delete(t.nestKey(this.scratch, 0));
      this.nestRemoved(f, prefix);
    }
    if (t.size === 0) f.drop(prefix);
    return true;
  }

  /** Prefix lengths in use in the family, longest first. */
  lengths(family: 4 | 6): number[] {
    return (family === 4 ? this.v4 : this.v6).tables.map((t) => t.prefix);
  }

  /** Longest prefix length stored for the family (0 when empty). */
  longest(family: 4 | 6): number {
    return (family === 4 ? this.v4 : this.v6).tables[0]?.prefix ?? 0;
  }

  private fill(t: LengthTable, s: number): LearnedHit {
    const h = this.hit;
    const sets = this.choices[t.vals[s]! - 1]!;
    const m = t.meta[s]!;
    h.a = sets.a;
    h.aaaa = sets.aaaa;
    h.prefix = t.prefix;
    h.scopeFloor = m & FLOOR_MASK;
    h.nested4 = m & HAS_LIST ? t.nests.get(t.keys[s]!)!.packed : undefined;
    return h;
  }

  /** Longest stored network of length <= maxPrefix holding `addr` (the reused hit object), if any. */
  find4(addr: number, maxPrefix: number): LearnedHit | undefined {
    const k = this.probe;
    for (const t of this.v4.tables) {
      if (t.prefix > maxPrefix) continue;
      k[0] = mask32(addr, t.prefix);
      const s = t.find(k, 0);
      if (s >= 0) return this.fill(t, s);
    }
    return undefined;
  }

  find6(bytes: Uint8Array, maxPrefix: number): LearnedHit | undefined {
    const k = this.probe;
    for (const t of this.v6.tables) {
      if (t.prefix > maxPrefix) continue;
      maskInto(bytes, t.prefix, k);
      const s = t.find(k, 0);
      if (s >= 0) return this.fill(t, s);
    }
    return undefined;
  }

  /** The stored network exactly, as a fresh object (not the reused hit), if any. */
  getExact(bytes: Uint8Array, prefix: number): LearnedHit | undefined {
    const t = this.fam(bytes).table(prefix, false);
    if (!t) return undefined;
    maskInto(bytes, prefix, this.scratch);
    const s = t.find(this.scratch, 0);
    return s < 0 ? undefined : { ...this.fill(t, s) };
  }

  /** Every stored network with what it answers (fresh objects; for tests and tools, not the query path). */
  *networks(): Generator<{ bytes: Uint8Array; prefix: number; value: LearnedHit }> {
    for (const f of [this.v4, this.v6]) {
      for (const t of f.byLength.values()) {
        for (let s = 0; s < t.capacity(); s++) {
          if (t.vals[s] === 0) continue;
          const bytes = new Uint8Array(f.family === 4 ? 4 : 16);
          for (let w = 0; w < t.words; w++) {
            const v = t.keys[s * t.words + w]!;
            bytes.set([v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255], 4 * w);
          }
          yield { bytes, prefix: t.prefix, value: { ...this.fill(t, s) } };
        }
      }
    }
  }

  /**
   * The scope floors and nested lists: a covering network's answer is not valid across all of it
   * when longer learned networks sit inside it, so its ECS scope must exclude them (choose.ts).
   * `reset`: entries may carry floors from before, so they are first set back to their own prefix.
   * Only a family with two lengths or more can nest anything (an all-/24 table costs one check), and
   * the walk probes each network's shorter lengths in use. Once done, the table is live (header).
   */
  computeNesting(reset: boolean): void {
    for (const f of [this.v4, this.v6]) {
      for (const t of f.tables) {
        t.nests.clear();
        if (reset) for (let s = 0; s < t.capacity(); s++) if (t.vals[s] !== 0) t.meta[s] = t.prefix;
      }
      if (f.tables.length < 2) continue;
      const k = this.probe;
      const touched = new Set<Nest>();
      for (const inner of f.tables) {
        for (let s = 0; s < inner.capacity(); s++) {
          if (inner.vals[s] === 0) continue;
          const at = s * inner.words;
          for (const outer of f.tables) {
            if (outer.prefix >= inner.prefix) continue;
            for (let w = 0; w < outer.words; w++) k[w] = mask32(inner.keys[at + w]!, outer.prefix - 32 * w);
            if (outer.find(k, 0) < 0) continue;
            touched.add(this.count(f, outer, k, inner.prefix, inner.keys[at]!, 1));
          }
        }
      }
      for (const outer of f.tables) {
        for (const [key, nest] of outer.nests) {
          if (touched.has(nest)) this.refresh(outer, key, nest);
        }
      }
    }
    this.live = true;
  }

  /** `delta` (+1/-1) networks of length `prefix` (IPv4: starting at `start`) inside the outer network `k`; its Nest. */
  private count(f: Family, outer: LengthTable, k: Uint32Array, prefix: number, start: number, delta: 1 | -1): Nest {
    const key = outer.nestKey(k, 0);
    let nest = outer.nests.get(key);
    if (!nest) outer.nests.set(key, (nest = { counts: new Map(), total: 0, list: f.family === 4 ? [] : null, packed: undefined }));
    const n = (nest.counts.get(prefix) ?? 0) + delta;
    if (n === 0) nest.counts.delete(prefix);
    else nest.counts.set(prefix, n);
    nest.total += delta;
    if (delta > 0) {
      if (nest.list && nest.total <= NESTED_SCAN_MAX) nest.list.push({ start, prefix });
      else nest.list = null;
    } else if (nest.list) {
      const i = nest.list.findIndex((e) => e.start === start && e.prefix === prefix);
      if (i >= 0) nest.list.splice(i, 1);
    }
    return nest;
  }

  /** Floor, list flag and packed list of the outer network `key` from its Nest (dropped when empty). */
  private refresh(outer: LengthTable, key: number | string, nest: Nest): void {
    const k = this.probe;
    if (typeof key === 'number') k[0] = key;
    else key.split(',').forEach((w, i) => (k[i] = Number(w)));
    const s = outer.find(k, 0);
    if (nest.total === 0) {
      outer.nests.delete(key);
      outer.meta[s] = outer.prefix;
      return;
    }
    let floor = outer.prefix;
    for (const [prefix, n] of nest.counts) if (n > 0 && prefix > floor) floor = prefix;
    nest.packed = nest.list ? { starts: Uint32Array.from(nest.list, (e) => e.start), prefixes: Uint8Array.from(nest.list, (e) => e.prefix) } : undefined;
    outer.meta[s] = floor | (nest.list ? HAS_LIST : 0);
  }

  /** A network of length `prefix` (its masked words in `scratch`) was just stored in `t`: the Nests it changes. */
  private nestAdded(f: Family, t: LengthTable, prefix: number): void {
    this.countInOuters(f, prefix, 1);
    // Longer networks already stored inside the new one.
    const key = t.nestKey(this.scratch, 0);
    const own = this.enumerateInside(f, t.prefix, this.scratch);
    if (own) {
      t.nests.set(key, own);
      this.refresh(t, key, own);
    }
  }

  /** A network of length `prefix` (its masked words in `scratch`) was just removed: the Nests holding it. */
  private nestRemoved(f: Family, prefix: number): void {
    this.countInOuters(f, prefix, -1);
  }

  /** The network in `scratch` (length `prefix`) counted in (+1) or out of (-1) each stored network holding it. */
  private countInOuters(f: Family, prefix: number, delta: 1 | -1): void {
    const k = this.probe;
    const net = this.scratch;
    for (const outer of f.tables) {
      if (outer.prefix >= prefix) continue;
      for (let w = 0; w < outer.words; w++) k[w] = mask32(net[w]!, outer.prefix - 32 * w);
      if (outer.find(k, 0) < 0) continue;
      const key = outer.nestKey(k, 0);
      const nest = this.count(f, outer, k, prefix, net[0]!, delta);
      // Back within the scan limit: the list was not kept while over it, so it is found again.
      if (delta < 0 && f.family === 4 && !nest.list && nest.total > 0 && nest.total <= NESTED_SCAN_MAX) nest.list = this.enumerateInside(f, outer.prefix, k.slice(0, outer.words))!.list;
      this.refresh(outer, key, nest);
    }
  }

  /**
   * The Nest of the network `prefix`/`words` from the longer networks stored inside it (null: none).
   * Per longer length: probe each candidate network when there are fewer of them than that length's
   * slots, else scan its slots — never more than the walk over that one length would cost.
   */
  private enumerateInside(f: Family, prefix: number, words: Uint32Array): Nest | null {
    const found: { start: number; prefix: number }[] = [];
    const counts = new Map<number, number>();
    const cand = new Uint32Array(4);
    const collect = (inner: LengthTable, at: Uint32Array, from: number) => {
      counts.set(inner.prefix, (counts.get(inner.prefix) ?? 0) + 1);
      if (found.length <= NESTED_SCAN_MAX) found.push({ start: at[from]!, prefix: inner.prefix });
    };
    for (const inner of f.tables) {
      if (inner.prefix <= prefix) continue;
      const bits = inner.prefix - prefix;
      if (bits < 30 && 2 ** bits <= inner.capacity()) {
        for (let j = 0; j < 2 ** bits; j++) {
          cand.fill(0);
          for (let w = 0; w < inner.words; w++) cand[w] = words[w] ?? 0;
          // Bits prefix .. inner.prefix-1 (big-endian) <- j.
          for (let b = 0; b < bits; b++) {
            if (((j >>> (bits - 1 - b)) & 1) === 0) continue;
            const pos = prefix + b;
            cand[pos >>> 5] = (cand[pos >>> 5]! | (1 << (31 - (pos & 31)))) >>> 0;
          }
          if (inner.find(cand, 0) >= 0) collect(inner, cand, 0);
        }
      } else {
        for (let s = 0; s < inner.capacity(); s++) {
          if (inner.vals[s] === 0) continue;
          let inside = true;
          for (let w = 0; inside && w * 32 < prefix; w++) inside = mask32(inner.keys[s * inner.words + w]!, prefix - 32 * w) === words[w];
          if (inside) collect(inner, inner.keys, s * inner.words);
        }
      }
    }
    let total = 0;
    for (const n of counts.values()) total += n;
    if (total === 0) return null;
    return { counts, total, list: f.family === 4 && total <= NESTED_SCAN_MAX ? found : null, packed: undefined };
  }
}
