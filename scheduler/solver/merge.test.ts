// Quantised merging (merge.ts): which rows become one, and the bound it puts on the objective — the
// merged optimum, given back to every member source, costs at most resolution × total demand more than
// the exact optimum of the unmerged LP (and never less).
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../lib/prng.ts';
import { mergedCosts, mergeRows } from './merge.ts';
import { solveTransport, type TransportProblem } from './transport.ts';

describe('mergeRows', () => {
  it('merges rows whose costs share every bucket, keeps apart a different allowed set or a bucket edge', () => {
    const cost = Float64Array.from([
      10.2, 20.9, Infinity, // 0
      10.7, 20.1, Infinity, // 1: same buckets as 0 at 1 ms
      10.7, 20.1, 30, //       2: another allowed set
      9.99, 20.1, Infinity, // 3: 9.99 is in bucket 9, not 10
    ]);
    const m = mergeRows(cost, 4, 3, 1);
    expect([...m.groupOf]).toEqual([0, 0, 1, 2]);
    expect(mergeRows(cost, 4, 3, 0).groups).toBe(4);
    expect(() => mergeRows(cost, 4, 3, -1)).toThrow(/resolution must be a finite number ≥ 0/);
  });

  it('a merged row costs the demand-weighted mean of its members', () => {
    const cost = Float64Array.from([10, 20, 10.5, 20.5, 10.9, Infinity]);
    const m = mergeRows(cost, 3, 2, 1);
    const out = new Float64Array(m.groups * 2);
    const d = new Float64Array(m.groups);
    mergedCosts(m, cost, Float64Array.from([1, 3, 5]), 2, false, out, d);
    expect(m.groups).toBe(2);
    expect([...d]).toEqual([4, 5]);
    expect(out[0]).toBeCloseTo((1 * 10 + 3 * 10.5) / 4, 12);
    expect(out[1]).toBeCloseTo((1 * 20 + 3 * 20.5) / 4, 12);
    expect(out[3]).toBe(Infinity);
  });
});

/** Sources around a few places, RTT within 0.4 ms of the place's, capacities that bind. */
function noisyInstance(seed: number, n: number, K: number): TransportProblem {
  const r = seededRandom(seed);
  const places = Array.from({ length: 6 }, () => Array.from({ length: K }, () => 5 + r() * 150));
  const cost = new Float64Array(n * K);
  for (let i = 0; i < n; i++) {
    const at = places[Math.floor(r() * places.length)]!;
    for (let j = 0; j < K; j++) cost[i * K + j] = Math.round((at[j]! + 0.4 * r()) * 100) / 100;
  }
  const demand = Float64Array.from({ length: n }, () => 1 + r() * 50);
  const D = demand.reduce((a, b) => a + b, 0);
  const cap2 = Float64Array.from({ length: K }, () => (1.1 * D) / K);
  const cap1 = Float64Array.from(cap2, (c) => 0.8 * c);
  return { rows: n, cols: K, demand, cost, cap1, cap2, penalty: 200 * (K + 1) };
}

/** The LP objective of giving every row its merged group's shares (the flow the plan publishes). */
function objectiveOfShares(p: TransportProblem, groupOf: Int32Array, mergedFlow: Float64Array, mergedDemand: Float64Array): number {
  const { rows: n, cols: K } = p;
  const load = new Float64Array(K);
  let obj = 0;
  for (let i = 0; i < n; i++) {
    const g = groupOf[i]!;
    for (let j = 0; j < K; j++) {
      const f = (mergedFlow[g * K + j]! / mergedDemand[g]!) * p.demand[i]!;
      if (f === 0) continue;
      obj += f * p.cost[i * K + j]!;
      load[j]! += f;
    }
  }
  for (let j = 0; j < K; j++) obj += p.penalty * Math.max(0, Math.min(load[j]!, p.cap2[j]!) - p.cap1[j]!);
  return obj;
}

describe('the bound on the objective', () => {
  it.each([
    [1, 1],
    [2, 1],
    [3, 2],
    [4, 5],
  ])('instance %i, resolution %d ms: exact ≤ merged plan ≤ exact + resolution × demand, and rows do merge', (seed, resolution) => {
    const p = noisyInstance(seed, 600, 8);
    const exact = solveTransport(p);
    const m = mergeRows(p.cost, p.rows, p.cols, resolution);
    const cost = new Float64Array(m.groups * p.cols);
    const demand = new Float64Array(m.groups);
    mergedCosts(m, p.cost, p.demand, p.cols, false, cost, demand);
    const merged = solveTransport({ ...p, rows: m.groups, cost, demand });
    const D = p.demand.reduce((a, b) => a + b, 0);
    const planned = objectiveOfShares(p, m.groupOf, merged.flow, demand);
    expect(m.groups).toBeLessThan(p.rows / 4);
    // The merged LP's own objective is exactly what its plan costs the real sources (mean costs).
    expect(planned).toBeCloseTo(merged.objective, 6);
    expect(planned).toBeGreaterThanOrEqual(exact.objective - 1e-9 * exact.objective);
    expect(planned).toBeLessThanOrEqual(exact.objective + resolution * D);
  });
});
