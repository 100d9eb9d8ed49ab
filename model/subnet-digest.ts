// A content digest of a learned-subnet table (cidr -> weight map) that can be kept up to date in
// O(changes): the DNS view's version hashes each record's table through it instead of through the
// table's JSON (a full JSON walk and sha256 was ~1 s per publish at 1M subnets).
//
// Model: a multiset hash. Each entry (cidr, weights) gets a 128-bit hash (four independent 32-bit
// lanes, FNV-1a style over the cidr's characters, then each origin id's and the share's float64 bits,
// in the map's key order, finished with murmur3's fmix32); the table's digest is the lane-wise sum
// mod 2^32 of its entries' hashes, with the entry count beside it. Sums commute, so the digest is a
// function of the table's content, not of the order entries were added, and a change of one entry
// moves it by (new hash - old hash): digest(next) = digest(prev) + sum over changed keys.
//
// Invariants:
// - Equal content (same cidrs, each with the same origin ids in the same order and the same shares)
//   gives the same digest on every replica: the version built from it is compared across replicas
//   (model/view-changes.ts). The map's key order counts, as it did in the JSON hash before.
// - Not a cryptographic commitment: it guards against accidental equality (a DNS server wrongly
//   thinking it is up to date), not against an adversary crafting weights, which only the scheduler
//   and operators write.
// - A table handed to digestOf/updateDigest must not change afterwards (digests are cached per table
//   object); the published weights never do (scheduler/loop builds fresh tables every cycle).
import type { WeightMap } from './views.ts';
import { STEP_ITEMS, type Steps } from '../lib/steps.ts';
import { resolvedChangeSteps, type ResolvedChange } from './view-codec.ts';

export interface SubnetDigest {
  /** Lane-wise sums mod 2^32 of the entries' hashes. */
  lanes: Uint32Array;
  count: number;
}

const SEEDS = [0x811c9dc5, 0x2f4a7c15, 0x9e3779b9, 0x6a09e667];
const PRIMES = [0x01000193, 0x01000197, 0x0100019d, 0x010001a5];
const f64 = new Float64Array(1);
const f64Words = new Uint32Array(f64.buffer);
const scratch = new Uint32Array(4);

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The 128-bit hash of one entry, into `scratch`: the four lanes fed in one pass over the characters
 * (each lane is still its own FNV-style chain; one pass reads each character and share once instead
 * of four times: the hash of a changed entry was most of a publish's version at 1M).
 */
function entryHash(cidr: string, weights: WeightMap): Uint32Array {
  const [p0, p1, p2, p3] = PRIMES as [number, number, number, number];
  let h0 = SEEDS[0]!;
  let h1 = SEEDS[1]!;
  let h2 = SEEDS[2]!;
  let h3 = SEEDS[3]!;
  for (let i = 0; i < cidr.length; i++) {
    const c = cidr.charCodeAt(i);
    h0 = Math.imul(h0 ^ c, p0);
    h1 = Math.imul(h1 ^ c, p1);
    h2 = Math.imul(h2 ^ c, p2);
    h3 = Math.imul(h3 ^ c, p3);
  }
  // Separators outside a character's range (0x100 after the ASCII cidr, 0x10000 + length before each
  // origin id), so no two different entries feed the same sequence.
  h0 = Math.imul(h0 ^ 0x100, p0);
  h1 = Math.imul(h1 ^ 0x100, p1);
  h2 = Math.imul(h2 ^ 0x100, p2);
  h3 = Math.imul(h3 ^ 0x100, p3);
  for (const id in weights) {
    const sep = 0x10000 + id.length;
    h0 = Math.imul(h0 ^ sep, p0);
    h1 = Math.imul(h1 ^ sep, p1);
    h2 = Math.imul(h2 ^ sep, p2);
    h3 = Math.imul(h3 ^ sep, p3);
    for (let i = 0; i < id.length; i++) {
      const c = id.charCodeAt(i);
      h0 = Math.imul(h0 ^ c, p0);
      h1 = Math.imul(h1 ^ c, p1);
      h2 = Math.imul(h2 ^ c, p2);
      h3 = Math.imul(h3 ^ c, p3);
    }
    f64[0] = weights[id]!;
    const lo = f64Words[0]!;
    const hi = f64Words[1]!;
    h0 = Math.imul(Math.imul(h0 ^ lo, p0) ^ hi, p0);
    h1 = Math.imul(Math.imul(h1 ^ lo, p1) ^ hi, p1);
    h2 = Math.imul(Math.imul(h2 ^ lo, p2) ^ hi, p2);
    h3 = Math.imul(Math.imul(h3 ^ lo, p3) ^ hi, p3);
  }
  scratch[0] = fmix32(h0 ^ 0);
  scratch[1] = fmix32(h1 ^ 1);
  scratch[2] = fmix32(h2 ^ 2);
  scratch[3] = fmix32(h3 ^ 3);
  return scratch;
}

function add(d: SubnetDigest, cidr: string, weights: WeightMap, sign: 1 | -1): void {
  const h = entryHash(cidr, weights);
  for (let lane = 0; lane < 4; lane++) d.lanes[lane] = d.lanes[lane]! + sign * h[lane]!;
  d.count += sign;
}

/** The digest of a whole table, in steps (lib/steps.ts). `keys`: its keys in any order (a cached list). */
export function* digestSteps(table: Record<string, WeightMap>, keys: readonly string[]): Steps<SubnetDigest> {
  const d: SubnetDigest = { lanes: new Uint32Array(4), count: 0 };
  for (let i = 0; i < keys.length; i++) {
    add(d, keys[i]!, table[keys[i]!]!, 1);
    if (i % STEP_ITEMS === STEP_ITEMS - 1) yield;
  }
  return d;
}

/**
 * The digest of `next` from the digest of `prev`, given every key whose entry may differ between the
 * two (`changed` may name unchanged keys too; a key it misses makes the result wrong, which is why
 * callers take the keys from the publish itself). O(changed).
 */
export function* updateDigestSteps(prevDigest: SubnetDigest, prev: Record<string, WeightMap>, next: Record<string, WeightMap>, changed: readonly string[]): Steps<SubnetDigest> {
  return yield* movedDigestSteps(prevDigest, yield* resolvedChangeSteps({ from: prev, keys: changed }, next));
}

/** The digest of `change.to` from the digest of `change.from` (prevDigest): O(entries changed). */
export function* movedDigestSteps(prevDigest: SubnetDigest, change: ResolvedChange): Steps<SubnetDigest> {
  const d: SubnetDigest = { lanes: new Uint32Array(prevDigest.lanes), count: prevDigest.count };
  const { cidrs, was, now } = change;
  for (let i = 0; i < cidrs.length; i++) {
    const before = was[i];
    const after = now[i];
    if (before) add(d, cidrs[i]!, before, -1);
    if (after) add(d, cidrs[i]!, after, 1);
    if (i % STEP_ITEMS === STEP_ITEMS - 1) yield;
  }
  return d;
}

/** The digest as text: the entry count and the four lanes in hex. */
export function digestText(d: SubnetDigest): string {
  return `${d.count}:${[...d.lanes].map((x) => x.toString(16).padStart(8, '0')).join('')}`;
}
