// Operator overrides are exact LP reformulations (scheduler/core/bounded-plan.ts): on random instances
// with dials, forced sources, per-source min/max shares and load balancer-wide min/max shares, the plan
// decide() returns honours every bound exactly and is optimal — the same minimum above-target load and
// then the same minimum demand-weighted RTT as HiGHS solving the LP with the bounds written as
// constraints. Then the damping: without `now` the move towards a bound is damped, with `now` it is
// taken in one cycle, and a source whose override is gone goes back to the unbounded optimum.
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../lib/prng.ts';
import { splitBounds } from '../model/override.ts';
import { decide } from '../scheduler/core/decide.ts';
import type { ProblemOverrides, SchedulingProblem } from '../scheduler/core/types.ts';
import { solveGeneralLp, type GeneralLp } from '../scheduler/solver/highs-reference.ts';

interface Instance {
  problem: SchedulingProblem;
  /** Dialled capacities, per origin. */
  target: number[];
  max: number[];
}

/** A random bounded instance, feasible by construction: every bound holds for a hidden assignment x0. */
function instance(seed: number): Instance {
  const r = seededRandom(seed);
  const K = 4 + Math.floor(r() * 4);
  const n = 20 + Math.floor(r() * 40);
  const ties = seed % 3 === 0;
  const ids = Array.from({ length: K }, (_, j) => `o${j}`);
  const x0: number[][] = [];
  const sources = Array.from({ length: n }, (_, i) => {
    const raw = ids.map(() => (r() < 0.3 ? 0 : r()));
    raw[Math.floor(r() * K)] = 0.5 + r();
    const sum = raw.reduce((a, b) => a + b, 0);
    x0.push(raw.map((v) => v / sum));
    return { id: `s${i}`, demand_rps: 1 + r() * 99, rtt_ms: Object.fromEntries(ids.map((o) => [o, ties ? 10 * (1 + Math.floor(r() * 5)) : 5 + r() * 295])) };
  });
  const D = sources.reduce((a, s) => a + s.demand_rps, 0);
  const load0 = ids.map((_, j) => sources.reduce((a, s, i) => a + s.demand_rps * x0[i]![j]!, 0));
  const dial = ids.map(() => (r() < 0.3 ? 0.6 + 0.4 * r() : 1));
  const max = load0.map((l) => l * (1.02 + 0.6 * r()) + 1);
  const target = max.map((m, j) => Math.max(load0[j]! * (0.7 + 0.5 * r()), 0.5 * m));
  const origins = ids.map((id, j) => ({
    id,
    target_rps: Math.min(target[j]!, max[j]!) / dial[j]!,
    max_rps: max[j]! / dial[j]!,
    healthy: true,
    admin_state: 'active' as const,
    static_weight: 1,
    priority: 0,
  }));
  const overrides: Required<ProblemOverrides> = { dials: [], shares: [], force: [] };
  ids.forEach((o, j) => dial[j]! < 1 && overrides.dials.push({ id: `dial-${o}`, origin: o, fraction: dial[j]! }));
  // Forced sources: exactly their hidden assignment (so everything stays feasible).
  for (let k = 0; k < 2; k++) {
    const i = (Math.floor(r() * n) + k) % n;
    if (overrides.force.some((f) => f.sources[0] === `s${i}`)) continue;
    overrides.force.push({ id: `force-${k}`, sources: [`s${i}`], weights: Object.fromEntries(ids.map((o, j) => [o, x0[i]![j]!])) });
  }
  const forced = new Set(overrides.force.flatMap((f) => f.sources));
  // Per-source bounds on one or two origins, kept when the set has an exact split.
  for (let k = 0; k < 8; k++) {
    const i = Math.floor(r() * n);
    if (forced.has(`s${i}`) || overrides.shares.some((b) => b.source === `s${i}`)) continue;
    const picks = [...new Set([Math.floor(r() * K), Math.floor(r() * K)])].slice(0, 1 + Math.floor(r() * 2));
    const bounds = picks.map((j) => {
      const x = x0[i]![j]!;
      const kind = r();
      return { id: `share-s${i}-o${j}`, origin: ids[j]!, source: `s${i}`, ...(kind < 0.6 ? { max: x + (1 - x) * 0.4 * r() } : {}), ...(kind > 0.3 ? { min: x * r() } : {}) };
    });
    const mins = new Map(bounds.filter((b) => b.min !== undefined).map((b) => [b.origin, b.min!]));
    const maxes = new Map(bounds.filter((b) => b.max !== undefined).map((b) => [b.origin, b.max!]));
    if ('unsatisfiable' in splitBounds(mins, maxes, ids)) continue;
    overrides.shares.push(...bounds);
  }
  // Load balancer-wide: a maximum share on the origin nearest on average (the optimum wants more of
  // it), a minimum on the farthest (it wants less): both tend to bind.
  const meanRtt = ids.map((o) => sources.reduce((a, s) => a + s.demand_rps * s.rtt_ms[o]!, 0));
  const jMax = meanRtt.indexOf(Math.min(...meanRtt));
  const jMin = meanRtt.indexOf(Math.max(...meanRtt));
  overrides.shares.push({ id: 'lb-min', origin: ids[jMin]!, min: (load0[jMin]! / D) * (0.8 + 0.2 * r()) });
  overrides.shares.push({ id: 'lb-max', origin: ids[jMax]!, max: (load0[jMax]! + (max[jMax]! - load0[jMax]!) * 0.5 * r()) / D });
  const problem: SchedulingProblem = { policy: 'latency', max_shift: 1, deadband: 0, max_latency_ms: 500, origins, sources, current: {}, overrides };
  return { problem, target: origins.map((o, j) => o.target_rps * dial[j]!), max: origins.map((o, j) => o.max_rps * dial[j]!) };
}

/** The LP with every override as a constraint, for HiGHS: f_ij, then y_j (load above target). */
function boundedLp(inst: Instance, penalty: number): GeneralLp {
  const { problem, target, max } = inst;
  const K = problem.origins.length;
  const n = problem.sources.length;
  const col = (i: number, j: number) => i * K + j;
  const lp: GeneralLp = { cost: [], lower: [], upper: [], rows: [] };
  problem.sources.forEach((s) => problem.origins.forEach((o) => (lp.cost.push(s.rtt_ms[o.id]!), lp.lower.push(0), lp.upper.push(Infinity))));
  problem.origins.forEach((_, j) => (lp.cost.push(penalty), lp.lower.push(0), lp.upper.push(max[j]! - target[j]!)));
  const D = problem.sources.reduce((a, s) => a + s.demand_rps, 0);
  const index = new Map(problem.origins.map((o, j) => [o.id, j]));
  const rowOf = new Map(problem.sources.map((s, i) => [s.id, i]));
  problem.sources.forEach((s, i) => lp.rows.push({ lower: s.demand_rps, upper: s.demand_rps, entries: problem.origins.map((_, j) => [col(i, j), 1]) }));
  problem.origins.forEach((_, j) => lp.rows.push({ lower: -Infinity, upper: target[j]!, entries: [...problem.sources.map((_, i): [number, number] => [col(i, j), 1]), [n * K + j, -1]] }));
  for (const f of problem.overrides!.force!) {
    for (const sid of f.sources) {
      const i = rowOf.get(sid)!;
      const d = problem.sources[i]!.demand_rps;
      for (const [o, w] of Object.entries(f.weights)) lp.rows.push({ lower: w * d, upper: w * d, entries: [[col(i, index.get(o)!), 1]] });
    }
  }
  for (const b of problem.overrides!.shares!) {
    const j = index.get(b.origin)!;
    if (b.source !== undefined) {
      const i = rowOf.get(b.source)!;
      const d = problem.sources[i]!.demand_rps;
      lp.rows.push({ lower: (b.min ?? 0) * d, upper: (b.max ?? 1) * d, entries: [[col(i, j), 1]] });
    } else lp.rows.push({ lower: (b.min ?? 0) * D, upper: (b.max ?? 1) * D, entries: problem.sources.map((_, i): [number, number] => [col(i, j), 1]) });
  }
  return lp;
}

/** Above-target load and demand-weighted RTT of a plan (shares per source and origin). */
function score(inst: Instance, share: (i: number, j: number) => number): { above: number; rtt: number; load: number[] } {
  const { problem, target } = inst;
  const load = problem.origins.map((_, j) => problem.sources.reduce((a, s, i) => a + s.demand_rps * share(i, j), 0));
  const rtt = problem.sources.reduce((a, s, i) => a + problem.origins.reduce((b, o, j) => b + s.demand_rps * share(i, j) * s.rtt_ms[o.id]!, 0), 0);
  return { above: load.reduce((a, l, j) => a + Math.max(0, l - target[j]!), 0), rtt, load };
}

describe('overrides are exact reformulations of the LP', () => {
  it('on 24 random bounded instances: every bound honoured exactly, optimal as HiGHS with the bounds as constraints', async () => {
    let checkedRowBounds = 0;
    const binding = { lbMin: 0, lbMax: 0, rowMin: 0, rowMax: 0 };
    for (let seed = 1; seed <= 24; seed++) {
      const inst = instance(seed * 7907);
      const { problem, max } = inst;
      const K = problem.origins.length;
      const d = decide(problem);
      expect(d.status).toBe('ok');
      for (const o of d.overrides ?? []) expect(o.status, `seed ${seed}: ${o.id} ${o.notes.join('; ')}`).toBe('applied');
      const plan = (i: number, j: number) => d.plan[problem.sources[i]!.id]?.[problem.origins[j]!.id] ?? 0;
      const D = problem.sources.reduce((a, s) => a + s.demand_rps, 0);
      const ours = score(inst, plan);

      // Bounds, exactly (shares to 1e-9; loads to 1e-9 of the demand).
      for (const f of problem.overrides!.force!) {
        const i = problem.sources.findIndex((s) => s.id === f.sources[0]);
        for (const [o, w] of Object.entries(f.weights)) expect(Math.abs(plan(i, problem.origins.findIndex((x) => x.id === o)) - w), `seed ${seed} forced`).toBeLessThan(1e-9);
      }
      for (const b of problem.overrides!.shares!) {
        const j = problem.origins.findIndex((o) => o.id === b.origin);
        const s = b.source === undefined ? ours.load[j]! / D : plan(problem.sources.findIndex((x) => x.id === b.source), j);
        if (b.source !== undefined) checkedRowBounds++;
        if (b.min !== undefined && Math.abs(s - b.min) < 1e-7) binding[b.source ? 'rowMin' : 'lbMin']++;
        if (b.max !== undefined && Math.abs(s - b.max) < 1e-7) binding[b.source ? 'rowMax' : 'lbMax']++;
        if (b.min !== undefined) expect(s, `seed ${seed} ${b.id} min`).toBeGreaterThanOrEqual(b.min - 1e-9);
        if (b.max !== undefined) expect(s, `seed ${seed} ${b.id} max`).toBeLessThanOrEqual(b.max + 1e-9);
      }
      for (let j = 0; j < K; j++) expect(ours.load[j]!).toBeLessThanOrEqual(max[j]! * (1 + 1e-9));

      // Optimal: HiGHS on the same LP with the bounds as constraints.
      let lo = Infinity;
      let hi = -Infinity;
      for (const s of problem.sources) for (const v of Object.values(s.rtt_ms)) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
      const ref = await solveGeneralLp(boundedLp(inst, (hi - lo + 1) * (K + 1)));
      expect(ref.status, `seed ${seed}`).toMatch(/7|Optimal/);
      const theirs = score(inst, (i, j) => ref.x[i * K + j]! / problem.sources[i]!.demand_rps);
      expect(Math.abs(ours.above - theirs.above), `seed ${seed}: load above target`).toBeLessThan(1e-7 * D);
      expect(Math.abs(ours.rtt - theirs.rtt) / theirs.rtt, `seed ${seed}: demand-weighted RTT ${ours.rtt} vs ${theirs.rtt}`).toBeLessThan(1e-8);
    }
    expect(checkedRowBounds).toBeGreaterThan(40);
    // The bounds were not idle: each kind bound the optimum in several instances.
    expect(binding.lbMin, JSON.stringify(binding)).toBeGreaterThanOrEqual(8);
    expect(binding.lbMax, JSON.stringify(binding)).toBeGreaterThanOrEqual(8);
    expect(binding.rowMax, JSON.stringify(binding)).toBeGreaterThanOrEqual(8);
  }, 60_000);
});

describe('overrides and the damping', () => {
  // Two origins, one source on o0 (near); a max share of 0.2 on o0 is a move of 0.8.
  const base = (overrides?: ProblemOverrides): SchedulingProblem => ({
    policy: 'latency',
    max_shift: 0.02,
    deadband: 0.005,
    max_latency_ms: 500,
    origins: ['o0', 'o1'].map((id) => ({ id, target_rps: 1000, max_rps: 1000, healthy: true, admin_state: 'active' as const, static_weight: 1, priority: 0 })),
    sources: [
      { id: 'edge:a', demand_rps: 100, rtt_ms: { o0: 10, o1: 80 } },
      { id: 'edge:b', demand_rps: 100, rtt_ms: { o0: 10, o1: 80 } },
    ],
    current: { 'edge:a': { o0: 1 }, 'edge:b': { o0: 1 } },
    ...(overrides ? { overrides } : {}),
  });

  it('without now the move towards a bound is damped; with now it is taken at once; other sources stay', () => {
    const damped = decide(base({ shares: [{ id: 'b1', origin: 'o0', source: 'edge:a', max: 0.2 }] }));
    expect(damped.plan['edge:a']!.o0).toBeCloseTo(0.2, 12);
    expect(damped.weights['edge:a']!.o0).toBeCloseTo(0.98, 12); // max_shift 0.02 of the way
    expect(damped.reason).toBe('override');
    const now = decide(base({ shares: [{ id: 'b1', origin: 'o0', source: 'edge:a', max: 0.2, now: true }] }));
    expect(now.weights['edge:a']!.o0).toBeCloseTo(0.2, 12);
    expect(now.weights['edge:b']).toEqual({ o0: 1 });
    expect(now.overrides).toEqual([{ id: 'b1', kind: 'share', status: 'applied', sources: 1, now: true, notes: [] }]);
  });

  it('forced weights are published exactly (now), a dial caps the origin, and without the override the optimum returns', () => {
    const forced = decide(base({ force: [{ id: 'f', sources: ['edge:b'], weights: { o0: 0.25, o1: 0.75 }, now: true }] }));
    expect(forced.weights['edge:b']).toEqual({ o0: 0.25, o1: 0.75 });
    const dialled = decide({ ...base({ dials: [{ id: 'd', origin: 'o0', fraction: 0.05, now: true }] }), max_shift: 1 });
    expect(dialled.origin_load_rps.o0).toBeCloseTo(50, 9); // 5 % of 1000
    expect(dialled.origins.o0!.max_rps).toBe(50);
    // The override is gone (expired, or cancelled): the same inputs plan the unbounded optimum again.
    const after = decide({ ...base(), current: dialled.weights, max_shift: 1 });
    expect(after.plan['edge:a']).toEqual({ o0: 1 });
    expect(after.overrides).toBeUndefined();
    expect(after.reason).toBe('optimize');
  });

  it('health beats an override: a forced origin that is down gets nothing, the rest is renormalised and said', () => {
    const p = base({ force: [{ id: 'f', sources: ['edge:a'], weights: { o0: 0.5, o1: 0.5 }, now: true }] });
    p.origins[0]!.healthy = false;
    const d = decide(p);
    expect(d.weights['edge:a']).toEqual({ o1: 1 });
    expect(d.overrides![0]!.status).toBe('relaxed');
    expect(d.notes.join('\n')).toMatch(/override f \(force\), now: relaxed — o0 not usable now/);
  });
});
