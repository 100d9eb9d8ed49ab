// One record's learned subnet table as the process that follows the API holds it (the cluster primary,
// or the single process): packed into typed arrays instead of an object keyed by subnet. A
// million-key object (and the million strings it keys on) made every full collection of that heap
// mark a million objects: 0.1-0.9 s pauses every few deltas, measured (bench/README.md view-delta).
// Here the heap holds a few typed arrays and the distinct weight maps (a few thousand); the subnets'
// text lives in one byte arena.
//
// Model: entries in arrival order (a subnet set again keeps its place, one removed and set again goes
// last: the order an object keyed by subnet iterates in), each entry four int32s side by side in
// `ent` (one cache line per lookup, not one per field): its string hash, its weight map's index in
// `maps` (REMOVED once deleted: a tombstone), its text's place in the arena and its length (a text
// that is not short ASCII is kept as a string in `wide`, its place then -1 - its index there). An
// open-addressing hash over the string hashes (`slots`, linear probing, at most half full) finds a
// subnet's live entry.
//
// Costs: set/delete O(1) amortised, so a delta costs O(changes); the tombstones are dropped (the
// arrays rebuilt, in order) once they outnumber a quarter of the live entries; rendering the compact
// table (a worker's full view, the view cache) O(n) and never changes the table.
//
// Invariant: the table rendered equals compactSubnets(Object.entries(t)) for the object t that the
// same full table and deltas would have built (same subnets, same order, maps numbered by first use).
import type { WeightMap } from '../../model/views.ts';
import type { CompactSubnets } from '../../model/view-changes.ts';
import { forEachCompact } from '../../model/view-codec.ts';
import { runToEnd, STEP_ITEMS, type Steps } from '../../lib/steps.ts';

const REMOVED = -1;
const EMPTY = -1;
/** Texts at most this long and all ASCII go into the arena; anything else (a malformed subnet) stays a string. */
const ARENA_MAX_LEN = 255;
const MIN_COMPACT_DEAD = 4096;
/** Fields of an entry in `ent`. */
const HASH = 0;
const MAP = 1;
const START = 2;
const LEN = 3;
const STRIDE = 4;

/** FNV-1a over the string's UTF-16 units, then murmur3's finaliser (the slots are indexed by its low bits). */
function hashOf(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

export class PackedSubnets {
  private count = 0;
  private dead = 0;
  private ent: Int32Array;
  private arena: Buffer;
  private arenaUsed = 0;
  private wide: string[] = [];
  private slots: Int32Array;
  private maps: WeightMap[] = [];
  /** JSON text of a weight map -> its index in `maps`. */
  private readonly mapIndex = new Map<string, number>();

  constructor(capacity = 16) {
    const cap = Math.max(16, capacity);
    this.ent = new Int32Array(cap * STRIDE);
    this.arena = Buffer.allocUnsafe(cap * 16);
    this.slots = new Int32Array(slotsFor(cap)).fill(EMPTY);
  }

  /** A compact table (as the API sends it), checked element by element (throws ViewDecodeError naming `where`). */
  static fromCompact(c: CompactSubnets, where: string): PackedSubnets {
    const t = new PackedSubnets(withHeadroom(Array.isArray(c.cidrs) ? c.cidrs.length : 0));
    const local = Array.isArray(c.maps) ? c.maps.map((m) => t.internMap(m)) : [];
    let i = 0;
    forEachCompact(c, where, (cidr) => t.setIndex(cidr, local[c.map[i++]!]!));
    return t;
  }

  /** An object keyed by subnet (a view file, the older GET /dns/view), in its key order. */
  static fromObject(subnets: Record<string, WeightMap>): PackedSubnets {
    const t = new PackedSubnets();
    const byObject = new Map<WeightMap, number>();
    for (const cidr in subnets) {
      const w = subnets[cidr]!;
      let m = byObject.get(w);
      if (m === undefined) byObject.set(w, (m = t.internMap(w)));
      t.setIndex(cidr, m);
    }
    return t;
  }

  /** Live subnets. */
  get size(): number {
    return this.count - this.dead;
  }

  get(cidr: string): WeightMap | undefined {
    const e = this.find(cidr, hashOf(cidr));
    return e < 0 ? undefined : this.maps[this.ent[e * STRIDE + MAP]!];
  }

  /**
   * A delta's change to this table: `set` (a compact table) then `removed`, as applyChanges does to an
   * object. The caller has checked both (checkChanges): nothing here throws on their content.
   * `mapTexts`: JSON.stringify of each of `set.maps` when the caller has them (ViewDelta.mapTexts).
   */
  apply(set: CompactSubnets, removed: readonly string[], mapTexts?: readonly string[]): void {
    const local = set.maps.map((m, i) => this.internMap(m, mapTexts?.[i]));
    // Each loop a method of its own: in one, V8 compiled this on the stack in the first loop and threw
    // that code away on reaching the second, once per delta (--trace-deopt); small, they stay compiled.
    this.setAll(set.cidrs, set.map, local);
    this.deleteAll(removed);
    if (this.dead > MIN_COMPACT_DEAD && this.dead * 4 > this.size) this.compact();
  }

  private setAll(cidrs: readonly string[], map: readonly number[], local: readonly number[]): void {
    for (let i = 0; i < cidrs.length; i++) this.setIndex(cidrs[i]!, local[map[i]!]!);
  }

  private deleteAll(removed: readonly string[]): void {
    for (const cidr of removed) this.delete(cidr);
  }

  delete(cidr: string): boolean {
    const e = this.find(cidr, hashOf(cidr));
    if (e < 0) return false;
    this.ent[e * STRIDE + MAP] = REMOVED;
    this.dead++;
    return true;
  }

  /** Live entries in order, as [subnet, weights]. */
  *entries(): Generator<[string, WeightMap]> {
    for (let e = 0; e < this.count; e++) {
      const m = this.ent[e * STRIDE + MAP]!;
      if (m !== REMOVED) yield [this.textOf(e), this.maps[m]!];
    }
  }

  /** The compact table: live subnets in order, the maps they use numbered by first use (compactSubnets' form). */
  toCompact(): CompactSubnets {
    return runToEnd(this.toCompactSteps());
  }

  /** toCompact in steps (lib/steps.ts): the view cache writes a 1M table paced. */
  *toCompactSteps(): Steps<CompactSubnets> {
    const renumber = new Int32Array(this.maps.length).fill(-1);
    const maps: WeightMap[] = [];
    const cidrs: string[] = [];
    const map: number[] = [];
    for (let e = 0; e < this.count; e++) {
      const m = this.ent[e * STRIDE + MAP]!;
      if (m === REMOVED) continue;
      let r = renumber[m]!;
      if (r < 0) {
        r = renumber[m] = maps.length;
        maps.push(this.maps[m]!);
      }
      cidrs.push(this.textOf(e));
      if (map.push(r) % STEP_ITEMS === 0) yield;
    }
    return { maps, cidrs, map };
  }

  /** The index of `w` in `maps` (equal maps written alike share one: keyed by their JSON text). */
  private internMap(w: WeightMap, key = JSON.stringify(w)): number {
    let m = this.mapIndex.get(key);
    if (m === undefined) {
      m = this.maps.length;
      this.maps.push(w);
      this.mapIndex.set(key, m);
    }
    return m;
  }

  private setIndex(cidr: string, m: number): void {
    const h = hashOf(cidr);
    const e = this.find(cidr, h);
    if (e >= 0) {
      this.ent[e * STRIDE + MAP] = m;
      return;
    }
    if ((this.count + 1) * STRIDE > this.ent.length) this.grow();
    const n = this.count++;
    const at = n * STRIDE;
    this.ent[at + HASH] = h;
    this.ent[at + MAP] = m;
    if (!this.toArena(at, cidr)) {
      this.ent[at + START] = -1 - this.wide.length;
      this.wide.push(cidr);
    }
    if ((this.count + 1) * 2 > this.slots.length) this.rehash(slotsFor(this.ent.length / STRIDE));
    else this.place(n);
  }

  /** Writes `cidr` into the arena for the entry at `at`; false (nothing written) when it is not short ASCII. */
  private toArena(at: number, cidr: string): boolean {
    const len = cidr.length;
    if (len > ARENA_MAX_LEN) return false;
    if (this.arenaUsed + len > this.arena.length) this.arena = copyInto(Buffer.allocUnsafe(Math.max(this.arena.length * 2, this.arenaUsed + len)), this.arena, this.arenaUsed);
    const a = this.arena;
    const from = this.arenaUsed;
    for (let i = 0; i < len; i++) {
      const c = cidr.charCodeAt(i);
      if (c > 0x7f) return false;
      a[from + i] = c;
    }
    this.ent[at + START] = from;
    this.ent[at + LEN] = len;
    this.arenaUsed = from + len;
    return true;
  }

  /** The live entry for `cidr` (hash `h`), or -1. */
  private find(cidr: string, h: number): number {
    const mask = this.slots.length - 1;
    const ent = this.ent;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const e = this.slots[i]!;
      if (e === EMPTY) return -1;
      const at = e * STRIDE;
      if (ent[at + HASH] === h && ent[at + MAP] !== REMOVED && this.textIs(at, cidr)) return e;
    }
  }

  private textIs(at: number, cidr: string): boolean {
    const s = this.ent[at + START]!;
    if (s < 0) return this.wide[-1 - s] === cidr;
    const n = this.ent[at + LEN]!;
    if (n !== cidr.length) return false;
    const a = this.arena;
    for (let i = 0; i < n; i++) if (a[s + i] !== cidr.charCodeAt(i)) return false;
    return true;
  }

  private textOf(e: number): string {
    const s = this.ent[e * STRIDE + START]!;
    return s < 0 ? this.wide[-1 - s]! : this.arena.toString('latin1', s, s + this.ent[e * STRIDE + LEN]!);
  }

  private place(e: number): void {
    const mask = this.slots.length - 1;
    let i = this.ent[e * STRIDE + HASH]! & mask;
    while (this.slots[i] !== EMPTY) i = (i + 1) & mask;
    this.slots[i] = e;
  }

  private rehash(size: number): void {
    this.slots = new Int32Array(size).fill(EMPTY);
    for (let e = 0; e < this.count; e++) if (this.ent[e * STRIDE + MAP] !== REMOVED) this.place(e);
  }

  private grow(): void {
    const ent = new Int32Array(this.ent.length * 2);
    ent.set(this.ent.subarray(0, this.count * STRIDE));
    this.ent = ent;
  }

  /** Drops the tombstones, the text only they used and the maps no live entry uses; the order stays. */
  private compact(): void {
    const ent = new Int32Array(withHeadroom(this.size) * STRIDE);
    const arena = Buffer.allocUnsafe(Math.max(16, this.arenaUsed));
    const wide: string[] = [];
    const renumber = new Int32Array(this.maps.length).fill(-1);
    const maps: WeightMap[] = [];
    let used = 0;
    let n = 0;
    for (let e = 0; e < this.count; e++) {
      const from = e * STRIDE;
      const m = this.ent[from + MAP]!;
      if (m === REMOVED) continue;
      if (renumber[m]! < 0) {
        renumber[m] = maps.length;
        maps.push(this.maps[m]!);
      }
      const to = n * STRIDE;
      ent[to + HASH] = this.ent[from + HASH]!;
      ent[to + MAP] = renumber[m]!;
      const s = this.ent[from + START]!;
      if (s < 0) {
        ent[to + START] = -1 - wide.length;
        wide.push(this.wide[-1 - s]!);
      } else {
        const len = this.ent[from + LEN]!;
        ent[to + START] = used;
        ent[to + LEN] = len;
        used += this.arena.copy(arena, used, s, s + len);
      }
      n++;
    }
    this.ent = ent;
    this.arena = arena;
    this.arenaUsed = used;
    this.wide = wide;
    this.maps = maps;
    this.count = n;
    this.dead = 0;
    this.mapIndex.clear();
    maps.forEach((w, i) => this.mapIndex.set(JSON.stringify(w), i));
    this.rehash(slotsFor(ent.length / STRIDE));
  }
}

/** Room for the subnets a few deltas add before the arrays grow (each growth copies them all). */
function withHeadroom(n: number): number {
  return n + (n >> 3) + 1024;
}

/** The smallest power of two holding `entries` at most half full. */
function slotsFor(entries: number): number {
  let s = 32;
  while (s < entries * 2) s *= 2;
  return s;
}

function copyInto(to: Buffer, from: Buffer, n: number): Buffer {
  from.copy(to, 0, 0, n);
  return to;
}
