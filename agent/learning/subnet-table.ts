// The per-client-subnet table. Pure data structure, no I/O, no clock (callers pass `nowMs`).
//
// Recency order is the Map's insertion order: touching an entry deletes and re-inserts it, so the first
// key is always the least recently seen subnet. That makes both LRU eviction (drop the first key when
// full) and TTL expiry (drop from the front while expired) O(1) per removed entry, never a scan.
import { newRttStat, foldSample, type RttStat } from './rtt-stat.ts';

export interface SubnetEntry extends RttStat {
  subnet: string;
}

export interface SubnetTableOptions {
  maxSubnets: number;
  ttlMs: number;
  alpha: number;
}

export class SubnetTable {
  private readonly entries = new Map<string, SubnetEntry>();
  /** Subnets dropped because the table was full (LRU). */
  evicted = 0;
  /** Subnets dropped because nothing was seen from them for ttlMs. */
  expired = 0;

  constructor(private readonly opts: SubnetTableOptions) {}

  get size(): number {
    return this.entries.size;
  }

  get(subnet: string): SubnetEntry | undefined {
    return this.entries.get(subnet);
  }

  /** Marks the subnet as seen now (creating it if new) and moves it to the most-recent end. */
  touch(subnet: string, nowMs: number): SubnetEntry {
    let e = this.entries.get(subnet);
    if (e) {
      if (this.entries.size > 1) {
        this.entries.delete(subnet);
        this.entries.set(subnet, e);
      }
      e.lastSeenMs = Math.max(e.lastSeenMs, nowMs);
      return e;
    }
    while (this.entries.size >= this.opts.maxSubnets) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
      this.evicted++;
    }
    e = { subnet, ...newRttStat(nowMs) };
    this.entries.set(subnet, e);
    return e;
  }

  /** Counts one new connection from the subnet (demand). */
  countConnection(subnet: string, nowMs: number): SubnetEntry {
    const e = this.touch(subnet, nowMs);
    e.connections++;
    return e;
  }

  /** Folds a poll's representative RTT for the subnet. */
  observe(subnet: string, valueUs: number, minUs: number, count: number, nowMs: number): SubnetEntry {
    const e = this.touch(subnet, nowMs);
    foldSample(e, valueUs, minUs, count, this.opts.alpha, nowMs);
    return e;
  }

  /** Drops subnets not seen for ttlMs; returns how many. Walks only the expired prefix. */
  expire(nowMs: number): number {
    let n = 0;
    for (const [key, e] of this.entries) {
      if (nowMs - e.lastSeenMs <= this.opts.ttlMs) break;
      this.entries.delete(key);
      n++;
    }
    this.expired += n;
    return n;
  }

  /** Least recently seen first. */
  values(): IterableIterator<SubnetEntry> {
    return this.entries.values();
  }

  /**
   * The `limit` subnets with the most traffic (connections, then samples) among those with at least
   * `minSamples` samples (and an RTT, when minSamples > 0): the ones worth a Prometheus series.
   */
  top(limit: number, minSamples: number): SubnetEntry[] {
    const eligible: SubnetEntry[] = [];
    for (const e of this.entries.values()) if (e.samples >= minSamples && (minSamples === 0 || e.ewmaUs !== undefined)) eligible.push(e);
    const byTraffic = (a: SubnetEntry, b: SubnetEntry) => b.connections - a.connections || b.samples - a.samples || (a.subnet < b.subnet ? -1 : 1);
    if (eligible.length <= limit) return eligible.sort(byTraffic);
    return eligible.sort(byTraffic).slice(0, limit);
  }
}
