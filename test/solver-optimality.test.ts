// sluice's transportation solver against HiGHS (and javascript-lp-solver) on random instances: the same
// LP, solved by a general-purpose simplex/IPM code, must give the same optimum (1e-6 relative), and
// sluice's flows must be feasible (demands met, capacities respected).
import { describe, expect, it } from 'vitest';
import { solveWithHighs } from '../scheduler/solver/highs-reference.ts';
import { solveWithLpSolver } from '../scheduler/solver/lp-solver.ts';
import { solveTransport, type TransportProblem } from '../scheduler/solver/transport.ts';
import { decide } from '../scheduler/core/decide.ts';
import type { SchedulingProblem } from '../scheduler/core/types.ts';
import { seededRandom as rng } from '../lib/prng.ts';

interface Shape {
  n: number;
  K: number;
  /** Fraction of pairs excluded. */
  holes: number;
  /** Integer costs from a small range: many ties (degenerate LPs). */
  ties: boolean;
  /** Total hard capacity / total demand. */
  slack: number;
  zeroDemand: number;
}

function instance(seed: number, shape: Shape): TransportProblem {
  const r = rng(seed);
  const { n, K } = shape;
  const cost = new Float64Array(n * K);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < K; j++) cost[i * K + j] = r() < shape.holes ? Infinity : shape.ties ? 10 * (1 + Math.floor(r() * 5)) : 5 + r() * 295;
    cost[i * K + Math.floor(r() * K)] = shape.ties ? 30 : 5 + r() * 295; // every row keeps an allowed column
  }
  const demand = Float64Array.from({ length: n }, () => (r() < shape.zeroDemand ? 0 : r() * 100));
  const D = demand.reduce((a, b) => a + b, 0);
  const share = Array.from({ length: K }, () => 0.2 + r());
  const S = share.reduce((a, b) => a + b, 0);
  const cap2 = Float64Array.from(share, (w) => ((D * shape.slack * w) / S));
  const cap1 = Float64Array.from(cap2, (c) => c * (0.5 + 0.5 * r()));
  if (r() < 0.3) cap1[0] = cap2[0] = Infinity; // an unlimited origin
  // With holes, keep it feasible: the last column takes anything.
  if (shape.holes > 0) {
    for (let i = 0; i < n; i++) if (cost[i * K + K - 1] === Infinity) cost[i * K + K - 1] = 400;
    cap2[K - 1] = Infinity;
  }
  let span = 0;
  for (const c of cost) if (c !== Infinity) span = Math.max(span, c);
  return { rows: n, cols: K, demand, cost, cap1, cap2, penalty: (span + 1) * (K + 1) };
}

function checkFeasible(p: TransportProblem, flow: Float64Array): void {
  const { rows: n, cols: K } = p;
  const load = new Float64Array(K);
  const D = p.demand.reduce((a, b) => a + b, 0);
  for (let i = 0; i < n; i++) {
    let placed = 0;
    for (let j = 0; j < K; j++) {
      const f = flow[i * K + j]!;
      expect(f).toBeGreaterThanOrEqual(0);
      if (f > 0) expect(p.cost[i * K + j]).not.toBe(Infinity);
      placed += f;
      load[j]! += f;
    }
    expect(Math.abs(placed - p.demand[i]!)).toBeLessThanOrEqual(1e-9 * Math.max(1, D));
  }
  for (let j = 0; j < K; j++) expect(load[j]!).toBeLessThanOrEqual(p.cap2[j]! + 1e-9 * Math.max(1, D));
}

const SHAPES: [string, Shape][] = [
  ['tight, dense', { n: 60, K: 6, holes: 0, ties: false, slack: 1.05, zeroDemand: 0 }],
  ['loose', { n: 80, K: 8, holes: 0, ties: false, slack: 2, zeroDemand: 0.1 }],
  ['latency ceilings (holes)', { n: 120, K: 10, holes: 0.4, ties: false, slack: 1.1, zeroDemand: 0 }],
  ['degenerate (many ties)', { n: 100, K: 5, holes: 0, ties: true, slack: 1.02, zeroDemand: 0.2 }],
  ['more columns', { n: 200, K: 20, holes: 0.1, ties: false, slack: 1.2, zeroDemand: 0 }],
];

describe('transportation solver vs HiGHS', () => {
  for (const [name, shape] of SHAPES) {
    it(`${name}: same optimum on 6 random instances, feasible flows`, async () => {
      for (let seed = 1; seed <= 6; seed++) {
        const p = instance(seed * 7919 + shape.n, shape);
        const ours = solveTransport(p);
        const ref = await solveWithHighs(p);
        expect(ref.status).toMatch(/7|Optimal/); // HiGHS model status 7 = optimal
        expect(ours.unplaced).toBeLessThan(1e-9 * Math.max(1, p.demand.reduce((a, b) => a + b, 0)));
        expect(Math.abs(ours.objective - ref.objective) / Math.max(1, Math.abs(ref.objective)), `seed ${seed}`).toBeLessThan(1e-6);
        checkFeasible(p, ours.flow);
        // Complementary slackness: every row only uses columns minimising cost + price.
        for (let i = 0; i < p.rows; i++) {
          let best = Infinity;
          for (let j = 0; j < p.cols; j++) best = Math.min(best, p.cost[i * p.cols + j]! + ours.price[j]!);
          for (let j = 0; j < p.cols; j++) {
            if (ours.flow[i * p.cols + j]! > 1e-9) expect(p.cost[i * p.cols + j]! + ours.price[j]! - best).toBeLessThan(1e-6 * Math.max(1, best));
          }
        }
      }
    });
  }

  // The internet-scale origin count (issue 15): many columns, few rows each — the exchange arcs' dense
  // top-of-heap arrays (exchange-heaps.ts) are repaired on every row that leaves or arrives.
  it.each([
    ['distinct costs', { n: 600, K: 200, holes: 0.2, ties: false, slack: 1.05, zeroDemand: 0.05 }],
    ['many ties', { n: 400, K: 200, holes: 0, ties: true, slack: 1.02, zeroDemand: 0.1 }],
  ] as [string, Shape][])('200 columns, %s: same optimum as HiGHS, feasible flows', async (_name, shape) => {
    const p = instance(200 + shape.n, shape);
    const ours = solveTransport(p);
    const ref = await solveWithHighs(p);
    expect(ref.status).toMatch(/7|Optimal/);
    expect(ours.augmentations).toBeGreaterThan(100);
    expect(Math.abs(ours.objective - ref.objective) / Math.max(1, Math.abs(ref.objective))).toBeLessThan(1e-6);
    expect(ours.unplaced).toBeLessThan(1e-9 * p.demand.reduce((a, b) => a + b, 0));
    checkFeasible(p, ours.flow);
  });

  it('warm starts (from a sample, or from arbitrary prices) reach the same optimum', async () => {
    for (let seed = 1; seed <= 4; seed++) {
      const p = instance(seed * 104729, { n: 400, K: 12, holes: 0.15, ties: seed % 2 === 0, slack: 1.08, zeroDemand: 0.05 });
      const ref = await solveWithHighs(p);
      const sampled = solveTransport(p, { warmStartRows: 60, warmStartRowsPerColumn: 0 }); // two levels of sampling
      const r = rng(seed);
      const wild = solveTransport(p, { initialPrice: Float64Array.from({ length: p.cols }, () => (r() < 0.3 ? 0 : r() * p.penalty * 1.5)) });
      for (const sol of [sampled, wild]) {
        expect(Math.abs(sol.objective - ref.objective) / ref.objective, `seed ${seed}`).toBeLessThan(1e-6);
        expect(sol.unplaced).toBeLessThan(1e-9 * p.demand.reduce((a, b) => a + b, 0));
        checkFeasible(p, sol.flow);
      }
    }
  });

  it('a reward tier (minimum load on some columns) reaches the same optimum, cold and warm', async () => {
    for (let seed = 1; seed <= 8; seed++) {
      const base = instance(seed * 4099, { n: seed % 2 === 0 ? 300 : 90, K: 6 + (seed % 3), holes: seed % 3 === 0 ? 0.2 : 0, ties: seed % 4 === 1, slack: 1.1 + (seed % 3) * 0.3, zeroDemand: 0.05 });
      const r = rng(seed);
      const D = base.demand.reduce((a, b) => a + b, 0);
      // Two or three columns must carry at least some share of the demand; one of them more than its
      // target can take, one (sometimes) more than its hard capacity allows (then the most it can).
      const minLoad = new Float64Array(base.cols);
      for (let k = 0; k < 2 + (seed % 2); k++) minLoad[Math.floor(r() * base.cols)] = D * (0.1 + 0.4 * r());
      const p: TransportProblem = { ...base, minLoad, reward: base.penalty * (base.cols + 2) };
      const ref = await solveWithHighs(p);
      expect(ref.status).toMatch(/7|Optimal/);
      for (const sol of [solveTransport(p), solveTransport(p, { warmStartRows: 40, warmStartRowsPerColumn: 0 })]) {
        expect(Math.abs(sol.objective - ref.objective) / Math.max(1, Math.abs(ref.objective)), `seed ${seed}`).toBeLessThan(1e-9);
        expect(sol.unplaced).toBeLessThan(1e-9 * D);
        checkFeasible(p, sol.flow);
        // The minimum is met wherever the hard capacity allows it.
        for (let j = 0; j < p.cols; j++) expect(sol.load[j]!).toBeGreaterThanOrEqual(Math.min(minLoad[j]!, p.cap2[j]!) * (1 - 1e-9) - 1e-9);
      }
    }
  });

  it('javascript-lp-solver agrees on small instances', () => {
    for (let seed = 1; seed <= 4; seed++) {
      const p = instance(seed, { n: 30, K: 5, holes: 0.2, ties: false, slack: 1.1, zeroDemand: 0 });
      const ours = solveTransport(p);
      const lp = solveWithLpSolver(p);
      expect(lp.feasible).toBe(true);
      expect(Math.abs(ours.objective - lp.objective) / lp.objective).toBeLessThan(1e-6);
    }
  });
});

describe('the decision core vs HiGHS (latency policy, within capacity)', () => {
  it('decide() finds the minimum demand-weighted RTT, with identical sources merged', async () => {
    for (let seed = 1; seed <= 5; seed++) {
      const r = rng(seed * 31);
      const K = 4 + (seed % 4);
      const origins = Array.from({ length: K }, (_, j) => ({ id: `o${j}`, target_rps: 0, max_rps: 0, healthy: true, admin_state: 'active' as const, static_weight: 1, priority: 0 }));
      // 40 distinct RTT vectors, each used by several sources (merging must not change the answer).
      const vectors = Array.from({ length: 40 }, () => Object.fromEntries(origins.map((o) => [o.id, Math.round(5 + r() * 295)])));
      const sources = Array.from({ length: 160 }, (_, i) => ({ id: `s${i}`, demand_rps: r() * 50, rtt_ms: vectors[i % 40]! }));
      const D = sources.reduce((a, s) => a + s.demand_rps, 0);
      origins.forEach((o) => (o.target_rps = o.max_rps = (D * 1.15) / K));
      const problem: SchedulingProblem = { policy: 'latency', max_shift: 1, deadband: 0, max_latency_ms: 500, origins, sources, current: {} };
      const d = decide(problem);
      expect(d.solver.merged_rows).toBe(40);
      const n = sources.length;
      const tp: TransportProblem = {
        rows: n,
        cols: K,
        demand: Float64Array.from(sources, (s) => s.demand_rps),
        cost: Float64Array.from({ length: n * K }, (_, idx) => sources[Math.floor(idx / K)]!.rtt_ms[`o${idx % K}`]!),
        cap1: Float64Array.from(origins, (o) => o.max_rps),
        cap2: Float64Array.from(origins, (o) => o.max_rps),
        penalty: 1e6,
      };
      const ref = await solveWithHighs(tp);
      expect(Math.abs(d.plan_objective - ref.objective) / ref.objective, `seed ${seed}`).toBeLessThan(1e-6);
      expect(Math.abs(d.objective - ref.objective) / ref.objective).toBeLessThan(1e-6); // undamped: weights = plan
      for (const o of origins) expect(d.origin_load_rps[o.id]!).toBeLessThanOrEqual(o.max_rps * (1 + 1e-9));
    }
  });

  /** 600 sources around 12 places (RTT within 0.5 ms of the place's, inside one 1-ms bucket), 30 origins, capacity binding. */
  function clustered(seed: number): SchedulingProblem {
    const r = rng(seed);
    const K = 30;
    const origins = Array.from({ length: K }, (_, j) => ({ id: `o${j}`, target_rps: 0, max_rps: 0, healthy: true, admin_state: 'active' as const, static_weight: 1, priority: 0 }));
    const places = Array.from({ length: 12 }, () => origins.map(() => Math.floor(5 + r() * 200) + 0.25));
    const sources = Array.from({ length: 600 }, (_, i) => {
      const at = places[i % places.length]!;
      return { id: `s${i}`, demand_rps: 1 + r() * 40, rtt_ms: Object.fromEntries(origins.map((o, j) => [o.id, Math.round((at[j]! + 0.5 * r()) * 100) / 100])) };
    });
    const D = sources.reduce((a, x) => a + x.demand_rps, 0);
    origins.forEach((o) => (o.target_rps = o.max_rps = (D * 1.1) / K));
    return { policy: 'latency', max_shift: 1, deadband: 0, max_latency_ms: 500, origins, sources, current: {} };
  }

  it('merge_resolution_ms: fewer rows, plan within resolution × demand of the exact one', () => {
    for (let seed = 1; seed <= 3; seed++) {
      const p = clustered(seed);
      const D = p.sources.reduce((a, x) => a + x.demand_rps, 0);
      const exact = decide(p);
      const merged = decide({ ...p, merge_resolution_ms: 1 });
      expect(exact.solver.merged_rows).toBe(600);
      expect(merged.solver.merged_rows).toBeLessThan(100);
      // plan_objective is the demand-weighted latency of the plan the sources are given.
      expect(merged.plan_objective).toBeGreaterThanOrEqual(exact.plan_objective * (1 - 1e-9));
      expect(merged.plan_objective).toBeLessThanOrEqual(exact.plan_objective + 1 * D);
    }
  });

  it('price_hint: the previous decision\'s prices reach the same optimum with fewer augmenting paths', () => {
    for (let seed = 1; seed <= 3; seed++) {
      const p = clustered(seed + 10);
      const cold = decide(p);
      const hint = Object.fromEntries(Object.entries(cold.origins).map(([id, o]) => [id, o.price]));
      // The next cycle: demand moved a little.
      const r = rng(seed);
      const next = { ...p, sources: p.sources.map((x) => ({ ...x, demand_rps: x.demand_rps * (0.97 + 0.06 * r()) })) };
      const nextCold = decide(next);
      const nextWarm = decide({ ...next, price_hint: hint });
      expect(Math.abs(nextWarm.plan_objective - nextCold.plan_objective) / nextCold.plan_objective).toBeLessThan(1e-9);
      expect(nextWarm.solver.augmentations).toBeLessThan(nextCold.solver.augmentations / 2);
    }
  });
});
