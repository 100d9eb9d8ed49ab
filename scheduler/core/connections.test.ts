// The decision core with established connections: the prediction (pinned-decaying + new traffic by the
// new weights), the damping walking the load rather than the weights, the limit connections put on how
// fast load can leave, failures (connections break), sources answered whole, and the invariants on
// random problems. Each case is checked against numbers worked out by hand or against a simulation of
// the physical system (connections closing at the modelled rate).
import { describe, expect, it } from 'vitest';
import { seededRandom as rng } from '../../lib/prng.ts';
import { decide } from './decide.ts';
import { pickOrigin, pickOrder } from './predict.ts';
import type { OriginState, SchedulingProblem, SourceState, Weights } from './types.ts';

function origin(id: string, max: number, extra: Partial<OriginState> = {}): OriginState {
  return { id, target_rps: extra.target_rps ?? max, max_rps: max, healthy: true, admin_state: 'active', static_weight: 1, priority: 0, ...extra };
}
function problem(p: Partial<SchedulingProblem> & Pick<SchedulingProblem, 'origins' | 'sources'>): SchedulingProblem {
  return { policy: 'latency', max_shift: 1, deadband: 0.005, max_latency_ms: 500, current: {}, ...p };
}
const survival = (ids: string[], s: number) => Object.fromEntries(ids.map((id) => [id, s]));

describe('prediction with established connections', () => {
  it('pinned traffic decays at its survival; the rest arrives by the new weights', () => {
    // 100 rps all on us, all of it to move (us is disabled by max 1... no: plan says eu). Undamped:
    // the new weights send everything new to eu; half of us's connections survive the cycle (S = 0.5),
    // three quarters on average over it (S̄ = 0.75).
    const d = decide(problem({
      origins: [origin('us', 1), origin('eu', 1000)],
      sources: [{ id: 's', demand_rps: 100, rtt_ms: { us: 10, eu: 20 }, connections: { effective: { us: 1 }, survival: { us: 0.5, eu: 0.5 }, mean_survival: { us: 0.75, eu: 0.75 } } }],
      current: { s: { us: 1 } },
    }));
    // The walk target is the plan (max_shift 1): us 0.01, eu 0.99; pinned 0.5 on us, so the new
    // weights put (0.01 − 0.5)⁺ = 0 on us: everything new goes to eu.
    expect(d.weights.s).toEqual({ eu: 1 });
    expect(d.origin_load_rps.us).toBeCloseTo(75, 9);
    expect(d.origin_load_rps.eu).toBeCloseTo(25, 9);
    expect(d.origins.us!.pinned_rps).toBeCloseTo(75, 9);
    expect(d.connections!.effective.s).toEqual({ us: 0.5, eu: 0.5 });
    expect(d.notes.join(' ')).toMatch(/held back by established connections/);
  });

  it('predicts with the measured pinned shares when the agents give them, whatever the model says', () => {
    // The connections open now will keep 60 % of the demand on us on average over the cycle (old ones
    // about to close would keep less: the agents know their ages); the rest arrives by the weights.
    const d = decide(problem({
      origins: [origin('us', 1), origin('eu', 1000)],
      sources: [{ id: 's', demand_rps: 100, rtt_ms: { us: 10, eu: 20 }, connections: { effective: { us: 1 }, survival: { us: 0.9, eu: 0.9 }, pinned: { end: { us: 0.4 }, mean: { us: 0.6 } } } }],
      current: { s: { us: 1 } },
    }));
    expect(d.weights.s).toEqual({ eu: 1 });
    expect(d.origin_load_rps.us).toBeCloseTo(60, 9);
    expect(d.origin_load_rps.eu).toBeCloseTo(40, 9);
    expect(d.origins.us!.pinned_rps).toBeCloseTo(60, 9);
  });

  it('without connection state the prediction is demand × weights (the per-request data plane)', () => {
    const p = problem({ origins: [origin('us', 200), origin('eu', 1000)], sources: [{ id: 's', demand_rps: 300, rtt_ms: { us: 20, eu: 140 } }], current: { s: { us: 1 } }, max_shift: 0.02 });
    const d = decide(p);
    expect(d.origin_load_rps.us).toBeCloseTo(300 * d.weights.s!.us!, 9);
    expect(d.connections).toBeUndefined();
    expect(d.origins.us!.pinned_rps).toBe(0);
  });
});

/**
 * The write-up's spill with keep-alive clients: 300 rps all on us, capped at 200, max_shift 0.02.
 * The physical system: each cycle a fraction S of each origin's load stays on its connections and the
 * rest arrives by the weights just published. Returns the cycles until us carries ≤ 200 × 1.02.
 */
function spill(S: number, connectionAware: boolean): { cycles: number; maxPredictionError: number } {
  const origins = [origin('us', 200), origin('eu', 1000)];
  let weights: Weights = { s: { us: 1 } };
  let real: Record<string, number> = { us: 1, eu: 0 }; // where the load really is (shares)
  let carried: Record<string, number> | undefined;
  let maxPredictionError = 0;
  for (let cycle = 1; cycle <= 200; cycle++) {
    const d = decide(problem({
      origins,
      max_shift: 0.02,
      sources: [{ id: 's', demand_rps: 300, rtt_ms: { us: 20, eu: 140 }, ...(connectionAware ? { connections: { effective: carried ?? real, survival: { us: S, eu: S } } } : {}) }],
      current: weights,
    }));
    weights = d.weights;
    carried = d.connections?.effective.s;
    const w = weights.s!;
    real = { us: S * real.us! + (1 - S) * (w.us ?? 0), eu: S * real.eu! + (1 - S) * (w.eu ?? 0) };
    // End-of-cycle prediction (S̄ = S here) against the simulated system.
    if (connectionAware) maxPredictionError = Math.max(maxPredictionError, Math.abs(d.origin_load_rps.us! - 300 * real.us!));
    if (300 * real.us! <= 204) return { cycles: cycle, maxPredictionError };
  }
  return { cycles: Infinity, maxPredictionError };
}

describe('damping walks the load, not the weights', () => {
  it('with most traffic pinned the load still settles within the damping law (+1), and as predicted', () => {
    const perRequest = spill(0, false);
    // The damping law without connections: 17 cycles from share 1 to within 2 % of 2/3.
    expect(perRequest.cycles).toBeLessThanOrEqual(18);
    for (const S of [0.3, 0.6, 0.8]) {
      const aware = spill(S, true);
      const naive = spill(S, false);
      expect(aware.cycles, `S=${S}`).toBeLessThanOrEqual(perRequest.cycles + 1);
      // Walking the weights instead lags by about S/(1 − S) cycles (the connections' mean residual life).
      expect(naive.cycles, `S=${S}`).toBeGreaterThanOrEqual(aware.cycles + Math.floor(S / (1 - S)));
      expect(aware.maxPredictionError, `S=${S}`).toBeLessThan(1e-6);
    }
  });

  it('load cannot leave faster than connections release it: the source lags, and the decision says so', () => {
    const d = decide(problem({
      origins: [origin('us', 200), origin('eu', 1000)],
      max_shift: 0.2,
      sources: [{ id: 's', demand_rps: 300, rtt_ms: { us: 20, eu: 140 }, connections: { effective: { us: 1 }, survival: { us: 0.95, eu: 0.95 } } }],
      current: { s: { us: 1 } },
    }));
    // Target us 0.8 needs 0.2 to leave; only 0.05 closes: all new traffic to eu, us keeps 0.95.
    expect(d.weights.s).toEqual({ eu: 1 });
    expect(d.connections!.effective.s!.us).toBeCloseTo(0.95, 12);
    expect(d.origin_load_rps.us).toBeCloseTo(285, 9);
    expect(d.notes.join(' ')).toMatch(/1 source\(s\) held back by established connections/);
  });

  it('a failed origin’s connections break: its share is re-planned at once and predicted at 0', () => {
    const d = decide(problem({
      origins: [origin('us', 1000, { healthy: false }), origin('eu', 1000), origin('ap', 1000)],
      max_shift: 0.02,
      sources: [{ id: 's', demand_rps: 300, rtt_ms: { us: 20, eu: 100, ap: 150 }, connections: { effective: { us: 0.5, eu: 0.5 }, survival: { us: 0.9, eu: 0.9, ap: 0.9 } } }],
      current: { s: { us: 0.5, eu: 0.5 } },
    }));
    expect(d.reason).toBe('health');
    expect(d.origin_load_rps.us).toBe(0);
    // eu: its own 150 pinned (90 % of it past the cycle, the rest back by the weights) plus the freed 150.
    expect(d.origin_load_rps.eu).toBeCloseTo(300, 9);
    expect(d.weights.s).toEqual({ eu: 1 });
  });

  it('the capacity guard judges the load the next cycle will carry, pinned traffic included', () => {
    // us fails; eu (max 200) already carries 150 on connections that stay, ap has room. Re-planning the
    // freed 150 onto eu's plan share would overload it: the guard moves faster, onto ap.
    const d = decide(problem({
      origins: [origin('us', 1000, { healthy: false }), origin('eu', 200), origin('ap', 1000)],
      max_shift: 0.02,
      sources: [
        { id: 'a', demand_rps: 150, rtt_ms: { us: 10, eu: 20, ap: 200 }, connections: { effective: { eu: 1 }, survival: { us: 0.9, eu: 0.9, ap: 0.9 } } },
        { id: 'b', demand_rps: 150, rtt_ms: { us: 10, eu: 30, ap: 60 }, connections: { effective: { us: 1 }, survival: { us: 0.9, eu: 0.9, ap: 0.9 } } },
      ],
      current: { a: { eu: 1 }, b: { us: 1 } },
    }));
    expect(d.origin_load_rps.eu!).toBeLessThanOrEqual(200 + 1e-6);
    expect(d.origin_load_rps.us).toBe(0);
    expect(d.origin_load_rps.ap!).toBeGreaterThan(0);
  });
});

describe('each source walks at its own pace', () => {
  it('a source newly sent elsewhere (gap 1) does not slow the others to 5 % of their way per cycle', () => {
    const sources = Array.from({ length: 10 }, (_, k) => ({ id: `s${k}`, demand_rps: 10, rtt_ms: { o1: 10, o2: 50 } }));
    const current: Weights = Object.fromEntries(sources.map((x) => [x.id, { o1: 0.3, o2: 0.7 }]));
    sources.push({ id: 'new', demand_rps: 10, rtt_ms: { o1: 10, o2: 50 } });
    current.new = { o1: 1 };
    const d = decide(problem({ origins: [origin('o1', 1e-9), origin('o2', 1000)], sources, current, max_shift: 0.05 }));
    expect(d.step.fraction).toBeCloseTo(0.05, 12); // set by the newcomer
    expect(d.weights.new!.o1).toBeCloseTo(0.95, 12);
    for (let k = 0; k < 10; k++) expect(d.weights[`s${k}`]!.o1).toBeCloseTo(0.25, 12); // max_shift of their own way, not 5 % of it
  });

  it('but not where that would push an origin beyond the common fraction and its max (the clamp the README warns of)', () => {
    // o1 is full (100) with a 100 rps source that prefers o2; a 1,000 rps source should put 10 % on o1.
    const d = decide(problem({
      origins: [origin('o1', 100), origin('o2', 10_000)],
      sources: [{ id: 'small', demand_rps: 100, rtt_ms: { o1: 50, o2: 10 } }, { id: 'big', demand_rps: 1000, rtt_ms: { o1: 10, o2: 11 } }],
      current: { small: { o1: 1 }, big: { o2: 1 } },
      max_shift: 0.02,
    }));
    expect(d.origin_load_rps.o1!).toBeLessThanOrEqual(100 + 1e-9);
  });
});

describe('sources answered whole (DNS subnets)', () => {
  it('new traffic goes to the origin whose interval of the id-ordered line holds the point', () => {
    const w = Float64Array.from([0.3, 0.7]); // origins declared [b, a]: the line is a (0.7) then b (0.3)
    const order = pickOrder(['b', 'a']);
    expect(order).toEqual([1, 0]);
    expect(pickOrigin(w, 0, order, 0.5)).toBe(1);
    expect(pickOrigin(w, 0, order, 0.75)).toBe(0);
    expect(pickOrigin(Float64Array.from([0, 0]), 0, order, 0.5)).toBe(-1);
  });

  it('predicts whole subnets: the load moves in steps while the weights walk', () => {
    const base = { origins: [origin('a', 1000), origin('b', 1000)], max_shift: 1 };
    const at = (u: number) => decide(problem({ ...base, sources: [{ id: 's', demand_rps: 10, rtt_ms: { a: 10, b: 10 }, pick: u }], current: { s: { a: 0.6, b: 0.4 } } }));
    const lo = at(0.2);
    const share = lo.weights.s!.a ?? 0;
    expect(lo.origin_load_rps.a).toBe(0.2 < share ? 10 : 0);
    const hi = at(0.99);
    expect(hi.origin_load_rps.b).toBe(0.99 < share ? 0 : 10);
  });

  it('answer survival: what is pinned off the new answer stays only as far as connections outlive an answer change', () => {
    // All of s is on a; the plan says b. The agents measure 60 % of its demand pinned on a over the
    // cycle; the walk's survival is 0.6. Undamped, the answer moves to b (pick 0.5 lands in b's interval).
    const at = (answer: { answer_survival?: number }) =>
      decide(problem({
        origins: [origin('a', 1), origin('b', 1000)],
        sources: [{ id: 's', demand_rps: 100, rtt_ms: { a: 10, b: 20 }, pick: 0.5, connections: { effective: { a: 1 }, survival: { a: 0.6, b: 0.6 }, pinned: { end: { a: 0.5 }, mean: { a: 0.6 } }, ...answer } }],
        current: { s: { a: 1 } },
      }));
    const keep = at({});
    expect(keep.origin_load_rps.a).toBeCloseTo(60, 9); // browsers: their connections stay on a
    expect(keep.connections!.effective.s!.a).toBeCloseTo(0.6, 9);
    const follow = at({ answer_survival: 0 });
    expect(follow.origin_load_rps.a).toBeCloseTo(0, 9); // clients that follow answers: all on b at once
    expect(follow.origin_load_rps.b).toBeCloseTo(100, 9);
    expect(follow.origins.a!.pinned_rps).toBe(0);
    // The walk pinned nothing either: where the load ends is the weights (a keeps the plan's 1 rps).
    expect(follow.connections!.effective.s!.b).toBeCloseTo(follow.weights.s!.b!, 12);
    expect(follow.weights.s!.b).toBeCloseTo(0.99, 9);
    const half = at({ answer_survival: 0.5 });
    expect(half.origin_load_rps.a).toBeCloseTo(30, 9);
  });

  it('a subnet with no measured connection keeps its pinned share whole on the origin its answer in force names', () => {
    // The walk expects s 0.8 on a, 0.2 on b. The answer in force: the id-ordered line is a [0, 0.7),
    // b [0.7, 1), so pick 0.9 names b and 0.1 names a. The agents report no open connection (its one is
    // younger than min_connection_age): it was opened by that answer, and stays there whole.
    const at = (pick: number) =>
      decide(problem({
        origins: [origin('a', 1000), origin('b', 1000)],
        sources: [{ id: 's', demand_rps: 10, rtt_ms: { a: 10, b: 10 }, pick, connections: { effective: { a: 0.8, b: 0.2 }, survival: { a: 0.6, b: 0.6 }, mean_survival: { a: 0.8, b: 0.8 } } }],
        current: { s: { a: 0.7, b: 0.3 } },
      }));
    const onB = at(0.9);
    expect(onB.origins.b!.pinned_rps).toBeCloseTo(8, 9); // S̄ × demand, all on b — not 0.8 × 0.2 × 10
    expect(onB.origins.a!.pinned_rps).toBeCloseTo(0, 9);
    const onA = at(0.1);
    expect(onA.origins.a!.pinned_rps).toBeCloseTo(8, 9);
    expect(onA.origins.b!.pinned_rps).toBeCloseTo(0, 9);
  });

  it('answer survival 0 makes the walk the plain weight walk: the answers move at max_shift', () => {
    const d = decide(problem({
      origins: [origin('a', 1), origin('b', 1000)],
      max_shift: 0.1,
      sources: [{ id: 's', demand_rps: 100, rtt_ms: { a: 10, b: 20 }, connections: { effective: { a: 1 }, survival: { a: 0.6, b: 0.6 }, answer_survival: 0 } }],
      current: { s: { a: 1 } },
    }));
    expect(d.weights.s!.b).toBeCloseTo(0.1, 9); // not 0.1 / (1 − 0.6) = 0.25
    expect(d.origin_load_rps.b).toBeCloseTo(10, 9);
  });
});

describe('invariants on random problems with connection state', () => {
  it('weights and next states sum to 1; predicted loads add up to the demand; pinned ≤ load', () => {
    const rand = rng(20);
    for (let t = 0; t < 200; t++) {
      const K = 2 + Math.floor(rand() * 4);
      const ids = Array.from({ length: K }, (_, j) => `o${j}`);
      const origins = ids.map((id) => origin(id, 50 + rand() * 300, { healthy: rand() > 0.15 }));
      const n = 1 + Math.floor(rand() * 12);
      const sources: SourceState[] = [];
      const current: Weights = {};
      for (let i = 0; i < n; i++) {
        const eff: Record<string, number> = {};
        for (const id of ids) if (rand() > 0.4) eff[id] = rand();
        const cur: Record<string, number> = {};
        for (const id of ids) if (rand() > 0.5) cur[id] = rand();
        if (Object.keys(cur).length > 0) current[`s${i}`] = cur;
        sources.push({
          id: `s${i}`,
          demand_rps: rand() * 100,
          rtt_ms: Object.fromEntries(ids.map((id) => [id, 5 + rand() * 200])),
          connections: { effective: Object.keys(eff).length > 0 ? eff : undefined, survival: survival(ids, rand()), mean_survival: survival(ids, 0.5 + rand() / 2) },
          ...(rand() > 0.5 ? { pick: rand() } : {}),
        });
      }
      const d = decide(problem({ origins, sources, current, max_shift: 0.02 + rand() * 0.3 }));
      if (d.status !== 'ok') continue;
      const total = sources.reduce((a, s) => a + s.demand_rps, 0);
      const load = Object.values(d.origin_load_rps).reduce((a, b) => a + b, 0);
      expect(Math.abs(load - total), `case ${t}`).toBeLessThan(1e-6 * Math.max(1, total));
      for (const o of origins) {
        expect(d.origins[o.id]!.pinned_rps).toBeLessThanOrEqual(d.origin_load_rps[o.id]! + 1e-9);
        if (!o.healthy && origins.some((x) => x.healthy)) expect(d.origin_load_rps[o.id], `case ${t} ${o.id}`).toBe(0);
      }
      for (const w of [d.weights, d.connections!.effective]) {
        for (const [s, shares] of Object.entries(w)) expect(Math.abs(Object.values(shares).reduce((a, b) => a + b, 0) - 1), `case ${t} ${s}`).toBeLessThan(1e-9);
      }
    }
  });
});
