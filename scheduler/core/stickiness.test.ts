import { describe, expect, it } from 'vitest';
import { decide } from './decide.ts';
import type { OriginState, SchedulingProblem } from './types.ts';

const origin = (id: string, max: number): OriginState => ({ id, target_rps: max, max_rps: max, healthy: true, admin_state: 'active', static_weight: 1, priority: 0 });

describe('anti-flap band (stickiness_ms)', () => {
  // near has room for one of two near-identical subnets. b is on near now, a on far; a is 0.3 ms closer.
  const p = (stickiness_ms: number): SchedulingProblem => ({
    policy: 'latency',
    max_shift: 1,
    deadband: 0,
    max_latency_ms: 500,
    stickiness_ms,
    origins: [origin('near', 10), origin('far', 1000)],
    sources: [
      { id: 'a', demand_rps: 10, rtt_ms: { near: 20, far: 100 } },
      { id: 'b', demand_rps: 10, rtt_ms: { near: 20.3, far: 100 } },
    ],
    current: { a: { far: 1 }, b: { near: 1 } },
  });

  it('without it, RTT noise swaps the two', () => {
    const d = decide(p(0));
    expect(d.weights).toEqual({ a: { near: 1 }, b: { far: 1 } });
  });

  it('with a band wider than the difference, the plan keeps what is in place; the reported objective is the real latency', () => {
    const d = decide(p(2));
    expect(d.weights).toEqual({ a: { far: 1 }, b: { near: 1 } });
    expect(d.objective).toBeCloseTo(10 * 100 + 10 * 20.3, 9);
  });

  it('a real difference still moves it', () => {
    const q = p(2);
    q.sources[1]!.rtt_ms.near = 25;
    expect(decide(q).weights).toEqual({ a: { near: 1 }, b: { far: 1 } });
  });
});
