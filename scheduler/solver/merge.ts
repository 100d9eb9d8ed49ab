// Merging interchangeable sources. Thousands of client subnets behind the same resolver or PoP have the
// same, or nearly the same, cost vector; they are one row to the LP (their demands add up) and get the
// same shares.
//
// Exact (resolution 0): rows whose cost vectors are bit-identical. Quantised (resolution r > 0): rows
// whose every cost falls in the same bucket ⌊c / r⌋ — so the same allowed set (+∞ is its own bucket)
// and, column by column, costs less than r apart. The merged row's cost is the demand-weighted mean of
// its members' (mergedCosts), so the merged LP's objective of any merged flow is exactly the true
// objective of giving every member its group's shares. The bound, for the whole LP objective (latency
// plus the load terms, which depend only on column loads and so are the same either way):
//     exact optimum ≤ true objective of the merged optimum ≤ exact optimum + r · total demand
// (right: the exact optimum's flows summed per group are feasible for the merged LP and cost at most
// r per unit more there, every member's cost being within r of the group's mean). In demand-weighted
// latency: the merged plan is at most r ms worse than the exact one. Measured RTT noise (several ms
// between probes of one pair) is larger than the default r (scheduler config merge_resolution_ms).
//
// Measured on the scale harness's 1M-subnet problem (128,850 sources × 200 origins; bench/README.md):
// r = 0.5 / 1 / 2 / 5 ms merges 1.66× / 1.95× / 2.32× / 2.91×, and the merged plan's demand-weighted
// latency is 0.0001 / 0.0006 / 0.003 / 0.015 ms above the exact optimum — far inside the bound. The
// default, 2 ms, is the largest of these whose bound stays below the RTT noise.
/** Scheduler config merge_resolution_ms's default (the header has the measurement behind it). */
export const DEFAULT_MERGE_RESOLUTION_MS = 2;

export interface MergedRows {
  /** Row index in the merged problem for every original row. */
  groupOf: Int32Array;
  /** Number of merged rows. */
  groups: number;
  /** An original row per merged row (its representative). */
  representative: Int32Array;
}

/** Bit-identical rows only (mergeRows with resolution 0). */
export function mergeIdenticalRows(cost: Float64Array, rows: number, cols: number): MergedRows {
  return mergeRows(cost, rows, cols, 0);
}

/** Groups rows whose costs agree bucket by bucket (resolution > 0) or bit for bit (0); see the header. */
export function mergeRows(cost: Float64Array, rows: number, cols: number, resolution: number): MergedRows {
  const grouper = new RowGrouper(rows, cols, resolution);
  for (let i = 0; i < rows; i++) grouper.add(i, cost, i * cols);
  return grouper.result();
}

/**
 * mergeRows one row at a time, for callers that compute each row's costs and need not keep them all
 * (core/merged-costs.ts: at 1M subnets the sources × origins cost matrix is 206 MB, written once and
 * read three times). Rows must be added in order, 0 to rows − 1. Where a group's first row (its
 * representative) is compared from: by default the array the rows are added from, at the
 * representative's own offset (mergeRows: the whole matrix); with `keep`, a copy of each
 * representative's costs made as its group is opened, group after group — the merged cost matrix's
 * layout, which `keep.grow` enlarges (contents kept) when a group needs more room.
 */
export class RowGrouper {
  readonly groupOf: Int32Array;
  private readonly representative: Int32Array;
  private groups = 0;
  // Open addressing on the row hash (no per-row allocation): slot -> group + 1 (0 = empty).
  private readonly slots: Int32Array;
  private readonly mask: number;
  private readonly groupHash: Int32Array;
  // Each cost is compared by its key: the cost itself, or its bucket ⌊c / r⌋ (compared as a float:
  // costs with failover ranks reach ~1e7, and buckets of 1e-3 ms would overflow an int32). Keys are
  // computed on the fly, not stored: at 129k rows × 200 columns a key matrix would be another 200 MB.
  private readonly inv: number;
  private bitsOf: Float64Array | null = null;
  private bits: Uint32Array = new Uint32Array(0);
  /** With `keep`: the representatives' costs, group-major. */
  kept: Float64Array;

  constructor(
    rows: number,
    private readonly cols: number,
    resolution: number,
    private readonly keep?: { into: Float64Array; grow: (length: number, used: number) => Float64Array },
  ) {
    if (!(resolution >= 0) || !Number.isFinite(resolution)) throw new Error(`merge: resolution must be a finite number ≥ 0, got ${resolution}`);
    this.groupOf = new Int32Array(rows);
    this.representative = new Int32Array(rows);
    this.groupHash = new Int32Array(rows);
    let size = 16;
    while (size < rows * 2) size <<= 1;
    this.mask = size - 1;
    this.slots = new Int32Array(size);
    this.inv = resolution > 0 ? 1 / resolution : 0;
    this.kept = keep?.into ?? new Float64Array(0);
  }

  /** Row i (costs at row[at .. at + cols)) into its group; returns the group. */
  add(i: number, row: Float64Array, at: number): number {
    const { cols, inv, mask, slots, representative, groupHash } = this;
    let h = 0x811c9dc5;
    if (inv > 0) {
      // The bucket's low 32 bits (|0: +∞ hashes as 0, huge buckets wrap): only a hash; rows are
      // compared on the exact buckets below.
      for (let j = 0; j < cols; j++) h = Math.imul(h ^ (Math.floor(row[at + j]! * inv) | 0), 0x01000193);
    } else {
      if (this.bitsOf !== row) {
        this.bitsOf = row;
        this.bits = new Uint32Array(row.buffer, row.byteOffset, row.length * 2);
      }
      const bits = this.bits;
      for (let t = at * 2; t < (at + cols) * 2; t++) h = Math.imul(h ^ bits[t]!, 0x01000193);
    }
    let slot = h & mask;
    let found = -1;
    for (;;) {
      const g = slots[slot]! - 1;
      if (g < 0) break;
      if (groupHash[g] === h) {
        const ref = this.keep ? this.kept : row;
        const refAt = this.keep ? g * cols : representative[g]! * cols;
        let same = true;
        if (inv > 0) for (let j = 0; j < cols && same; j++) same = Math.floor(ref[refAt + j]! * inv) === Math.floor(row[at + j]! * inv);
        else for (let j = 0; j < cols && same; j++) same = ref[refAt + j] === row[at + j];
        if (same) {
          found = g;
          break;
        }
      }
      slot = (slot + 1) & mask;
    }
    if (found < 0) {
      found = this.groups++;
      representative[found] = i;
      groupHash[found] = h;
      slots[slot] = found + 1;
      if (this.keep) {
        if (this.kept.length < this.groups * cols) this.kept = this.keep.grow(this.groups * cols, found * cols);
        this.kept.set(row.subarray(at, at + cols), found * cols);
      }
    }
    this.groupOf[i] = found;
    return found;
  }

  result(): MergedRows {
    return { groupOf: this.groupOf, groups: this.groups, representative: this.representative.slice(0, this.groups) };
  }
}

/**
 * The merged rows' costs into `out` (groups × cols) and demands into `demandOut`: the representative's
 * costs when the merge was exact (they are all the same), else the demand-weighted mean of the members'
 * (a group without demand: its representative's) — what makes the header's bound hold.
 */
export function mergedCosts(m: MergedRows, cost: Float64Array, demand: Float64Array, cols: number, exact: boolean, out: Float64Array, demandOut: Float64Array): void {
  const { groupOf, groups, representative } = m;
  const rows = groupOf.length;
  demandOut.fill(0, 0, groups);
  for (let i = 0; i < rows; i++) demandOut[groupOf[i]!]! += demand[i]!;
  for (let g = 0; g < groups; g++) out.set(cost.subarray(representative[g]! * cols, representative[g]! * cols + cols), g * cols);
  if (exact) return;
  // Weighted means over the members with demand, summed in place (no groups × cols scratch: 100 MB at
  // 1M subnets); +∞ stays +∞ (a bucket is all-infinite or all-finite).
  clearWeighted(out, demandOut, groups, cols);
  for (let i = 0; i < rows; i++) {
    const d = demand[i]!;
    if (!(d > 0)) continue;
    const g = groupOf[i]!;
    addWeighted(out, g * cols, cost, i * cols, cols, d / demandOut[g]!);
  }
}

/** Clears the finite costs of the groups with demand (and `only` them, if given): the start of their weighted means (mergedCosts). */
export function clearWeighted(out: Float64Array, demandOut: Float64Array, groups: number, cols: number, only?: (g: number) => boolean): void {
  for (let g = 0; g < groups; g++) {
    if (!(demandOut[g]! > 0) || (only && !only(g))) continue;
    for (let j = 0; j < cols; j++) if (out[g * cols + j] !== Infinity) out[g * cols + j] = 0;
  }
}

/** One member's share of its group's weighted mean: w × its costs, +∞ left as it is. */
export function addWeighted(out: Float64Array, outAt: number, cost: Float64Array, at: number, cols: number, w: number): void {
  for (let j = 0; j < cols; j++) {
    const c = cost[at + j]!;
    if (c !== Infinity) out[outAt + j]! += w * c;
  }
}
