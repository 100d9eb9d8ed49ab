// The undamped plan x*: per source, the share of each destination origin that minimises the policy's
// objective this cycle. Optimisation policies reduce to the transportation LP (solver/transport.ts) on
// merged rows; `weighted` is a water-filled static mix.
import { mergedCosts, mergeRows, type MergedRows } from '../solver/merge.ts';
import { solveTransport } from '../solver/transport.ts';
import { planCapacity, type CapacityAdjust } from './capacity.ts';
import { lap } from './decide-stages.ts';
import { aboveTargetPenalty, finiteRange, type CostMatrix } from './costs.ts';
import { scratch } from './scratch.ts';
import type { RowColumns } from './damping.ts';
import type { OriginState, Policy, SolverInfo } from './types.ts';

export interface Plan {
  /** rows × cols shares; each row sums to 1. */
  share: Float64Array;
  /** Per row, the columns `share` is non-zero on, ascending (merged rows only: their groups' columns, from
   * the merged shares; decide.ts hands them to the damping). Absent: not known without a pass over `share`. */
  rowColumns?: RowColumns | undefined;
  /** Capacity dual per column (0 for weighted). */
  price: Float64Array;
  notes: string[];
  solver: SolverInfo;
}

export function makePlan(policy: Policy, columns: OriginState[], costs: CostMatrix, demand: Float64Array, lp: Pick<LpExtras, 'mergeResolution' | 'initialPrice' | 'shareInto'> = {}): Plan {
  if (policy === 'weighted') return weightedPlan(columns, costs, demand);
  return lpPlan(policy, columns, costs.cost, demand, costs.rows, lp);
}

/** Extra terms of the LP (bounded-plan.ts): load outside it, limits on columns' totals, a reward tier. */
export interface LpExtras {
  adjust?: CapacityAdjust | undefined;
  /** Rows whose costs agree within this many ms (buckets; solver/merge.ts) are one row; 0: bit-identical only. */
  mergeResolution?: number | undefined;
  /** Column prices to start the solver from (the previous decision's); default: its own warm start. */
  initialPrice?: Float64Array | undefined;
  /** Per column: load that earns the reward tier (a minimum share); none when absent. */
  minLoad?: Float64Array | undefined;
  /** Where to write the rows' shares when rows were merged (rows × cols): may be the cost array itself,
   * which nothing reads once the merged costs are built (spares a 206 MB array at 1M subnets). */
  shareInto?: Float64Array | undefined;
  /** The rows already merged, their costs and demands (merged-costs.ts): the cost argument is not read. */
  premerged?: Premerged | undefined;
}

/** Merged rows with their costs (groups × cols) and demands. */
export interface Premerged {
  merged: MergedRows;
  cost: Float64Array;
  demand: Float64Array;
}

/** The transportation LP on these rows (merged when interchangeable, solver/merge.ts): shares per row, prices, notes. */
export function lpPlan(policy: Policy, columns: OriginState[], cost: Float64Array, demand: Float64Array, n: number, extras?: LpExtras): Plan & { limitsRelaxed: boolean } {
  const K = columns.length;
  const { merged, cost: mCost, demand: mDemand } = extras?.premerged ?? mergeForPlan(cost, demand, n, K, extras?.mergeResolution ?? 0);
  const m = merged.groups;
  // Nothing merged: the rows are their own groups, in order (no copies of n × K arrays).
  const same = m === n;
  lap('merge');

  const caps = planCapacity(policy, columns, mCost, mDemand, m, extras?.adjust);
  const penalty = aboveTargetPenalty(mCost, K);
  const reward = extras?.minLoad ? minimumShareReward(mCost, K, penalty) : undefined;
  const flow = scratch.f64('plan.flow', m * K);
  lap('capacity');
  const sol = solveTransport({ rows: m, cols: K, demand: mDemand, cost: mCost, cap1: caps.cap1, cap2: caps.cap2, penalty, ...(extras?.minLoad ? { minLoad: extras.minLoad, reward } : {}) }, { flow, coarseArrays: COARSE_ARRAYS, ...(extras?.initialPrice ? { initialPrice: extras.initialPrice } : {}) });

  lap('solve');
  const mShare = sharesOf(sol.flow, mCost, mDemand, sol.price, m, K);
  let share = mShare;
  let rowColumns: RowColumns | undefined;
  if (!same) {
    // Every row is written below: no zero-fill of its 206 MB at 1M subnets first.
    share = extras?.shareInto ?? scratch.f64Raw('plan.share', n * K).subarray(0, n * K);
    for (let i = 0; i < n; i++) share.set(mShare.subarray(merged.groupOf[i]! * K, merged.groupOf[i]! * K + K), i * K);
    rowColumns = columnsOfGroups(mShare, m, K, merged.groupOf);
  }
  const notes = [...caps.notes];
  if (sol.unplaced > 1e-9 * Math.max(1, mDemand.reduce((a, b) => a + b, 0))) notes.push(`${sol.unplaced.toFixed(3)} rps could not be placed within capacity; left on the nearest origins`);
  return {
    share,
    rowColumns,
    price: sol.price,
    notes,
    solver: { method: 'transport-ssp', sources: n, merged_rows: m, columns: K, augmentations: sol.augmentations, lp_objective: sol.objective },
    limitsRelaxed: caps.limitsRelaxed ?? false,
  };
}

/** Each row's non-zero columns, ascending: its group's, read once per group from the merged shares. */
function columnsOfGroups(mShare: Float64Array, m: number, K: number, groupOf: Int32Array): RowColumns {
  const gStart = new Int32Array(m + 1);
  let gCol = new Int32Array(Math.max(16, 2 * m));
  let count = 0;
  for (let g = 0; g < m; g++) {
    gStart[g] = count;
    for (let j = 0; j < K; j++) {
      if (!(mShare[g * K + j]! > 0)) continue;
      if (count === gCol.length) {
        const grown = new Int32Array(2 * count);
        grown.set(gCol);
        gCol = grown;
      }
      gCol[count++] = j;
    }
  }
  gStart[m] = count;
  const n = groupOf.length;
  const start = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) start[i + 1] = start[i]! + gStart[groupOf[i]! + 1]! - gStart[groupOf[i]!]!;
  const col = new Int32Array(start[n]!);
  // Element by element: a subarray view per row would be 128,850 objects at 1M.
  for (let i = 0; i < n; i++) {
    const g = groupOf[i]!;
    let at = start[i]!;
    for (let e = gStart[g]!; e < gStart[g + 1]!; e++) col[at++] = gCol[e]!;
  }
  return { start, col };
}

/** The coarse start's arrays, kept between decisions like the others (prepare.ts names them too). */
const COARSE_ARRAYS = {
  cost: (length: number) => scratch.f64Raw('plan.coarseCost', length).subarray(0, length),
  flow: (length: number) => scratch.f64('plan.coarseFlow', length),
};

/** The rows merged (solver/merge.ts); when nothing merges, the rows themselves. */
function mergeForPlan(cost: Float64Array, demand: Float64Array, n: number, K: number, resolution: number): Premerged {
  const merged = mergeRows(cost, n, K, resolution);
  const m = merged.groups;
  if (m === n) return { merged, cost, demand };
  const mCost = scratch.f64('plan.mergedCost', m * K);
  const mDemand = new Float64Array(m);
  mergedCosts(merged, cost, demand, K, resolution === 0, mCost, mDemand);
  return { merged, cost: mCost, demand: mDemand };
}

/**
 * Reward per unit of a minimum-share tier: more than the above-target penalty plus any latency a chain
 * of K exchanges can trade, so a minimum share beats both the soft target and latency (never the hard
 * max: the reward tier lies within cap2).
 */
export function minimumShareReward(cost: Float64Array, K: number, penalty: number): number {
  const { min, max } = finiteRange(cost);
  return (penalty + max - min + 1) * (K + 1);
}

/**
 * Shares per merged row: flow / demand, computed in place over the flows (they are not needed after).
 * A row without demand takes its cheapest column at the final prices (where one more unit would go),
 * so new or idle sources get a sensible answer too.
 */
function sharesOf(flow: Float64Array, cost: Float64Array, demand: Float64Array, price: Float64Array, m: number, K: number): Float64Array {
  const share = flow;
  for (let g = 0; g < m; g++) {
    const row = g * K;
    if (demand[g]! > 0) {
      let sum = 0;
      for (let j = 0; j < K; j++) sum += flow[row + j]!;
      for (let j = 0; j < K; j++) share[row + j] = flow[row + j]! / sum;
    } else {
      share.fill(0, row, row + K);
      let best = 0;
      let bestCost = Infinity;
      for (let j = 0; j < K; j++) {
        const c = cost[row + j]! + price[j]!;
        if (c < bestCost) {
          bestCost = c;
          best = j;
        }
      }
      share[row + best] = 1;
    }
  }
  return share;
}

/**
 * weighted: every source gets the same mix, proportional to static_weight, water-filled so no origin is
 * planned above max_rps while the others have room (the excess of a full origin goes to the rest in
 * proportion to their weights); beyond total max, overflow by headroom. Pairs above the latency ceiling
 * are dropped per source and its remaining shares renormalised.
 */
function weightedPlan(columns: OriginState[], costs: CostMatrix, demand: Float64Array): Plan {
  const { rows: n, cols: K, cost } = costs;
  const D = demand.reduce((a, b) => a + b, 0);
  let w = columns.map((o) => Math.max(0, o.static_weight));
  if (w.every((x) => x === 0)) w = columns.map(() => 1);
  const notes: string[] = [];
  const mix = waterFill(w, columns, D, notes);
  const share = scratch.f64('plan.share', n * K); // the same array as the LP path's: only one runs per call
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let j = 0; j < K; j++) if (cost[i * K + j] !== Infinity) sum += mix[j]!;
    if (sum > 0) {
      for (let j = 0; j < K; j++) if (cost[i * K + j] !== Infinity) share[i * K + j] = mix[j]! / sum;
    } else {
      // None of the weighted origins is allowed for this source: split evenly over what is allowed.
      let allowed = 0;
      for (let j = 0; j < K; j++) if (cost[i * K + j] !== Infinity) allowed++;
      for (let j = 0; j < K; j++) if (cost[i * K + j] !== Infinity) share[i * K + j] = 1 / allowed;
    }
  }
  return { share, price: new Float64Array(K), notes, solver: { method: 'weighted', sources: n, merged_rows: n, columns: K, augmentations: 0, lp_objective: 0 } };
}

/** Mix (fractions summing to 1) ∝ weights, capped at max_rps with the excess re-spread by weight. */
export function waterFill(weights: number[], columns: OriginState[], D: number, notes: string[]): number[] {
  const K = columns.length;
  const W = weights.reduce((a, b) => a + b, 0);
  if (D <= 0) return weights.map((x) => x / W);
  const max = columns.map((o) => o.max_rps);
  const active = weights.map((x) => x > 0);
  const totalMax = max.reduce((a, m, j) => a + (active[j] ? m : 0), 0);
  if (totalMax < D) {
    const headroom = columns.map((o, j) => (active[j] && Number.isFinite(o.max_rps) ? o.max_rps - o.target_rps : 0));
    const H = headroom.reduce((a, b) => a + b, 0);
    const spread = H > 0 ? headroom : max.map((m, j) => (active[j] ? m : 0));
    const S = spread.reduce((a, b) => a + b, 0);
    notes.push(`demand ${D.toFixed(2)} rps above the weighted origins' total max: overflow spread by ${H > 0 ? 'headroom' : 'max'}`);
    return max.map((m, j) => (active[j] ? (m + ((D - totalMax) * spread[j]!) / S) / D : 0));
  }
  const load = new Array<number>(K).fill(0);
  let left = D;
  const open = new Set(weights.map((_, j) => j).filter((j) => active[j]));
  let capped = false;
  while (left > 1e-12 * D && open.size > 0) {
    const wOpen = [...open].reduce((a, j) => a + weights[j]!, 0);
    const over = [...open].filter((j) => (left * weights[j]!) / wOpen > max[j]!);
    if (over.length === 0) {
      for (const j of open) load[j] = (left * weights[j]!) / wOpen;
      left = 0;
      break;
    }
    for (const j of over) {
      left -= max[j]!;
      load[j] = max[j]!;
      open.delete(j);
    }
    capped = true;
  }
  if (capped) notes.push('weighted: an origin would exceed max_rps at its weight; its excess goes to the others by weight');
  return load.map((l) => l / D);
}
