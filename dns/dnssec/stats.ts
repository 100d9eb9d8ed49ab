// DNSSEC accounting on the query path: plain increments into one Float64Array (which may live in a
// SharedArrayBuffer, so a serving thread and the thread rendering metrics can share it), exposed as
// Prometheus metrics at scrape time by dnssec/metrics.ts. Besides counters it holds, per zone slot
// (ZoneKeys.slot: the zone's place among the key directory's zones, the same in every thread that
// loaded it), the earliest expiration among the signatures served since the last scrape.

/** Seconds; one ECDSA P-256 signature costs ~30–100 µs on a loaded 2-core machine. */
export const SIGN_BUCKETS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.005] as const;

const SIGNATURES = 0;
const HITS = 1;
const MISSES = 2;
const UNSIGNED = 3;
const SUM = 4;
const COUNT = 5;
const CACHE_ENTRIES = 6;
const BUCKETS = 7;
/** Zones whose next signature expiry is tracked (a key directory holding more is unusual). */
export const ZONE_SLOTS = 64;
const EXPIRY = BUCKETS + SIGN_BUCKETS.length + 1;
const LENGTH = EXPIRY + ZONE_SLOTS;

export class DnssecStats {
  static readonly BYTES = LENGTH * 8;
  private readonly v: Float64Array;

  constructor(buffer?: SharedArrayBuffer) {
    this.v = buffer ? new Float64Array(buffer, 0, LENGTH) : new Float64Array(LENGTH);
  }

  /** The memory behind the counters (a SharedArrayBuffer when shared with a serving thread). */
  get buffer(): ArrayBufferLike {
    return this.v.buffer;
  }

  /** An answer needed signatures and found them cached (hit) or had to make them (miss). */
  hit(): void {
    this.v[HITS]! += 1;
  }

  miss(): void {
    this.v[MISSES]! += 1;
  }

  /** A DO answer in a signed zone went out without RRSIGs: no key signs the zone right now. */
  unsigned(): void {
    this.v[UNSIGNED]! += 1;
  }

  observeSign(seconds: number): void {
    const v = this.v;
    v[SIGNATURES]! += 1;
    v[SUM]! += seconds;
    v[COUNT]! += 1;
    let i = 0;
    while (i < SIGN_BUCKETS.length && seconds > SIGN_BUCKETS[i]!) i++;
    v[BUCKETS + i]! += 1;
  }

  set cacheEntries(n: number) {
    this.v[CACHE_ENTRIES] = n;
  }
  get cacheEntries(): number {
    return this.v[CACHE_ENTRIES]!;
  }

  /** A signature expiring at `t` (seconds) was served for the zone in `slot` (-1: untracked). */
  served(slot: number, t: number): void {
    if (slot < 0) return;
    const cur = this.v[EXPIRY + slot]!;
    if (cur === 0 || t < cur) this.v[EXPIRY + slot] = t;
  }

  /** The earliest expiry served for `slot` since the last call (0: none), and resets it. */
  takeExpiry(slot: number): number {
    const t = this.v[EXPIRY + slot]!;
    this.v[EXPIRY + slot] = 0;
    return t;
  }

  get signatures(): number {
    return this.v[SIGNATURES]!;
  }
  get hits(): number {
    return this.v[HITS]!;
  }
  get misses(): number {
    return this.v[MISSES]!;
  }
  get unsignedAnswers(): number {
    return this.v[UNSIGNED]!;
  }
  get signSeconds(): { sum: number; count: number; buckets: number[] } {
    return { sum: this.v[SUM]!, count: this.v[COUNT]!, buckets: Array.from(this.v.subarray(BUCKETS, EXPIRY)) };
  }
}
