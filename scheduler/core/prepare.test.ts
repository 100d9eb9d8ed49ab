// prepareScratch maps, ahead of a decision, the large arrays that decision then writes (prepare.ts):
// checked by what decide() allocates afterwards — nothing large of its own, the prepared arrays
// themselves — so a renamed or added sources × origins array shows up here.
import { describe, expect, it } from 'vitest';
import { decide } from './decide.ts';
import { prepareScratch } from './prepare.ts';
import { scratch } from './scratch.ts';
import type { OriginState, Policy, SchedulingProblem, SourceState } from './types.ts';

function problemOf(n: number, K: number, policy: Policy): SchedulingProblem {
  const origins: OriginState[] = Array.from({ length: K }, (_, j) => ({ id: `o${j}`, target_rps: (n * 3) / K, max_rps: (n * 4) / K, healthy: true, admin_state: 'active', static_weight: 1, priority: j % 3, location: { lat: -50 + (100 * j) / K, lon: -170 + (340 * j) / K } }));
  const sources: SourceState[] = Array.from({ length: n }, (_, i) => ({ id: `10.${i >> 8}.${i & 255}.0/24`, demand_rps: 1 + (i % 7), rtt_ms: {}, location: { lat: -40 + (i % 9) * 10, lon: -150 + (i % 13) * 25 } }));
  const current = Object.fromEntries(sources.filter((_, i) => i % 2 === 0).map((s) => [s.id, { o0: 1 }]));
  return { policy, max_shift: 0.05, deadband: 0.005, max_latency_ms: 500, current, origins, sources, merge_resolution_ms: 2 };
}

/** Names of the kept Float64Arrays at least `length` long, with the arrays. */
function large(length: number): Map<string, Float64Array> {
  return new Map([...scratch.f64Arrays()].filter(([, a]) => a.length >= length));
}

describe('prepareScratch', () => {
  // Sizes grow from test to test: scratch keeps its arrays at the largest size seen in this thread.
  for (const [policy, n] of [['latency', 3000], ['failover', 4000], ['balance', 5000]] as const) {
    it(`maps what a ${policy} decision of that size writes, and that decision allocates no large array of its own`, () => {
      const K = 24;
      const before = large(n * K);
      expect(before.size).toBe(0);
      const mb = prepareScratch(n, K, policy);
      expect(mb).toBeGreaterThan(0);
      const prepared = large((n / 2) * K);
      expect(prepared.size).toBeGreaterThanOrEqual(3);
      // A second call for the same size maps nothing more.
      expect(prepareScratch(n, K, policy)).toBe(0);

      const d = decide(problemOf(n, K, policy));
      expect(d.status).toBe('ok');
      expect(Object.keys(d.weights)).toHaveLength(n);
      const after = large((n / 2) * K);
      expect([...after.keys()].sort()).toEqual([...prepared.keys()].sort());
      for (const [name, array] of prepared) expect(after.get(name), name).toBe(array);
    });
  }
});
