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
  if (!(resolution >= 0) || !Number.isFinite(resolution)) throw new Error(`merge: resolution must be a finite number ≥ 0, got ${resolution}`);
  const groupOf = new Int32Array(rows);
  const representative = new Int32Array(rows);
  let groups = 0;
  // Open addressing on the row hash (no per-row allocation): slot -> group + 1 (0 = empty).
  let size = 16;
  while (size < rows * 2) size <<= 1;
  const mask = size - 1;
  const slots = new Int32Array(size);
  const hashOf = new Int32Array(rows);
  // Each cost is compared by its key: the cost itself, or its bucket ⌊c / r⌋ (compared as a float:
  // costs with failover ranks reach ~1e7, and buckets of 1e-3 ms would overflow an int32). Keys are
  // computed on the fly, not stored: at 129k rows × 200 columns a key matrix would be another 200 MB.
  const inv = resolution > 0 ? 1 / resolution : 0;
  const costBits = new Uint32Array(cost.buffer, cost.byteOffset, cost.length * 2);
  for (let i = 0; i < rows; i++) {
    let h = 0x811c9dc5;
    const base = i * cols;
    if (inv > 0) {
      // The bucket's low 32 bits (|0: +∞ hashes as 0, huge buckets wrap): only a hash; rows are
      // compared on the exact buckets below.
      for (let j = 0; j < cols; j++) h = Math.imul(h ^ (Math.floor(cost[base + j]! * inv) | 0), 0x01000193);
    } else {
      for (let t = base * 2; t < (base + cols) * 2; t++) h = Math.imul(h ^ costBits[t]!, 0x01000193);
    }
    hashOf[i] = h;
    let slot = h & mask;
    let found = -1;
    for (;;) {
      const g = slots[slot]! - 1;
      if (g < 0) break;
      const r = representative[g]!;
      if (hashOf[r] === h) {
        let same = true;
        if (inv > 0) for (let j = 0; j < cols && same; j++) same = Math.floor(cost[r * cols + j]! * inv) === Math.floor(cost[base + j]! * inv);
        else for (let j = 0; j < cols && same; j++) same = cost[r * cols + j] === cost[base + j];
        if (same) {
          found = g;
          break;
        }
      }
      slot = (slot + 1) & mask;
    }
    if (found < 0) {
      found = groups++;
      representative[found] = i;
      slots[slot] = found + 1;
    }
    groupOf[i] = found;
  }
  return { groupOf, groups, representative: representative.slice(0, groups) };
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
  for (let g = 0; g < groups; g++) {
    if (!(demandOut[g]! > 0)) continue;
    for (let j = 0; j < cols; j++) if (out[g * cols + j] !== Infinity) out[g * cols + j] = 0;
  }
  for (let i = 0; i < rows; i++) {
    const d = demand[i]!;
    if (!(d > 0)) continue;
    const g = groupOf[i]!;
    const w = d / demandOut[g]!;
    for (let j = 0; j < cols; j++) {
      const c = cost[i * cols + j]!;
      if (c !== Infinity) out[g * cols + j]! += w * c;
    }
  }
}
