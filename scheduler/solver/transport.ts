// The transportation problem every policy reduces to, and its exact solver.
//
//   minimise   Σ_ij c_ij f_ij  +  P · Σ_j max(0, load_j − cap1_j)
//   subject to Σ_j f_ij = d_i            (every source's demand is placed)
//              load_j = Σ_i f_ij ≤ cap2_j (hard capacity of column j)
//              f_ij ≥ 0, f_ij = 0 where c_ij = +∞ (pair not allowed)
//
// Rows are (merged) traffic sources, columns are origins. Each column has two capacity tiers: up to
// cap1 (the soft target) load is free, between cap1 and cap2 (the hard max, or max plus a share of an
// unavoidable overflow) every unit costs the penalty P on top of its latency. P is chosen by the caller
// larger than any latency saving a chain of exchanges can buy, which makes the objective lexicographic:
// first as little load above target as possible, then the lowest demand-weighted latency.
//
// Method: successive shortest paths (primal-dual) on a network of K+1 nodes — the columns and a sink —
// never on the rows. Every row sits on a column of minimal c_ij + λ_j (λ = column prices); column j
// "routes" its load to the sink through its tiers (cost 0 up to cap1, P up to cap2). Residual arcs:
//   exchange j → j'     move some row k from j to j'   reduced cost c_kj' − c_kj + λ_j' − λ_j
//   tier j → sink       route more at j (spare tier t)  p_t − λ_j + λ_sink
//   tier sink → j       route less at j (used tier t)   λ_j − p_t − λ_sink
// The cheapest row of each ordered column pair sits on top of a lazily built min-heap keyed by the
// price-independent c_kj' − c_kj, so one Dijkstra costs O(K²) heap peeks whatever the number of rows.
// Imbalances (a column whose rows exceed what it routes, or the sink short of the total demand) are
// removed along shortest paths; after each Dijkstra the prices rise by (D* − dist)⁺, which keeps every
// residual reduced cost ≥ 0 — the textbook SSP invariant — so the final flow is optimal: λ_j − λ_sink
// are the capacity duals and every row uses only columns of minimal c_ij + λ_j.
//
// Warm start: any prices are a valid start once every row is put on its cheapest column at those
// prices and each column routes what its price implies (λ > 0: tier 1 full; λ > P: tier 2 full). Good
// prices leave few imbalances, so for large problems the prices are first found on a systematic sample
// of the rows (demand and capacities scaled), recursively; the full problem then only repairs the rows
// near the price boundaries. On the benchmark's 100k × 20 instance this cuts the augmenting paths from
// ~87k to ~9k; the result is the same optimum (the warm start only changes where the SSP begins). With
// many columns and few rows each (the scale harness: 66k rows × 200 origins) a sample's prices are
// coarser than none, so the sample is only taken when it keeps enough rows per column. There, the
// prices come instead from the problem coarsened by merging rows whose costs agree within 30 (ms): every
// unit of demand is still in it, with costs within 30 of the true ones, so its prices are close to the
// true ones; the exact SSP then starts from them (the 1M-subnet problem, 55,421 × 200: 23,611 augmenting
// paths and 3.5 s cold; 6,451 on 14,735 coarse rows plus 5,207 from their prices, 2.7 s in all).
//
// Reward tier (optional; a load balancer-wide minimum share, core/bounded-plan.ts): the first minLoad_j
// units of column j earn −R each, R larger than any penalty and latency a chain of exchanges can trade,
// so the optimum fills it first whenever that is feasible within cap2 — the exact LP with the
// constraint load_j ≥ minLoad_j when that constraint is feasible, and the largest feasible load towards
// it when not. Internally every tier of every column is shifted by +R (each unit of demand passes
// through exactly one tier, so a constant shift changes no optimum): the reward tier costs 0, the
// others R and R + P, all ≥ 0, and the SSP's invariants are unchanged. Without it, the tiers are
// exactly 0 and P.
//
// Termination: every augmentation removes an imbalance, fills or empties a tier, or empties one row's
// flow on a column, and prices only rise; if no deficit is reachable the rest cannot be placed within
// cap2 and stays on its columns (reported as `unplaced`, never dropped).
import { lap } from '../core/decide-stages.ts';
import { ExchangeHeaps } from './exchange-heaps.ts';
import { mergedCosts, mergeRows } from './merge.ts';
import { augment, PathSearch, raisePrices, shortestPath } from './shortest-path.ts';
import { seatRows, type SspState } from './ssp-state.ts';

export interface TransportProblem {
  /** Number of rows (sources). */
  rows: number;
  /** Number of columns (origins). */
  cols: number;
  /** Demand per row, ≥ 0. */
  demand: Float64Array;
  /** rows × cols, row-major; +Infinity marks a pair that must not be used. */
  cost: Float64Array;
  /** Load per column that is free of the penalty (soft target); may be +Infinity. */
  cap1: Float64Array;
  /** Hard capacity per column, ≥ cap1; may be +Infinity. */
  cap2: Float64Array;
  /** Cost per unit of load between cap1 and cap2. */
  penalty: number;
  /** Load per column that earns `reward` per unit (the reward tier; see the header). Absent: none. */
  minLoad?: Float64Array | undefined;
  /** Reward per unit in the reward tier (> penalty + any latency chain); required with minLoad. */
  reward?: number | undefined;
}

export interface TransportSolution {
  /** rows × cols flows (demand units), row-major. */
  flow: Float64Array;
  /** Load per column. */
  load: Float64Array;
  /** Capacity dual (price) per column: every row uses only columns minimising c_ij + price_j. */
  price: Float64Array;
  /** Σ c·f + P·(load above cap1) − R·(load within minLoad), the LP objective. */
  objective: number;
  /** Demand that could not be placed within cap2 (0 when the caller sized cap2 to be feasible). It is
   * left on the rows' cheapest columns, above cap2, rather than dropped. */
  unplaced: number;
  /** Augmenting paths used (a measure of how contested capacity was). */
  augmentations: number;
}

export interface SolveOptions {
  /** Start from these column prices (length cols); default: found on a sample for large problems. */
  initialPrice?: Float64Array;
  /** Rows above which the warm start from a sample is used (default 8000). */
  warmStartRows?: number;
  /** ... and only if the sample keeps at least this many rows per column (default 200; see below). */
  warmStartRowsPerColumn?: number;
  /** Otherwise, rows from which prices are first found on the coarsened problem (default 20,000; see
   * COARSE_RESOLUTION). */
  coarseStartRows?: number;
  /** Write the flows here (rows × cols, zero-filled) instead of a new array: the caller's reusable
   * buffer, which spares a large allocation per solve (see core/scratch.ts). Returned as `flow`. */
  flow?: Float64Array;
  /** Arrays for the coarse start's problem, from the caller's reusable memory (core/prepare.ts maps it
   * ahead of a first decision): its costs (`length` entries, any contents: all are written) and its
   * flows (zero-filled). Default: new arrays. */
  coarseArrays?: { cost: (length: number) => Float64Array; flow: (length: number) => Float64Array };
}

/** Every SAMPLE_STEP-th row makes the warm start's sample. */
const SAMPLE_STEP = 8;
/**
 * The sample's prices are only worth starting from when each column keeps enough sampled rows: with
 * few, one sampled row stands for a large step of a column's capacity and the prices come out coarse —
 * worse than none. Measured on the scale harness's problems: 34,485 × 100 (345 rows a column) takes
 * 24,064 augmenting paths from the sample's prices and 11,486 from zero; 65,981 × 200 takes ~70k and
 * 28,445 (~55 s and 4.3 s); 100k × 20 (5,000 a column) goes from ~87k to ~9k with them.
 */
const SAMPLE_ROWS_PER_COLUMN = 200;
/**
 * Cost buckets of the coarsened problem (merge.ts; ms when costs are latencies). Measured on the 1M
 * problem (55,421 × 200, CPU time of coarse plus exact solve; cold 3.5 s): 10 ms 37,347 coarse rows,
 * 3.8 s; 30 ms 14,735 rows, 2.7 s; 100 ms 3,436 rows, 2.7 s (10,299 paths left for the exact solve);
 * chains (40 then 10 ms; 100, 25, 6 ms) 3.4-4.1 s. Coarser buckets give rougher prices, finer ones a
 * coarse problem that costs as much as the exact one.
 */
const COARSE_RESOLUTION = 30;
/** The coarse start is used only when it at least halves the rows. */
const COARSE_MIN_REDUCTION = 2;

/** Solves the problem exactly (see the header). Rows with no allowed column throw. */
export function solveTransport(p: TransportProblem, options: SolveOptions = {}): TransportSolution {
  const threshold = options.warmStartRows ?? 8000;
  let initial = options.initialPrice;
  let augmentations = 0;
  const perColumn = options.warmStartRowsPerColumn ?? SAMPLE_ROWS_PER_COLUMN;
  if (!initial && p.rows > threshold && p.rows >= SAMPLE_STEP * perColumn * p.cols) {
    const sample = sampleRows(p, SAMPLE_STEP);
    const s = solveTransport(sample, { warmStartRows: threshold, warmStartRowsPerColumn: perColumn });
    initial = s.price;
    augmentations += s.augmentations;
    lap('solve: warm start');
  } else if (!initial && p.rows >= (options.coarseStartRows ?? 20_000)) {
    const coarse = coarsened(p, COARSE_RESOLUTION, options.coarseArrays?.cost);
    if (coarse) {
      const flow = options.coarseArrays?.flow(coarse.rows * coarse.cols);
      const s = solveTransport(coarse, { warmStartRows: threshold, warmStartRowsPerColumn: perColumn, coarseStartRows: Infinity, ...(flow ? { flow } : {}) });
      initial = s.price;
      augmentations += s.augmentations;
      lap('solve: coarse start');
    }
  }
  const sol = solveFrom(p, initial, options.flow);
  sol.augmentations += augmentations;
  return sol;
}

/** Every `step`-th row, demand and capacities scaled so the sample is the problem in miniature. */
function sampleRows(p: TransportProblem, step: number): TransportProblem {
  const { rows: n, cols: K } = p;
  const m = Math.ceil(n / step);
  const demand = new Float64Array(m);
  const cost = new Float64Array(m * K);
  let total = 0;
  let sampled = 0;
  for (let i = 0; i < n; i++) total += p.demand[i]!;
  for (let s = 0; s < m; s++) {
    const i = s * step;
    demand[s] = p.demand[i]!;
    sampled += demand[s]!;
    cost.set(p.cost.subarray(i * K, i * K + K), s * K);
  }
  const scale = total > 0 ? sampled / total : 1 / step;
  return {
    rows: m,
    cols: K,
    demand,
    cost,
    cap1: p.cap1.map((c) => c * scale),
    cap2: p.cap2.map((c) => c * scale),
    penalty: p.penalty,
    ...(p.minLoad ? { minLoad: p.minLoad.map((c) => c * scale), reward: p.reward } : {}),
  };
}

/** The problem with rows merged at `resolution` (merge.ts; same capacities), or null when that does not
 * at least halve the rows. */
function coarsened(p: TransportProblem, resolution: number, costArray?: (length: number) => Float64Array): TransportProblem | null {
  const merged = mergeRows(p.cost, p.rows, p.cols, resolution);
  if (merged.groups * COARSE_MIN_REDUCTION > p.rows) return null;
  const cost = costArray ? costArray(merged.groups * p.cols) : new Float64Array(merged.groups * p.cols);
  const demand = new Float64Array(merged.groups);
  mergedCosts(merged, p.cost, p.demand, p.cols, false, cost, demand);
  return { ...p, rows: merged.groups, cost, demand };
}

/**
 * The SSP from given starting prices, in its four phases: seat every row on its cheapest column, then
 * repeatedly find a shortest path from excess to deficit, raise the prices along it and augment; then
 * summarise. Each phase has its own file (ssp-state.ts, exchange-heaps.ts, shortest-path.ts).
 */
function solveFrom(p: TransportProblem, initialPrice: Float64Array | undefined, flowBuffer: Float64Array | undefined): TransportSolution {
  const s = seatRows(p, initialPrice, flowBuffer); // 1. each row on its cheapest column; routed per column
  const heaps = new ExchangeHeaps(s); //               2. lazy heaps keyed c_kv − c_ku
  const path = new PathSearch(s.K + 1);
  let augmentations = 0;
  while (shortestPath(s, heaps, path)) { //           3. Dijkstra on K+1 nodes with the tier arcs
    raisePrices(s, path); //                              keeps reduced costs ≥ 0
    augment(s, heaps, path); //                           bottleneck, then apply
    augmentations++;
  }
  heaps.release();
  return summarise(s, augmentations); //              4. objective, unplaced, capacity duals
}

function summarise(s: SspState, augmentations: number): TransportSolution {
  const { n, K, SINK, flow, load, cost, cap1, cap2, penalty, price, minLoad, reward } = s;
  let objective = 0;
  let unplaced = 0;
  for (let j = 0; j < K; j++) {
    unplaced += Math.max(0, load[j]! - cap2[j]!);
    objective += penalty * Math.max(0, Math.min(load[j]!, cap2[j]!) - cap1[j]!);
    if (minLoad) objective -= reward * Math.min(load[j]!, minLoad[j]!, cap2[j]!);
  }
  for (let idx = 0; idx < n * K; idx++) {
    const f = flow[idx]!;
    if (f > 0) objective += f * cost[idx]!;
  }
  const dual = new Float64Array(K);
  for (let j = 0; j < K; j++) dual[j] = price[j]! - price[SINK]!;
  return { flow, load, price: dual, objective, unplaced, augmentations };
}
