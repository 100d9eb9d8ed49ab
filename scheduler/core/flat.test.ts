// The flat forms decide() runs on (input.ts, output.ts) and the work arrays it reuses (scratch.ts):
// reading a problem keeps what the core needs, and reusing arrays never carries one call into the next.
import { describe, expect, it } from 'vitest';
import { decide, decideDense } from './decide.ts';
import { densify, rttOf } from './input.ts';
import { toDecision } from './output.ts';
import { Scratch } from './scratch.ts';
import type { OriginState, SchedulingProblem } from './types.ts';

function origin(id: string, max: number, extra: Partial<OriginState> = {}): OriginState {
  return { id, target_rps: max, max_rps: max, healthy: true, admin_state: 'active', static_weight: 1, priority: 0, ...extra };
}

function randomProblem(seed: number, n: number, K: number): SchedulingProblem {
  let s = seed;
  const r = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const origins = Array.from({ length: K }, (_, j) => origin(`o${j}`, 0));
  const sources = Array.from({ length: n }, (_, i) => ({ id: `s${i}`, demand_rps: r() * 10, rtt_ms: Object.fromEntries(origins.map((o) => [o.id, Math.round(5 + r() * 200)])) }));
  const D = sources.reduce((a, x) => a + x.demand_rps, 0);
  for (const o of origins) o.target_rps = o.max_rps = (D * 1.2) / K;
  const current = Object.fromEntries(sources.filter((_, i) => i % 3 === 0).map((x) => [x.id, { o0: 0.5, [`o${K - 1}`]: 0.5 }]));
  return { policy: 'latency', max_shift: 0.05, deadband: 0.005, max_latency_ms: 500, origins, sources, current };
}

describe('flat problem (densify)', () => {
  it('reads RTTs whatever the key order, ignores undeclared origins, keeps the shares in force in their order', () => {
    const p: SchedulingProblem = {
      policy: 'latency',
      max_shift: 1,
      deadband: 0,
      max_latency_ms: 500,
      origins: [origin('a', 100), origin('b', 100)],
      sources: [
        { id: 'x', demand_rps: 5, rtt_ms: { a: 10, ghost: 1, b: 20 } },
        { id: 'y', demand_rps: Number.NaN, rtt_ms: { b: 30, a: 40 }, location: { lat: 1, lon: 2 } },
        { id: 'z', demand_rps: 1, rtt_ms: {} },
      ],
      current: { y: { old: 0.25, b: 0.75 }, z: {} },
    };
    const d = densify(p);
    expect([0, 1, 2].flatMap((i) => [rttOf(d.rtt, i, 0), rttOf(d.rtt, i, 1)])).toEqual([10, 20, 40, 30, Number.NaN, Number.NaN]);
    // Sparse rows in the records' key order; the undeclared origin is not kept.
    expect([...d.rtt.start]).toEqual([0, 2, 4, 4]);
    expect([...d.rtt.origin]).toEqual([0, 1, 1, 0]);
    expect([...d.demand]).toEqual([5, 0, 1]); // NaN demand counts as none
    expect([...d.hasLocation]).toEqual([0, 1, 0]);
    expect([d.lat[1], d.lon[1]]).toEqual([1, 2]);
    expect([...d.current.has]).toEqual([0, 1, 1]);
    expect([...d.current.start]).toEqual([0, 0, 2, 2]);
    expect([...d.current.origin]).toEqual([-1, 1]); // "old" is not declared: extraIds[0]
    expect(d.current.extraIds).toEqual(['old']);
    expect([...d.current.share]).toEqual([0.25, 0.75]);
  });

  it('the worker path (flat forms in, records built after) answers exactly what decide() does', () => {
    const p = randomProblem(7, 200, 5);
    expect(toDecision(decideDense(densify(p)))).toStrictEqual(decide(p));
  });
});

describe('reused work arrays', () => {
  it('a call never sees what the previous one left: large, small, large again give the same answers', () => {
    const large = randomProblem(1, 400, 6);
    const small = randomProblem(2, 30, 3);
    const first = decide(large);
    const smallAnswer = decide(small);
    expect(decide(large)).toStrictEqual(first);
    // The small problem alone (fresh arrays in a new module state would be the same as reused ones).
    expect(decide(small)).toStrictEqual(smallAnswer);
    expect(first.status).toBe('ok');
    expect(Object.keys(first.weights)).toHaveLength(400);
  });

  it('Scratch hands out zero-filled (or filled) arrays of the asked length, reusing memory', () => {
    const space = new Scratch();
    const a = space.f64('x', 8);
    a.fill(3);
    const b = space.f64('x', 5);
    expect(b.length).toBe(5);
    expect([...b]).toEqual([0, 0, 0, 0, 0]);
    expect(b.buffer).toBe(a.buffer);
    expect([...space.f64('x', 4, Number.NaN)]).toEqual([Number.NaN, Number.NaN, Number.NaN, Number.NaN]);
    expect(space.f64('x', 16).length).toBe(16); // grows when asked for more
  });
});
