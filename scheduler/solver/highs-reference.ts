// The same transportation LP handed to HiGHS (the `highs` WASM package, a devDependency): the reference
// the tests and the benchmark check sluice's solver against. Not used in production (HiGHS needs ~4 s
// at 10k × 20 and over 12 minutes at 100k × 20 here).
//
// Columns: f_ij for every allowed pair, then y_j = load above cap1 (0 ≤ y_j ≤ cap2_j − cap1_j, cost P),
//          then (with a reward tier) z_j = load within minLoad (0 ≤ z_j ≤ min(minLoad_j, cap2_j), cost −R).
// Rows:    Σ_j f_ij = d_i ;  Σ_i f_ij − y_j ≤ cap1_j ;  Σ_i f_ij − z_j ≥ 0.
import * as highsModule from 'highs';
import type { Highs, InitOptions } from 'highs';
import type { TransportProblem } from './transport.ts';

type Loader = (options?: InitOptions) => Promise<Highs>;
// `highs` is typed as CommonJS but resolves to its ES build under `import`; take the loader either way.
const loadHighs: Loader = ((highsModule as unknown as { default?: Loader }).default ?? (highsModule as unknown as Loader));
let highsPromise: Promise<Highs> | undefined;

export interface ReferenceSolution {
  objective: number;
  flow: Float64Array;
  status: string;
}

export async function solveWithHighs(p: TransportProblem): Promise<ReferenceSolution> {
  highsPromise ??= loadHighs();
  const highs = await highsPromise;
  const { rows: n, cols: K, cost, demand, cap1, cap2, penalty, minLoad } = p;
  const pairIndex: number[] = [];
  for (let idx = 0; idx < n * K; idx++) if (cost[idx]! !== Infinity) pairIndex.push(idx);
  const rewardCols = minLoad ? K : 0;
  const numCols = pairIndex.length + K + rewardCols;
  const numRows = n + K + rewardCols;
  const colCost = new Float64Array(numCols);
  const colLower = new Float64Array(numCols);
  const colUpper = new Float64Array(numCols);
  const starts = new Int32Array(numCols + 1);
  const indices: number[] = [];
  const values: number[] = [];
  pairIndex.forEach((idx, c) => {
    const i = Math.floor(idx / K);
    const j = idx % K;
    colCost[c] = cost[idx]!;
    colUpper[c] = highs.infinity;
    starts[c] = indices.length;
    indices.push(i, n + j, ...(minLoad ? [n + K + j] : []));
    values.push(1, 1, ...(minLoad ? [1] : []));
  });
  for (let j = 0; j < K; j++) {
    const c = pairIndex.length + j;
    colCost[c] = penalty;
    const room = cap2[j]! - cap1[j]!;
    colUpper[c] = Number.isFinite(room) ? Math.max(0, room) : highs.infinity;
    starts[c] = indices.length;
    if (Number.isFinite(cap1[j]!)) {
      indices.push(n + j);
      values.push(-1);
    }
  }
  for (let j = 0; j < rewardCols; j++) {
    const c = pairIndex.length + K + j;
    colCost[c] = -(p.reward ?? 0);
    colUpper[c] = Math.max(0, Math.min(minLoad![j]!, cap2[j]!));
    starts[c] = indices.length;
    indices.push(n + K + j);
    values.push(-1);
  }
  starts[numCols] = indices.length;
  const rowLower = new Float64Array(numRows);
  const rowUpper = new Float64Array(numRows);
  for (let i = 0; i < n; i++) rowLower[i] = rowUpper[i] = demand[i]!;
  for (let j = 0; j < K; j++) {
    rowLower[n + j] = -highs.infinity;
    rowUpper[n + j] = Number.isFinite(cap1[j]!) ? cap1[j]! : highs.infinity;
  }
  for (let j = 0; j < rewardCols; j++) {
    rowLower[n + K + j] = 0;
    rowUpper[n + K + j] = highs.infinity;
  }
  const model = highs.createModel({
    numCols,
    numRows,
    colCost,
    colLower,
    colUpper,
    rowLower,
    rowUpper,
    matrix: { format: 'csc', numRows, numCols, starts, indices: Int32Array.from(indices), values: Float64Array.from(values) },
  });
  try {
    model.options.set({ output_flag: false });
    model.run();
    const status = String(model.getModelStatus());
    const sol = model.getSolution();
    const flow = new Float64Array(n * K);
    pairIndex.forEach((idx, c) => (flow[idx] = sol.colValue[c] ?? 0));
    return { objective: model.getObjectiveValue(), flow, status };
  } finally {
    model.dispose();
  }
}

/** A general LP for tests: minimise c·x subject to row bounds on sparse rows and column bounds. */
export interface GeneralLp {
  cost: number[];
  lower: number[];
  upper: number[];
  rows: { lower: number; upper: number; entries: [column: number, value: number][] }[];
}

/** Solves `lp` with HiGHS: the ground truth the override reformulations are checked against. */
export async function solveGeneralLp(lp: GeneralLp): Promise<{ objective: number; x: number[]; status: string }> {
  highsPromise ??= loadHighs();
  const highs = await highsPromise;
  const numCols = lp.cost.length;
  const numRows = lp.rows.length;
  const byCol: [number, number][][] = Array.from({ length: numCols }, () => []);
  lp.rows.forEach((r, i) => r.entries.forEach(([c, v]) => byCol[c]!.push([i, v])));
  const starts = new Int32Array(numCols + 1);
  const indices: number[] = [];
  const values: number[] = [];
  byCol.forEach((entries, c) => {
    starts[c] = indices.length;
    for (const [i, v] of entries) {
      indices.push(i);
      values.push(v);
    }
  });
  starts[numCols] = indices.length;
  const inf = (x: number) => (x === Infinity ? highs.infinity : x === -Infinity ? -highs.infinity : x);
  const model = highs.createModel({
    numCols,
    numRows,
    colCost: Float64Array.from(lp.cost),
    colLower: Float64Array.from(lp.lower, inf),
    colUpper: Float64Array.from(lp.upper, inf),
    rowLower: Float64Array.from(lp.rows, (r) => inf(r.lower)),
    rowUpper: Float64Array.from(lp.rows, (r) => inf(r.upper)),
    matrix: { format: 'csc', numRows, numCols, starts, indices: Int32Array.from(indices), values: Float64Array.from(values) },
  });
  try {
    model.options.set({ output_flag: false });
    model.run();
    const sol = model.getSolution();
    return { objective: model.getObjectiveValue(), x: Array.from({ length: numCols }, (_, c) => sol.colValue[c] ?? 0), status: String(model.getModelStatus()) };
  } finally {
    model.dispose();
  }
}
