// The decision worker's memory made ready for the next decision's size, while the caller still builds
// the problem.
//
// Why: the largest arrays of a decision are sources × origins Float64Arrays (206 MB each at 1M subnets ×
// 200 origins) kept between decisions (scratch.ts). The first decision of a size allocates them fresh,
// and their pages are faulted in by the first pass that writes them — on this VM ~10 µs a 4 KB page,
// ~0.5 s an array, in the middle of decide(): a deployment's very first 1M cycle spent 0.65 s in
// `plan shares` and 0.9 s in `damping` against 0.1 and 0.2 s in the next cycle (bench/README.md "The
// cold solve and the costs"). The loop knows the problem's size once its problem stage has run, about a
// second before it hands the problem over (summary, latency rows, packing), and tells the worker
// (DecisionWorker.prepare): the worker maps the arrays in that time, on its own thread.
//
// The names and sizes are decide()'s own (decide.ts, plan.ts, merged-costs.ts, connections.ts). The
// merged rows' arrays are sized for half the rows (merging at the default 2 ms halves a 1M problem:
// 55,421 of 128,850); a problem that merges less grows them inside decide() as before. Later decisions
// of the same size find everything in place and this does nothing.
import { scratch } from './scratch.ts';
import type { Policy } from './types.ts';

/** Maps the scratch arrays a decision of `rows` sources × `cols` origins under `policy` writes; returns the MB newly mapped. */
export function prepareScratch(rows: number, cols: number, policy: Policy): number {
  const full = rows * cols;
  const half = Math.ceil(rows / 2) * cols;
  let mapped = 0;
  const map = (name: string, length: number): void => {
    if (scratch.prefault(name, length)) mapped += length * 8;
  };
  // The plan's shares per source: their own array for the latency and balance plans (merged-costs.ts),
  // the cost matrix's buffer otherwise.
  map(policy === 'latency' || policy === 'balance' ? 'plan.share' : 'costs.cost', full);
  map('decide.kept', full); // the weights in force, then the new weights (connections.ts, damping.ts)
  map('plan.mergedCost', half);
  map('plan.flow', half);
  // The coarse start's problem (solver/transport.ts): at 1M, 14,735 coarse rows of 55,421 merged.
  const eighth = Math.ceil(rows / 8) * cols;
  map('plan.coarseCost', eighth);
  map('plan.coarseFlow', eighth);
  return Math.round(mapped / 1048576);
}

