// The cost matrix's rows (fillRow: a location's row of estimates copied, learned RTTs written over it)
// against the rule stated in costs.ts, computed here pair by pair from the problem itself: the learned
// RTT when finite and ≥ 0, else the great-circle estimate when both ends are located, else
// max_latency_ms; over the ceiling, +∞.
import { describe, expect, it } from 'vitest';
import { buildCosts } from './costs.ts';
import { DEFAULT_RTT_MODEL, estimateRttMs } from './geo.ts';
import { densify } from './input.ts';
import type { OriginState, SchedulingProblem, SourceState } from './types.ts';
import { seededRandom } from '../../lib/prng.ts';

const CEILING = 400;

function origin(id: string, location?: { lat: number; lon: number }): OriginState {
  return { id, target_rps: 100, max_rps: 100, healthy: true, admin_state: 'active', static_weight: 1, priority: 0, ...(location ? { location } : {}) };
}

/** What costs.ts's header says a pair costs. */
function expected(s: SourceState, o: OriginState): { ms: number; kind: 'learned' | 'estimated' | 'unknown' } {
  const learned = s.rtt_ms[o.id];
  if (learned !== undefined && learned >= 0 && learned !== Infinity) return { ms: learned, kind: 'learned' };
  if (s.location && o.location) return { ms: estimateRttMs(s.location, o.location, DEFAULT_RTT_MODEL), kind: 'estimated' };
  return { ms: CEILING, kind: 'unknown' };
}

function check(sources: SourceState[], origins: OriginState[], destinations: number[]): void {
  const problem: SchedulingProblem = { policy: 'latency', max_shift: 1, deadband: 0.005, max_latency_ms: CEILING, current: {}, origins, sources };
  const dense = densify(problem);
  const columns = destinations.map((j) => origins[j]!);
  const m = buildCosts(dense, columns, destinations);
  let estimated = 0;
  let unknown = 0;
  const K = columns.length;
  for (let i = 0; i < sources.length; i++) {
    for (let c = 0; c < K; c++) {
      const e = expected(sources[i]!, columns[c]!);
      if (e.kind === 'estimated') estimated++;
      if (e.kind === 'unknown') unknown++;
      expect(m.latencyAt(i, c), `latencyAt(${sources[i]!.id}, ${columns[c]!.id})`).toBe(e.ms);
      // A source with no pair under the ceiling keeps its nearest one (the fallback), others are +∞.
      const cost = m.cost[i * K + c]!;
      if (e.ms <= CEILING) expect(cost, `cost(${sources[i]!.id}, ${columns[c]!.id})`).toBe(e.ms);
      else expect(cost === Infinity || m.fallbacks.includes(sources[i]!.id), `cost(${sources[i]!.id}, ${columns[c]!.id}) over the ceiling`).toBe(true);
    }
  }
  expect(m.estimated).toBe(estimated);
  expect(m.unknown).toBe(unknown);
}

describe('cost matrix rows', () => {
  const origins = [
    origin('ams', { lat: 52.4, lon: 4.9 }),
    origin('nowhere'), // no location: unknown unless learned
    origin('sin', { lat: 1.35, lon: 103.8 }),
    origin('iad', { lat: 38.9, lon: -77.4 }),
    origin('gru', { lat: -23.5, lon: -46.6 }),
  ];
  const cities = [
    { lat: 48.9, lon: 2.35 },
    { lat: 35.7, lon: 139.7 },
    { lat: 40.7, lon: -74.0 },
  ];

  it('equals the rule pair by pair: learned RTTs over shared locations, invalid ones ignored, unlocated sources and origins, a column subset', () => {
    const random = seededRandom(7);
    const sources: SourceState[] = [];
    for (let k = 0; k < 300; k++) {
      const rtt: Record<string, number> = {};
      for (const o of origins) {
        const r = random();
        if (r < 0.15) rtt[o.id] = Math.round(random() * 300);
        else if (r < 0.18) rtt[o.id] = [-5, Infinity, Number.NaN, 0][k % 4]!; // not a latency (0 is one)
        else if (r < 0.2) rtt[o.id] = 450 + random() * 100; // learned, but over the ceiling
      }
      // Many sources share a city (one row of estimates each), some have none.
      const location = k % 7 === 0 ? undefined : cities[k % cities.length];
      sources.push({ id: `s${k}`, demand_rps: 1, rtt_ms: rtt, ...(location ? { location } : {}) });
    }
    sources.push({ id: 'learned-nothing-unlocated', demand_rps: 1, rtt_ms: {} });
    check(sources, origins, [0, 1, 2, 3, 4]);
    // Not every declared origin is a destination (removed or disabled ones are not columns): the
    // learned RTT of a non-destination must not land in another column.
    check(sources, origins, [4, 0, 2]);
  });

  it('a source whose location is not kept (more distinct locations than the cache holds) gets the same numbers', () => {
    const random = seededRandom(11);
    const sources: SourceState[] = [];
    for (let k = 0; k < 8_300; k++) {
      const rtt: Record<string, number> = random() < 0.1 ? { iad: Math.round(random() * 200) } : {};
      sources.push({ id: `s${k}`, demand_rps: 1, rtt_ms: rtt, location: { lat: -60 + (k % 120) + k / 10_000, lon: -170 + ((k * 7) % 340) } });
    }
    check(sources, origins, [0, 1, 2, 3, 4]);
  });
});
