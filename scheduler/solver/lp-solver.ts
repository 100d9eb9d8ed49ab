// The same transportation LP through javascript-lp-solver (a dense simplex tableau in plain JS). Fine for
// small problems (it is the second peer in the benchmark and a cross-check in the tests); it builds a
// rows·cols-wide tableau and collapses near 40k variables, which is why production uses transport.ts.
import * as lpModule from 'javascript-lp-solver';
import type { Model } from 'javascript-lp-solver';

// Typed as an ES default export, shipped as CommonJS: take `Solve` from wherever the loader put it.
type Solver = { Solve(model: Model): unknown };
const lp = lpModule as unknown as Solver & { default?: Solver };
const solver: Solver = typeof lp.Solve === 'function' ? lp : lp.default!;
import type { TransportProblem } from './transport.ts';

export interface LpSolverSolution {
  feasible: boolean;
  objective: number;
  flow: Float64Array;
}

export function solveWithLpSolver(p: TransportProblem): LpSolverSolution {
  const { rows: n, cols: K, cost, demand, cap1, cap2, penalty } = p;
  const constraints: Record<string, { equal?: number; max?: number }> = {};
  const variables: Record<string, Record<string, number>> = {};
  for (let i = 0; i < n; i++) constraints[`d${i}`] = { equal: demand[i]! };
  for (let j = 0; j < K; j++) {
    if (Number.isFinite(cap1[j]!)) constraints[`c${j}`] = { max: cap1[j]! };
    const room = cap2[j]! - cap1[j]!;
    if (Number.isFinite(cap1[j]!)) {
      variables[`y${j}`] = { cost: penalty, [`c${j}`]: -1, ...(Number.isFinite(room) ? { [`y${j}`]: 1 } : {}) };
      if (Number.isFinite(room)) constraints[`y${j}`] = { max: Math.max(0, room) };
    }
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < K; j++) {
      const c = cost[i * K + j]!;
      if (c === Infinity) continue;
      variables[`f${i}_${j}`] = { cost: c, [`d${i}`]: 1, ...(Number.isFinite(cap1[j]!) ? { [`c${j}`]: 1 } : {}) };
    }
  }
  const result = solver.Solve({ optimize: 'cost', opType: 'min', constraints, variables }) as Record<string, number | boolean | undefined>;
  const flow = new Float64Array(n * K);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < K; j++) {
      const v = result[`f${i}_${j}`];
      if (typeof v === 'number') flow[i * K + j] = v;
    }
  }
  return { feasible: result.feasible === true, objective: typeof result.result === 'number' ? result.result : NaN, flow };
}
