// Anti-flap (a small phase between the cost matrix and the plan): changing where a source is sent must
// save at least `stickiness_ms`. Each pair's solver cost gets h·(1 − s) added, s the source's share
// there in the weights in force (the decision already taken, not where its load happens to be); the
// reported latency is untouched.
//
// Why: learned RTTs carry noise. When a capacity limit forces some of many near-identical sources (DNS
// subnets behind the same path) to move, which ones is decided by that noise, and it changes from cycle
// to cycle: a source the plan kept is released while another is kept, the released one starts from its
// full share (the largest gap), and one α for every source (damping.ts) makes the whole walk crawl at
// max_shift of what is left instead of max_shift per cycle. With a band of a few ms the plan keeps
// its choice unless the latency really says otherwise. 0 (the default) changes nothing.
import type { CostMatrix } from './costs.ts';
import type { DenseProblem } from './input.ts';

export function preferCurrent(costs: CostMatrix, problem: DenseProblem, colToOrigin: readonly number[], stickinessMs: number): void {
  if (!(stickinessMs > 0)) return;
  const { rows: n, cols: C, cost } = costs;
  const now = new Float64Array(problem.settings.origins.length);
  for (let i = 0; i < n; i++) preferCurrentRow(cost, i * C, C, i, problem, colToOrigin, stickinessMs, now);
}

/** preferCurrent for row i, whose costs are at cost[at .. at + C); `now`: scratch of one entry per declared origin. */
export function preferCurrentRow(cost: Float64Array, at: number, C: number, i: number, problem: DenseProblem, colToOrigin: readonly number[], stickinessMs: number, now: Float64Array): void {
  const { start, origin, share } = problem.current;
  now.fill(0);
  let total = 0;
  for (let e = start[i]!; e < start[i + 1]!; e++) if (origin[e]! >= 0 && share[e]! > 0 && Number.isFinite(share[e]!)) total += share[e]!;
  for (let e = start[i]!; e < start[i + 1]!; e++) if (origin[e]! >= 0 && share[e]! > 0 && Number.isFinite(share[e]!)) now[origin[e]!]! += share[e]! / total;
  for (let c = 0; c < C; c++) {
    const idx = at + c;
    if (cost[idx] !== Infinity) cost[idx]! += stickinessMs * (1 - now[colToOrigin[c]!]!);
  }
}
