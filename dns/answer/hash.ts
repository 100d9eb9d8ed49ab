// Sticky choice: a subnet is mapped to a point u in [0,1) by a hash of its masked address and the
// record, and u picks an origin on the cumulative weight line. No random draw per query: a resolver
// asking again gets the same answer, and over many subnets the split follows the weights.
//
// The weights version is deliberately NOT hashed in: origins sit on the line in a fixed order (by id),
// so when the scheduler moves a share by 2 % only ~2 % of subnets change origin. Hashing the version
// would re-deal about half of all subnets on every publish (every 15 s), flapping resolver caches for
// nothing. The answer for a subnet therefore stays the same exactly as long as its weights do.

/** murmur3's 32-bit finaliser: full avalanche on a 32-bit input. */
export function mix32(x: number): number {
  let h = x | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over a string's char codes (record seeds). */
export function fnv1aString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i) & 0xff;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const TWO_POW_32 = 4294967296;

/** Point on [0,1) for an IPv4 network (already masked) of a given prefix length. */
export function pointV4(masked: number, prefix: number, seed: number): number {
  return mix32(mix32(masked ^ seed) ^ Math.imul(prefix + 1, 0x9e3779b1)) / TWO_POW_32;
}

/** Point on [0,1) for an IPv6 network: FNV-1a over the first ceil(prefix/8) masked bytes. */
export function pointV6(bytes: Uint8Array, prefix: number, seed: number): number {
  let h = seed ^ 0x811c9dc5;
  const n = (prefix + 7) >> 3;
  const tailMask = prefix & 7 ? (0xff << (8 - (prefix & 7))) & 0xff : 0xff;
  for (let i = 0; i < n; i++) {
    const b = i === n - 1 ? bytes[i]! & tailMask : bytes[i]!;
    h ^= b;
    h = Math.imul(h, 0x01000193);
  }
  return mix32(h ^ Math.imul(prefix + 1, 0x9e3779b1)) / TWO_POW_32;
}

/** Index of the slot of u on a cumulative line (last entry 1). */
export function pickCumulative(cum: Float64Array, u: number): number {
  const last = cum.length - 1;
  for (let i = 0; i < last; i++) if (u < cum[i]!) return i;
  return last;
}
