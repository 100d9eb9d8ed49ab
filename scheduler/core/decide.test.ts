// The decision core on small problems whose answers the maths gives exactly.
import { describe, expect, it } from 'vitest';
import { decide } from './decide.ts';
import { estimateRttMs, greatCircleKm } from './geo.ts';
import type { OriginState, SchedulingDecision, SchedulingProblem, SourceState, Weights } from './types.ts';
import { seededRandom as rng } from '../../lib/prng.ts';

function origin(id: string, max: number, extra: Partial<OriginState> = {}): OriginState {
  return { id, target_rps: extra.target_rps ?? max, max_rps: max, healthy: true, admin_state: 'active', static_weight: 1, priority: 0, ...extra };
}
function source(id: string, demand: number, rtt: Record<string, number>, extra: Partial<SourceState> = {}): SourceState {
  return { id, demand_rps: demand, rtt_ms: rtt, ...extra };
}
function problem(p: Partial<SchedulingProblem> & Pick<SchedulingProblem, 'origins' | 'sources'>): SchedulingProblem {
  return { policy: 'latency', max_shift: 1, deadband: 0.005, max_latency_ms: 500, current: {}, ...p };
}
function expectShares(actual: Record<string, number> | undefined, expected: Record<string, number>, digits = 9): void {
  expect(actual).toBeDefined();
  for (const id of new Set([...Object.keys(actual!), ...Object.keys(expected)])) expect(actual![id] ?? 0, id).toBeCloseTo(expected[id] ?? 0, digits);
}
function sumsToOne(w: Weights): void {
  for (const [s, shares] of Object.entries(w)) expect(Math.abs(Object.values(shares).reduce((a, b) => a + b, 0) - 1), s).toBeLessThan(1e-9);
}
/** Weights in force for most sources (a fifth have none), each on a random half of the origins. */
function randomWeightsInForce(r: () => number, sources: SourceState[], origins: OriginState[]): Weights {
  const current: Weights = {};
  for (const s of sources) {
    if (r() < 0.2) continue;
    const raw = origins.map(() => (r() < 0.5 ? r() : 0));
    const sum = raw.reduce((a, b) => a + b, 0) || 1;
    current[s.id] = Object.fromEntries(origins.map((o, j) => [o.id, raw[j]! / sum]).filter(([, v]) => (v as number) > 0));
  }
  return current;
}
function loads(d: SchedulingDecision): Record<string, number> {
  return d.origin_load_rps;
}

describe('latency policy', () => {
  it('the issue example: 300 rps, US max 200 -> 2/3 US, 1/3 EU, objective 18000', () => {
    const d = decide(problem({ origins: [origin('us', 200), origin('eu', 1000)], sources: [source('edge-sfo', 300, { us: 20, eu: 140 })], current: { 'edge-sfo': { us: 1 } } }));
    expectShares(d.weights['edge-sfo'], { us: 2 / 3, eu: 1 / 3 });
    expect(d.objective).toBeCloseTo(18000, 6);
    expect(loads(d).us).toBeCloseTo(200, 9);
    expect(d.overload_rps).toBe(0);
    expect(d.origins.us!.price).toBeCloseTo(120, 9); // the EU detour one more US request would force
  });

  it('moves the source with the smallest regret, not both', () => {
    // A loses 120 ms by moving, B only 20: B moves 100 rps, A stays.
    const d = decide(problem({ origins: [origin('us', 200), origin('eu', 1000)], sources: [source('a', 150, { us: 20, eu: 140 }), source('b', 150, { us: 60, eu: 80 })] }));
    expectShares(d.weights.a, { us: 1 });
    expectShares(d.weights.b, { us: 1 / 3, eu: 2 / 3 });
    expect(d.objective).toBeCloseTo(150 * 20 + 50 * 60 + 100 * 80, 6);
    expect(d.origins.us!.price).toBeCloseTo(20, 9);
  });

  it('plans at target first and uses headroom only when every target is full', () => {
    const under = decide(problem({ origins: [origin('us', 200, { target_rps: 150 }), origin('eu', 1000)], sources: [source('s', 180, { us: 20, eu: 140 })] }));
    expect(loads(under).us).toBeCloseTo(150, 6);
    expect(loads(under).eu).toBeCloseTo(30, 6);
    // Targets sum to 170 < 180: 10 rps above target, on the cheaper origin (US), within its max.
    const over = decide(problem({ origins: [origin('us', 200, { target_rps: 150 }), origin('eu', 100, { target_rps: 20 })], sources: [source('s', 180, { us: 20, eu: 140 })] }));
    expect(loads(over).us).toBeCloseTo(160, 6);
    expect(loads(over).eu).toBeCloseTo(20, 6);
    expect(over.origins.us!.notes.join(' ')).toMatch(/above target_rps/);
    expect(over.overload_rps).toBe(0);
  });

  it('spreads demand above total max in proportion to headroom, and reports it', () => {
    const d = decide(problem({ origins: [origin('us', 200, { target_rps: 100 }), origin('eu', 150, { target_rps: 100 })], sources: [source('s', 500, { us: 20, eu: 140 })] }));
    // overflow 150 split 100:50 (headroom 100 and 50)
    expect(loads(d).us).toBeCloseTo(300, 6);
    expect(loads(d).eu).toBeCloseTo(200, 6);
    expect(d.overload_rps).toBeCloseTo(150, 6);
    expect(d.plan_overload_rps).toBeCloseTo(150, 6);
    expect(d.notes.join(' ')).toMatch(/overload/);
    sumsToOne(d.weights);
  });

  it('spreads overflow in proportion to max when no origin has headroom', () => {
    const d = decide(problem({ origins: [origin('us', 200), origin('eu', 100)], sources: [source('s', 450, { us: 20, eu: 140 })] }));
    expect(loads(d).us).toBeCloseTo(300, 6);
    expect(loads(d).eu).toBeCloseTo(150, 6);
    expect(d.overload_rps).toBeCloseTo(150, 6);
  });

  it('never uses a pair above max_latency_ms, but never drops a source that has nothing else', () => {
    const d = decide(problem({ origins: [origin('us', 100), origin('eu', 1000)], sources: [source('near', 150, { us: 20, eu: 600 }), source('far', 10, { us: 700, eu: 650 })] }));
    expectShares(d.weights.near, { us: 1 }); // EU is above the ceiling: US takes the overload
    expect(d.overload_rps).toBeCloseTo(50, 6);
    expectShares(d.weights.far, { eu: 1 }); // nearest of two origins both above the ceiling
    expect(d.notes.join(' ')).toMatch(/no origin within max_latency_ms 500.*far/);
  });

  it('estimates a missing RTT from great-circle distance', () => {
    const london = { lat: 51.5142, lon: -0.0931 };
    const ny = { lat: 40.7128, lon: -74.006 };
    expect(greatCircleKm(london, ny)).toBeGreaterThan(5500);
    expect(greatCircleKm(london, ny)).toBeLessThan(5650);
    expect(estimateRttMs(london, ny)).toBeCloseTo(2 + (2 * greatCircleKm(london, ny) * 1.3) / 200, 9);
    const d = decide(
      problem({
        origins: [origin('us-east', 1000, { location: ny }), origin('eu-west', 1000, { location: { lat: 53.35, lon: -6.26 } })],
        sources: [source('81.2.69.0/24', 10, {}, { location: london })],
      }),
    );
    expectShares(d.weights['81.2.69.0/24'], { 'eu-west': 1 });
    expect(d.notes.join(' ')).toMatch(/estimated from great-circle distance/);
  });
});

describe('health, drain and admin state', () => {
  it('an unhealthy origin gets 0 in the same cycle, not damped', () => {
    const d = decide(problem({ max_shift: 0.02, origins: [origin('a', 1000), origin('b', 1000, { healthy: false })], sources: [source('s', 100, { a: 30, b: 20 })], current: { s: { a: 0.5, b: 0.5 } } }));
    expectShares(d.weights.s, { a: 1 });
    expect(d.reason).toBe('health');
    expect(d.origins.b!.notes.join(' ')).toMatch(/unhealthy/);
  });

  it('a disabled origin and an undeclared origin are freed at once as well', () => {
    const d = decide(problem({ max_shift: 0.02, origins: [origin('a', 1000), origin('b', 1000, { admin_state: 'disabled' })], sources: [source('s', 100, { a: 30, b: 20 })], current: { s: { a: 0.4, b: 0.3, gone: 0.3 } } }));
    expectShares(d.weights.s, { a: 1 });
    expect(Object.keys(d.weights.s!)).toEqual(['a']);
  });

  it('capacity protection: re-planning a failed origin\'s share never overloads a neighbour because of damping', () => {
    // a, b, c in RTT order; b fails. Its 40 % re-planned at once would put a at 136 rps (> max 100);
    // the step is raised to reach the plan (a 100, c 140) in this cycle.
    const d = decide(
      problem({
        max_shift: 0.02,
        origins: [origin('a', 100), origin('b', 100, { healthy: false }), origin('c', 200)],
        sources: [source('s', 240, { a: 10, b: 20, c: 30 })],
        current: { s: { a: 0.4, b: 0.4, c: 0.2 } },
      }),
    );
    expect(d.step.limited_by).toBe('capacity');
    expect(loads(d).a).toBeLessThanOrEqual(100 + 1e-6);
    expectShares(d.weights.s, { a: 100 / 240, c: 140 / 240 });
    expect(d.overload_rps).toBeLessThan(1e-6);
  });

  it('demand growth alone is damped (the write-up walks at max_shift)', () => {
    const d = decide(problem({ max_shift: 0.02, origins: [origin('us', 200), origin('eu', 1000)], sources: [source('s', 300, { us: 20, eu: 140 })], current: { s: { us: 1 } } }));
    expect(d.step.limited_by).toBe('max_shift');
    expectShares(d.weights.s, { us: 0.98, eu: 0.02 });
    expect(d.overload_rps).toBeCloseTo(94, 6);
  });

  it('drain walks to 0 at exactly max_shift per cycle and finishes in 1/max_shift cycles', () => {
    const base = problem({ max_shift: 0.02, origins: [origin('a', 1000, { admin_state: 'drain' }), origin('b', 1000)], sources: [source('s', 100, { a: 10, b: 30 })] });
    let current: Weights = { s: { a: 1 } };
    for (let k = 1; k <= 50; k++) {
      const d = decide({ ...base, current });
      expect(d.reason).toBe('drain');
      current = d.weights;
      expect(current.s!.a ?? 0, `cycle ${k}`).toBeCloseTo(Math.max(0, 1 - 0.02 * k), 9);
      sumsToOne(current);
    }
    expect(current.s!.a).toBeUndefined();
    const after = decide({ ...base, current });
    expect(after.reason).toBe('optimize');
    expectShares(after.weights.s, { b: 1 });
  });

  it('every origin unhealthy: fails open rather than publishing nothing; every origin disabled: holds', () => {
    const open = decide(problem({ origins: [origin('a', 100, { healthy: false }), origin('b', 100, { healthy: false })], sources: [source('s', 50, { a: 10, b: 20 })] }));
    expect(open.status).toBe('ok');
    expectShares(open.weights.s, { a: 1 });
    expect(open.notes.join(' ')).toMatch(/failing open/);
    const none = decide(problem({ origins: [origin('a', 100, { admin_state: 'disabled' })], sources: [source('s', 50, { a: 10 })], current: { s: { a: 1 } } }));
    expect(none.status).toBe('no_usable_origin');
    expect(none.reason).toBe('hold');
    expect(none.weights).toEqual({});
  });
});

describe('edge-local reachability: per-source excluded origins', () => {
  // Two edges near o1, o2 farther; edge a cannot reach o1 (its own checks), the quorum can.
  const origins = [origin('o1', 1000), origin('o2', 1000)];
  const sources = (excludedForA?: string[]) => [source('edge:a', 100, { o1: 10, o2: 40 }, excludedForA ? { excluded: excludedForA } : {}), source('edge:b', 100, { o1: 10, o2: 40 })];
  const current = { 'edge:a': { o1: 1 }, 'edge:b': { o1: 1 } };

  it('the excluded pair goes to 0 in this cycle (not damped), that source alone is re-planned, the rest unchanged', () => {
    const d = decide(problem({ origins, sources: sources(['o1']), current, max_shift: 0.02 }));
    expectShares(d.weights['edge:a'], { o2: 1 });
    expectShares(d.weights['edge:b'], { o1: 1 });
    expectShares(d.plan['edge:a'], { o2: 1 });
    expect(d.reason).toBe('health');
    expect(d.notes.join(' ')).toMatch(/1 source\/origin pair\(s\) unreachable from that source/);
    expect(d.diff).toEqual([
      { source: 'edge:a', origin_id: 'o1', from: 1, to: 0 },
      { source: 'edge:a', origin_id: 'o2', from: 0, to: 1 },
    ]);
    // Next cycle, still excluded: nothing walks back onto it.
    const next = decide(problem({ origins, sources: sources(['o1']), current: d.weights, max_shift: 0.02 }));
    expectShares(next.weights['edge:a'], { o2: 1 });
    expect(next.diff).toEqual([]);
  });

  it('capacity still holds: the excluded source’s load goes where there is room', () => {
    const tight = [origin('o1', 1000), origin('o2', 60), origin('o3', 1000)];
    const d = decide(problem({ origins: tight, sources: [source('edge:a', 100, { o1: 10, o2: 40, o3: 90 }, { excluded: ['o1'] })], current: { 'edge:a': { o1: 1 } }, max_shift: 0.02 }));
    expectShares(d.weights['edge:a'], { o2: 0.6, o3: 0.4 });
    expect(d.overload_rps).toBe(0);
  });

  it('lifted when a source can reach no usable origin (and said so); unknown or unhealthy ones do not count', () => {
    const d = decide(problem({ origins: [origin('o1', 1000), origin('o2', 1000, { healthy: false })], sources: [source('edge:a', 100, { o1: 10, o2: 40 }, { excluded: ['o1', 'nope'] })], current: { 'edge:a': { o1: 1 } } }));
    expectShares(d.weights['edge:a'], { o1: 1 });
    expect(d.notes.join(' ')).toMatch(/can reach no usable origin; their exclusions are ignored \(edge:a\)/);
  });

  it('a banned pair is never the latency-ceiling fallback', () => {
    // Both pairs are above max_latency_ms: the fallback is the nearest pair the source may use.
    const d = decide(problem({ origins, sources: [source('edge:a', 100, { o1: 600, o2: 900 }, { excluded: ['o1'] })], max_latency_ms: 500 }));
    expectShares(d.weights['edge:a'], { o2: 1 });
  });
});

describe('damping', () => {
  it('moves no weight more than max_shift and walks all sources in step', () => {
    const d = decide(
      problem({
        max_shift: 0.05,
        origins: [origin('a', 100), origin('b', 1000)],
        sources: [source('s1', 100, { a: 10, b: 50 }), source('s2', 100, { a: 12, b: 40 })],
        current: { s1: { a: 1 }, s2: { a: 1 } },
      }),
    );
    // Plan: s2 (regret 28 < 40) moves to b completely; s1 stays. Gap 1 -> α = 0.05.
    expectShares(d.plan.s2, { b: 1 });
    expectShares(d.weights.s2, { a: 0.95, b: 0.05 });
    expectShares(d.weights.s1, { a: 1 });
    expect(d.step.fraction).toBeCloseTo(0.05, 12);
  });

  it('one step fraction for everyone: an origin at capacity is never overshot while sources swap (a per-weight clamp would)', () => {
    // o1 is full with the small source A (100 rps), which prefers o2; the big source X (1000 rps)
    // prefers o1. The plan swaps them: A all to o2, X 10 % (100 rps) to o1.
    const p = problem({
      max_shift: 0.02,
      origins: [origin('o1', 100), origin('o2', 1100)],
      sources: [source('a', 100, { o1: 50, o2: 10 }), source('x', 1000, { o1: 10, o2: 50 })],
      current: { a: { o1: 1 }, x: { o2: 1 } },
    });
    let current = p.current;
    for (let k = 0; k < 60; k++) {
      const d = decide({ ...p, current });
      expect(d.origin_load_rps.o1!, `cycle ${k}`).toBeLessThanOrEqual(100 + 1e-6);
      current = d.weights;
    }
    expectShares(current.a, { o2: 1 });
    // x ends within the deadband of its plan (0.1 on o1): the last sub-deadband move is not worth making.
    expect(Math.abs(current.x!.o1! - 0.1)).toBeLessThan(0.005);
    // For contrast, the per-weight clamp's first step: x moves 0.02 (+20 rps onto o1), a moves 0.02 (−2).
    const clampLoadO1 = 100 * (1 - 0.02) + 1000 * 0.02;
    expect(clampLoadO1).toBeCloseTo(118, 9);
  });

  it('closes half the remaining gap per cycle near the plan (gain 0.5), then stops inside the deadband', () => {
    const base = problem({ max_shift: 0.02, origins: [origin('a', 100), origin('b', 1000)], sources: [source('s', 100, { a: 10, b: 50 })] });
    // plan {a: 1}; start 3 % off.
    const d1 = decide({ ...base, current: { s: { a: 0.97, b: 0.03 } } });
    expectShares(d1.weights.s, { a: 0.985, b: 0.015 }); // 0.5 × 0.03 (< max_shift)
    const d2 = decide({ ...base, current: d1.weights });
    expectShares(d2.weights.s, { a: 0.9925, b: 0.0075 });
    // 0.0075 -> 0.00375 is below the deadband on an origin the plan gives nothing: dropped.
    const d3 = decide({ ...base, current: d2.weights });
    expectShares(d3.weights.s, { a: 1 });
  });

  it('skips moves inside the deadband', () => {
    const d = decide(problem({ max_shift: 0.02, origins: [origin('a', 1000), origin('b', 1000)], sources: [source('s', 100, { a: 10, b: 50 }), source('t', 100, { a: 10, b: 50 })], current: { s: { a: 0.997, b: 0.003 }, t: { a: 0.9, b: 0.1 } } }));
    expectShares(d.weights.s, { a: 0.997, b: 0.003 });
    expect(d.step.held_sources).toBe(1);
    expect(d.weights.t!.a!).toBeGreaterThan(0.9);
  });

  it('a new source (nothing in force) gets its plan at once', () => {
    const d = decide(problem({ max_shift: 0.02, origins: [origin('us', 200), origin('eu', 1000)], sources: [source('new', 300, { us: 20, eu: 140 })] }));
    expectShares(d.weights.new, { us: 2 / 3, eu: 1 / 3 });
  });

  it('the deadband never holds an origin above max that the plan relieves', () => {
    const d = decide(problem({ max_shift: 0.02, origins: [origin('a', 100), origin('b', 1000)], sources: [source('s', 100.5, { a: 10, b: 50 })], current: { s: { a: 1 } } }));
    // Plan a = 100/100.5; the gap (0.005) is at the deadband: it moves anyway, a lands on 100.
    expect(loads(d).a).toBeCloseTo(100, 6);
  });
});

describe('other policies', () => {
  it('balance: even utilisation of target first, latency second', () => {
    const d = decide(problem({ policy: 'balance', origins: [origin('a', 100), origin('b', 300)], sources: [source('s', 200, { a: 10, b: 90 })] }));
    expect(loads(d).a).toBeCloseTo(50, 6);
    expect(loads(d).b).toBeCloseTo(150, 6);
    // Latency second: with two sources, the one nearer to a takes a's share.
    const two = decide(problem({ policy: 'balance', origins: [origin('a', 100), origin('b', 100)], sources: [source('x', 100, { a: 10, b: 90 }), source('y', 100, { a: 50, b: 60 })] }));
    expectShares(two.weights.x, { a: 1 });
    expectShares(two.weights.y, { b: 1 });
  });

  it('balance above total target: the same fraction of headroom everywhere', () => {
    // targets 100 + 100 < 260; headroom 100 and 50; σ = 60 / 150 = 0.4.
    const d = decide(problem({ policy: 'balance', origins: [origin('a', 200, { target_rps: 100 }), origin('b', 150, { target_rps: 100 })], sources: [source('s', 260, { a: 10, b: 90 })] }));
    expect(loads(d).a).toBeCloseTo(140, 6);
    expect(loads(d).b).toBeCloseTo(120, 6);
    expect(d.overload_rps).toBe(0);
  });

  it('weighted: shares by static weight, water-filled at max_rps', () => {
    const d = decide(problem({ policy: 'weighted', origins: [origin('a', 1000, { static_weight: 1 }), origin('b', 1000, { static_weight: 3 })], sources: [source('s', 100, { a: 10, b: 90 })] }));
    expectShares(d.weights.s, { a: 0.25, b: 0.75 });
    const capped = decide(problem({ policy: 'weighted', origins: [origin('a', 1000, { static_weight: 1 }), origin('b', 60, { static_weight: 3 })], sources: [source('s', 100, { a: 10, b: 90 })] }));
    expectShares(capped.weights.s, { a: 0.4, b: 0.6 });
  });

  it('failover: fills by priority, latency only breaks ties inside a level', () => {
    const d = decide(
      problem({
        policy: 'failover',
        origins: [origin('primary', 100, { priority: 0 }), origin('b', 100, { priority: 1 }), origin('c', 100, { priority: 1 })],
        sources: [source('s', 250, { primary: 200, b: 50, c: 80 })],
      }),
    );
    expect(loads(d).primary).toBeCloseTo(100, 6);
    expect(loads(d).b).toBeCloseTo(100, 6);
    expect(loads(d).c).toBeCloseTo(50, 6);
    expect(d.objective).toBeCloseTo(100 * 200 + 100 * 50 + 50 * 80, 6);
    // The primary fails: the next level takes over at once, spilling inside the level by latency.
    const failed = decide(
      problem({
        policy: 'failover',
        max_shift: 0.02,
        origins: [origin('primary', 100, { priority: 0, healthy: false }), origin('b', 100, { priority: 1 }), origin('c', 300, { priority: 1 })],
        sources: [source('s', 250, { primary: 200, b: 50, c: 80 })],
        current: d.weights,
      }),
    );
    expect(failed.origin_load_rps.primary).toBe(0);
    expect(failed.origins.b!.planned_rps).toBeCloseTo(100, 6);
    expect(failed.origins.c!.planned_rps).toBeCloseTo(150, 6);
  });
});

describe('properties on random problems', () => {
  it('shares sum to 1, no share for an unknown origin, damping never pushes an origin above both its load now and its plan', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const r = rng(seed);
      const K = 2 + Math.floor(r() * 5);
      const origins = Array.from({ length: K }, (_, j) => {
        const max = 50 + r() * 300;
        return origin(`o${j}`, max, { target_rps: max * (0.6 + 0.4 * r()), healthy: r() > 0.15, admin_state: r() < 0.1 ? 'drain' : 'active' });
      });
      const sources = Array.from({ length: 5 + Math.floor(r() * 30) }, (_, i) =>
        source(`s${i}`, r() * 60, Object.fromEntries(origins.map((o) => [o.id, 5 + r() * 300]))),
      );
      const current = randomWeightsInForce(r, sources, origins);
      const policy = (['latency', 'balance', 'weighted', 'failover'] as const)[seed % 4]!;
      const p = problem({ policy, max_shift: 0.05, origins, sources, current });
      const d = decide(p);
      sumsToOne(d.weights);
      const ids = new Set(origins.map((o) => o.id));
      for (const shares of Object.values(d.weights)) for (const id of Object.keys(shares)) expect(ids.has(id)).toBe(true);
      for (const o of origins) if (!o.healthy) for (const shares of Object.values(d.weights)) expect(shares[o.id] ?? 0).toBe(0);
      // Load now (on origins still in use) and planned load bound the damped load, unless capacity protection acted.
      if (d.step.limited_by !== 'capacity' && policy !== 'weighted') {
        for (const o of origins) {
          const now = sources.reduce((a, s) => a + s.demand_rps * (o.healthy ? (current[s.id]?.[o.id] ?? 0) : 0), 0);
          const bound = Math.max(now, d.origins[o.id]!.planned_rps, o.max_rps);
          expect(d.origin_load_rps[o.id]!, `seed ${seed} ${o.id}`).toBeLessThanOrEqual(bound * (1 + 1e-6) + 1e-6 + sources.reduce((a, s) => a + s.demand_rps, 0) * 0.005);
        }
      }
    }
  });
});

describe('invariants with DNS sticky points and connection state (answer steering, pinned load)', () => {
  it('random problems: every published and planned row sums to 1, the diff names exactly the new weights', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const r = rng(1000 + seed);
      const K = 2 + Math.floor(r() * 6);
      const origins = Array.from({ length: K }, (_, j) => {
        const max = 50 + r() * 400;
        return origin(`o${j}`, max, { target_rps: max * (0.6 + 0.4 * r()), healthy: r() > 0.1, admin_state: r() < 0.1 ? 'drain' : 'active' });
      });
      const sources = Array.from({ length: 20 + Math.floor(r() * 60) }, (_, i) => {
        const survival = Object.fromEntries(origins.map((o) => [o.id, r()]));
        const effective = r() < 0.5 ? Object.fromEntries(origins.filter(() => r() < 0.5).map((o) => [o.id, r()])) : undefined;
        return source(`10.0.${i}.0/24`, r() * 60, Object.fromEntries(origins.map((o) => [o.id, 5 + r() * 300])), {
          pick: r(),
          ...(r() < 0.7 ? { connections: { survival, ...(effective ? { effective } : {}), answer_survival: r() } } : {}),
        });
      });
      const current = randomWeightsInForce(r, sources, origins);
      const d = decide(problem({ max_shift: 0.05, origins, sources, current, merge_resolution_ms: seed % 2 === 0 ? 2 : 0 }));
      if (d.status !== 'ok') continue;
      sumsToOne(d.weights);
      sumsToOne(d.plan);
      const newEntries = new Map<string, number>();
      for (const c of d.diff) newEntries.set(`${c.source} ${c.origin_id}`, c.to);
      for (const [s, shares] of Object.entries(d.weights)) {
        for (const [o, v] of Object.entries(shares)) {
          const was = current[s]?.[o] ?? 0;
          if (Math.abs(v - was) > 1e-9) expect(newEntries.get(`${s} ${o}`), `seed ${seed} ${s} ${o}`).toBe(v);
        }
      }
    }
  });
});

describe('merged rows: the damping reads only the plan\'s and the weights in force\'s columns', () => {
  it('undamped (max_shift 1, no deadband), every published row is its plan row, whatever the weights in force named', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const r = rng(2000 + seed);
      const K = 3 + Math.floor(r() * 8);
      const origins = Array.from({ length: K }, (_, j) => origin(`o${j}`, 40 + r() * 200, { location: { lat: -50 + r() * 100, lon: -170 + r() * 340 } }));
      const places = Array.from({ length: 6 }, () => ({ lat: -50 + r() * 100, lon: -170 + r() * 340 }));
      // Sources at a few places, so many rows merge (the plan's columns come from the merged rows).
      const sources = Array.from({ length: 100 + Math.floor(r() * 200) }, (_, i) => source(`s${i}`, 1 + r() * 10, r() < 0.2 ? { [`o${Math.floor(r() * K)}`]: 5 + r() * 100 } : {}, { location: places[i % places.length]! }));
      const current: Weights = {};
      for (const s of sources) if (r() < 0.7) current[s.id] = { [`o${Math.floor(r() * K)}`]: 0.5, [`o${Math.floor(r() * K)}`]: 0.5 };
      const d = decide(problem({ max_shift: 1, deadband: 0, origins, sources, current, merge_resolution_ms: 2 }));
      expect(d.solver.merged_rows, `seed ${seed}`).toBeLessThan(sources.length);
      expect(Object.keys(d.plan)).toHaveLength(sources.length);
      sumsToOne(d.plan);
      sumsToOne(d.weights);
      for (const s of sources) expectShares(d.weights[s.id], d.plan[s.id]!, 12);
    }
  });
});
