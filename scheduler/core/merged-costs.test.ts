// The merged rows built straight from the problem (merged-costs.ts) against the plain way — the whole
// cost matrix (costs.ts), the stickiness over it (stickiness.ts), then mergeRows and mergedCosts
// (solver/merge.ts): the same groups, the same merged costs and demands to the bit, the same fallbacks
// and counts, at exact and quantised resolutions.
import { describe, expect, it } from 'vitest';
import { mergedCosts, mergeRows } from '../solver/merge.ts';
import { buildCosts } from './costs.ts';
import { densify } from './input.ts';
import { buildMergedCosts } from './merged-costs.ts';
import { preferCurrent } from './stickiness.ts';
import type { OriginState, SchedulingProblem, SourceState, Weights } from './types.ts';
import { seededRandom } from '../../lib/prng.ts';

function problemOf(seed: number, n: number): SchedulingProblem {
  const random = seededRandom(seed);
  const places = [
    { lat: 52.4, lon: 4.9 },
    { lat: 1.35, lon: 103.8 },
    { lat: 38.9, lon: -77.4 },
    { lat: -23.5, lon: -46.6 },
    { lat: 35.7, lon: 139.7 },
  ];
  const origins: OriginState[] = places.map((location, j) => ({ id: `o${j}`, target_rps: 100, max_rps: 120, healthy: true, admin_state: 'active', static_weight: 1, priority: 0, ...(j === 3 ? {} : { location }) }));
  const sources: SourceState[] = [];
  const current: Weights = {};
  for (let i = 0; i < n; i++) {
    const home = places[i % places.length]!;
    const rtt: Record<string, number> = {};
    // A few learned RTTs, some within a bucket of each other (they merge at 2 ms), some not.
    if (random() < 0.3) rtt[`o${i % 5}`] = 10 + Math.floor(random() * 4) * 0.7;
    if (random() < 0.05) rtt.o1 = 900; // over the ceiling
    if (i % 97 === 5) for (let j = 0; j < 5; j++) rtt[`o${j}`] = 900 + j; // every pair over it: a fallback
    sources.push({
      id: `s${i}`,
      demand_rps: i % 9 === 0 ? 0 : 1 + random() * 20,
      rtt_ms: rtt,
      ...(i % 11 === 0 ? {} : { location: home }),
      ...(i % 13 === 0 ? { excluded: ['o2'] } : {}),
    });
    if (i % 3 === 0) current[`s${i}`] = { [`o${i % 5}`]: 0.7, o4: 0.3 };
  }
  // A group whose representative has no demand and whose one member with demand costs a little more
  // (within the bucket): its mean is that member's costs, not the representative's.
  const alone = { lat: -33.9, lon: 151.2 };
  sources.push({ id: 'pair-first', demand_rps: 0, rtt_ms: { o0: 10.1 }, location: alone }, { id: 'pair-second', demand_rps: 5, rtt_ms: { o0: 10.9 }, location: alone });
  return { policy: 'latency', max_shift: 1, deadband: 0.005, max_latency_ms: 500, current, origins, sources, stickiness_ms: 10 };
}

describe('merged costs without the matrix', () => {
  for (const resolution of [0, 2, 30]) {
    it(`equal the matrix's mergeRows + mergedCosts to the bit at ${resolution} ms (stickiness, bans, unlocated, zero demand)`, () => {
      const problem = densify(problemOf(resolution + 1, 3000));
      const columns = problem.settings.origins.filter((o) => o.id !== 'o1'); // a declared origin that is not a destination
      const colToOrigin = columns.map((o) => problem.settings.origins.indexOf(o));
      const K = problem.settings.origins.length;
      const banned = new Uint8Array(problem.sourceIds.length * K);
      for (const p of problem.excluded) banned[p] = 1;

      const plain = buildCosts(problem, columns, colToOrigin, banned);
      preferCurrent(plain, problem, colToOrigin, 10);
      const merged = mergeRows(plain.cost, plain.rows, plain.cols, resolution);
      const cost = new Float64Array(merged.groups * plain.cols);
      const demand = new Float64Array(merged.groups);
      mergedCosts(merged, plain.cost, problem.demand, plain.cols, resolution === 0, cost, demand);
      const plainCounts = { fallbacks: [...plain.fallbacks], estimated: plain.estimated, unknown: plain.unknown };

      const direct = buildMergedCosts(problem, columns, colToOrigin, banned, 10, resolution);
      expect(direct.merged.groups).toBe(merged.groups);
      expect(merged.groups).toBeLessThan(problem.sourceIds.length); // something merged
      expect([...direct.merged.groupOf]).toEqual([...merged.groupOf]);
      expect([...direct.merged.representative]).toEqual([...merged.representative]);
      expect([...direct.cost]).toEqual([...cost]);
      expect([...direct.demand]).toEqual([...demand]);
      expect({ fallbacks: direct.rows.fallbacks, estimated: direct.rows.estimated, unknown: direct.rows.unknown }).toEqual(plainCounts);
      expect(plainCounts.unknown).toBeGreaterThan(0);
      expect(plainCounts.fallbacks.length).toBeGreaterThan(0);
    });
  }
});
