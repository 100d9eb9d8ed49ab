// The solver bench's failover section: a new leader's first decide() from the capacity prices the old
// leader's decision left in the store, against the same decide() cold (what every failover, restart or
// rolling upgrade did before the prices were stored).
//
// The old leader decides `first` (no weights in force) and records its prices the way the loop does
// (scheduler/loop/price-hint.ts pricesOfDecision) on a real SQLite store; the new leader opens its own
// handle on the same file, reads them back (latestPrices, timed) and makes them the hint exactly as its
// first cycle does (storedPriceHint, then priceHintFor's demand check). Its problem is the old leader's
// next cycle: the first decision's weights in force, every source's demand drifted by up to ±10 %.
// Cold and warm runs alternate (cold first on even runs, warm first on odd ones) so a change in the
// machine's load falls on both; the optimum must not depend on the start (equal LP objectives).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openSqliteStore, SqliteStore } from '../../api/store/sqlite.ts';
import { decide } from '../../scheduler/core/decide.ts';
import { lastStages } from '../../scheduler/core/decide-stages.ts';
import type { SchedulingDecision, SchedulingProblem } from '../../scheduler/core/types.ts';
import { priceHintFor, pricesOfDecision, storedPriceHint, totalDemand } from '../../scheduler/loop/price-hint.ts';

export interface FailoverRun {
  decide_ms: number;
  /** The solver's part of it (decide-stages: "solve" and its warm/coarse start). */
  solve_ms: number;
  augmentations: number;
  lp_objective: number;
}

export interface FailoverResult {
  size: string;
  runs: number;
  /** latestPrices on the new leader's own store handle (one indexed row), ms. */
  store_read_ms: number;
  /** |Σ demand now − priced| / priced: what priceHintFor compares with MAX_DEMAND_CHANGE. */
  demand_change: number;
  cold: FailoverRun[];
  from_stored_prices: FailoverRun[];
  cold_decide_ms_median: number;
  warm_decide_ms_median: number;
  cold_solve_ms_median: number;
  warm_solve_ms_median: number;
  /** Largest |warm − cold| / cold LP objective over the runs: the same optimum from either start. */
  objective_rel_diff: number;
}

function run(p: SchedulingProblem): FailoverRun {
  const t = performance.now();
  const d: SchedulingDecision = decide(p);
  const decide_ms = performance.now() - t;
  const solve_ms = Object.entries(lastStages())
    .filter(([stage]) => stage.startsWith('solve'))
    .reduce((s, [, ms]) => s + ms, 0);
  return { decide_ms: round(decide_ms), solve_ms: round(solve_ms), augmentations: d.solver.augmentations, lp_objective: d.solver.lp_objective };
}

/**
 * `first`: the old leader's problem; `nextOf(weights)`: the new leader's first problem given the
 * weights the old one published. `runs` ≥ 3 of each.
 */
export async function failoverFirstDecision(size: string, first: SchedulingProblem, nextOf: (weights: SchedulingDecision['weights']) => SchedulingProblem, runs = 3): Promise<FailoverResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-failover-'));
  const oldLeader = openSqliteStore(dir);
  let newLeader: SqliteStore | undefined;
  try {
    const lbId = 'lb_bench';
    const decided = decide(first);
    const priced = pricesOfDecision(decided, totalDemand(first.sources));
    if (!priced) throw new Error('failover bench: the first decision has no prices');
    await oldLeader.recordDecision({ load_balancer_id: lbId, reason: decided.reason, capacity_prices: priced.prices, priced_demand_rps: priced.demand_rps });

    const next = nextOf(decided.weights);
    newLeader = new SqliteStore(oldLeader.path);
    const t = performance.now();
    const stored = await newLeader.latestPrices(lbId);
    const store_read_ms = performance.now() - t;
    if (!stored) throw new Error('failover bench: no stored prices read back');
    const demand = totalDemand(next.sources);
    const hint = priceHintFor(storedPriceHint(stored, next.origins), demand);
    if (!hint) throw new Error(`failover bench: stored prices judged too far from this demand (${demand} vs ${stored.demand_rps})`);

    const cold: FailoverRun[] = [];
    const warm: FailoverRun[] = [];
    for (let k = 0; k < runs; k++) {
      const coldRun = () => cold.push(run({ ...next }));
      const warmRun = () => warm.push(run({ ...next, price_hint: hint }));
      if (k % 2 === 0) {
        coldRun();
        warmRun();
      } else {
        warmRun();
        coldRun();
      }
    }
    const objective_rel_diff = Math.max(...cold.map((c, i) => Math.abs(warm[i]!.lp_objective - c.lp_objective) / Math.abs(c.lp_objective)));
    return {
      size,
      runs,
      store_read_ms: round(store_read_ms, 2),
      demand_change: round(Math.abs(demand - stored.demand_rps) / stored.demand_rps, 4),
      cold,
      from_stored_prices: warm,
      cold_decide_ms_median: median(cold.map((r) => r.decide_ms)),
      warm_decide_ms_median: median(warm.map((r) => r.decide_ms)),
      cold_solve_ms_median: median(cold.map((r) => r.solve_ms)),
      warm_solve_ms_median: median(warm.map((r) => r.solve_ms)),
      objective_rel_diff,
    };
  } finally {
    await newLeader?.close();
    await oldLeader.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
