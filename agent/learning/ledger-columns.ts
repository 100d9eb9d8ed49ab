// The export ledger's memory of each covered subnet (export-ledger.ts), as typed-array columns behind one
// Map from the subnet (the table's own string) to a slot. At 100k subnets a record object per subnet
// held 14.5 MB of the collector's heap (its numbers boxed); the columns hold ~7. Slots of subnets the
// ledger forgets are reused through a free list; columns grow by doubling.

import { resized } from './columns.ts';

const INITIAL_SLOTS = 1024;

export class LedgerColumns {
  private readonly index = new Map<string, number>();
  /** Totals at the last export the subnet was counted at. */
  connections = new Float64Array(INITIAL_SLOTS);
  samples = new Float64Array(INITIAL_SLOTS);
  connectionSeconds = new Float64Array(INITIAL_SLOTS);
  closes = new Float64Array(INITIAL_SLOTS);
  /** The export it was last counted at. */
  stamp = new Float64Array(INITIAL_SLOTS);
  /** 1: counted in an aggregate at some export since it was last uncovered. */
  aggregated = new Uint8Array(INITIAL_SLOTS);
  /** The entry it was counted in (the plan's prefix string, shared). */
  entry: string[] = [];
  private readonly free: number[] = [];
  private used = 0;

  slotOf(subnet: string): number | undefined {
    return this.index.get(subnet);
  }

  /** A new slot for the subnet, zeroed, stamped `stamp`. */
  add(subnet: string, stamp: number): number {
    let i = this.free.pop();
    if (i === undefined) {
      if (this.used === this.stamp.length) this.grow();
      i = this.used++;
    }
    this.index.set(subnet, i);
    this.connections[i] = this.samples[i] = this.connectionSeconds[i] = this.closes[i] = 0;
    this.aggregated[i] = 0;
    this.stamp[i] = stamp;
    return i;
  }

  /** Forgets every subnet not stamped `stamp`. */
  keepOnly(stamp: number): void {
    for (const [subnet, i] of this.index) {
      if (this.stamp[i] === stamp) continue;
      this.index.delete(subnet);
      this.entry[i] = '';
      this.free.push(i);
    }
  }

  private grow(): void {
    const size = this.stamp.length * 2;
    this.connections = resized(this.connections, size);
    this.samples = resized(this.samples, size);
    this.connectionSeconds = resized(this.connectionSeconds, size);
    this.closes = resized(this.closes, size);
    this.stamp = resized(this.stamp, size);
    this.aggregated = resized(this.aggregated, size);
  }
}
