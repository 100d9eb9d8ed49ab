// The merged rows' costs built straight from the problem, without the sources × origins cost matrix.
//
// The LP sees merged rows only (solver/merge.ts): sources whose costs agree bucket by bucket are one row
// at their demand-weighted mean. Built the plain way, every source's costs are written into the
// matrix (206 MB at 1M subnets × 200 origins), then read to group the rows, read again for the
// representatives and again for the means — four passes over memory that does not fit any cache, and
// in the decision worker's first decision the matrix's pages are faulted in besides: 0.9 s of costs
// and 0.5 s of merge in a 1M cycle beside Prometheus (bench/README.md "The cold solve and the costs").
//
// Here each source's row is computed into one row of scratch (costs.ts CostRows, then the stickiness
// of stickiness.ts), grouped at once (merge.ts RowGrouper, which keeps each group's first row as its
// representative), and computed a second time to add its share of its group's mean once every group's
// demand is known. Computing a row costs less than storing and re-reading it (a location's estimates
// are one cached row: costs.ts). The groups, the merged costs and demands are the ones mergeRows and
// mergedCosts give on the full matrix, to the bit: the same rows in the same order through the same
// arithmetic (merged-costs.test.ts).
//
// Only for the latency and balance policies without overrides: failover's ranks need every row's
// latency first (their step is set by the whole matrix's range), the weighted policy reads the matrix
// itself, and the bounded plan (overrides) works on unmerged rows.
import { addWeighted, clearWeighted, RowGrouper, type MergedRows } from '../solver/merge.ts';
import { CostRows } from './costs.ts';
import type { DenseProblem } from './input.ts';
import { scratch } from './scratch.ts';
import { preferCurrentRow } from './stickiness.ts';
import type { OriginState } from './types.ts';

export interface MergedCosts {
  merged: MergedRows;
  /** groups × columns (scratch: valid until the next call). */
  cost: Float64Array;
  demand: Float64Array;
  /** What CostMatrix reports: fallbacks and the kinds of pairs, each source counted once. */
  rows: CostRows;
}

export function buildMergedCosts(problem: DenseProblem, columns: OriginState[], colToOrigin: readonly number[], banned: Uint8Array | null, stickinessMs: number, resolution: number): MergedCosts {
  const n = problem.sourceIds.length;
  const K = columns.length;
  const rows = new CostRows(problem, columns, colToOrigin, banned);
  const row = new Float64Array(K);
  const now = new Float64Array(problem.settings.origins.length);
  const sticky = stickinessMs > 0;
  const fill = (i: number): void => {
    rows.fill(i, row, 0);
    if (sticky) preferCurrentRow(row, 0, K, i, problem, colToOrigin, stickinessMs, now);
  };
  // The representatives' rows land where the merged costs will be: room for a few groups at first
  // (most of the rows merge), grown by doubling; the scratch array is kept at its largest, so later
  // cycles of the same size do not grow it.
  const name = 'plan.mergedCost';
  const grouper = new RowGrouper(n, K, resolution, {
    into: scratch.f64Raw(name, Math.min(n, 1024) * K),
    grow: (length, used) => scratch.f64Grow(name, length, used),
  });
  for (let i = 0; i < n; i++) {
    fill(i);
    grouper.add(i, row, 0);
  }
  const merged = grouper.result();
  const m = merged.groups;
  const cost = grouper.kept.subarray(0, m * K);
  const { groupOf, representative } = merged;
  const demand = new Float64Array(m);
  // Members with demand per group: a group whose only one is its representative already holds its
  // mean (w = d/d = 1 exactly, so 0 + 1·c = c to the bit): its rows are not computed again.
  const withDemand = new Int32Array(m);
  for (let i = 0; i < n; i++) {
    const d = problem.demand[i]!;
    demand[groupOf[i]!]! += d;
    if (d > 0) withDemand[groupOf[i]!]!++;
  }
  // Exact merging: a group's rows are bit-identical, its representative's costs are its costs.
  if (resolution === 0) return { merged, cost, demand, rows };
  const meanIsRepresentative = Uint8Array.from(withDemand, (count, g) => (count === 1 && problem.demand[representative[g]!]! > 0 ? 1 : 0));
  clearWeighted(cost, demand, m, K, (g) => meanIsRepresentative[g] === 0);
  for (let i = 0; i < n; i++) {
    const d = problem.demand[i]!;
    const g = groupOf[i]!;
    if (!(d > 0) || meanIsRepresentative[g] === 1) continue;
    fill(i);
    addWeighted(cost, g * K, row, 0, K, d / demand[g]!);
  }
  return { merged, cost, demand, rows };
}
