// Unit tests of the solver's building blocks; the HiGHS comparison is in test/solver-optimality.test.ts.
import { describe, expect, it } from 'vitest';
import { MinHeap } from './heap.ts';
import { groupByAllowedSet, maxPlaceable } from './max-flow.ts';
import { mergeIdenticalRows, mergeRows } from './merge.ts';
import { solveTransport } from './transport.ts';

describe('MinHeap', () => {
  it('pops in key order, from push and from a heapified array', () => {
    const keys = [5, 3, 9, 1, 7, 3, 0.5, 12];
    const h = new MinHeap(2);
    keys.forEach((k, i) => h.push(k, i));
    const out: number[] = [];
    while (h.size > 0) {
      out.push(h.topKey());
      h.pop();
    }
    expect(out).toEqual([...keys].sort((a, b) => a - b));
    const built = MinHeap.from(Float64Array.from(keys), Int32Array.from(keys.map((_, i) => i)), keys.length);
    expect(built.topKey()).toBe(0.5);
    expect(built.topId()).toBe(6);
  });
});

describe('mergeIdenticalRows', () => {
  it('groups rows with identical cost vectors (including excluded pairs)', () => {
    const cost = Float64Array.from([1, 2, Infinity, 1, 2, Infinity, 1, 2, 3, 1, 2, Infinity]);
    const m = mergeIdenticalRows(cost, 4, 3);
    expect(m.groups).toBe(2);
    expect([...m.groupOf]).toEqual([0, 0, 1, 0]);
    expect([...m.representative]).toEqual([0, 2]);
  });
});

describe('maxPlaceable', () => {
  it('is the max flow through allowed sets', () => {
    // Group 1 can only use column 0 (cap 5) but wants 8: 3 cannot be placed.
    const cost = Float64Array.from([1, Infinity, 1, 1]);
    const groups = groupByAllowedSet(cost, Float64Array.from([8, 4]), 2, 2);
    expect(maxPlaceable(groups, [5, 100])).toBeCloseTo(9, 12);
    expect(maxPlaceable(groups, [8, 4])).toBeCloseTo(12, 12);
  });
});

describe('groupByAllowedSet', () => {
  it('groups rows by allowed set past 52 columns, in the order of their first row, without zero-demand rows', () => {
    const K = 70;
    const row = (banned: number[]): number[] => Array.from({ length: K }, (_, j) => (banned.includes(j) ? Infinity : 1 + j));
    const rows = [row([3]), row([65]), row([3]), row([]), row([65]), row([3, 65])];
    const cost = Float64Array.from(rows.flat());
    const g = groupByAllowedSet(cost, Float64Array.from([1, 2, 4, 8, 16, 0]), rows.length, K);
    expect(g.demand).toEqual([5, 18, 8]); // {¬3}: rows 0 and 2; {¬65}: rows 1 and 4; all: row 3; row 5 has no demand
    expect(g.allowed[0]).toHaveLength(K - 1);
    expect(g.allowed[0]).not.toContain(3);
    expect(g.allowed[1]).not.toContain(65);
    expect(g.allowed[2]).toHaveLength(K);
  });
});

describe('solveTransport', () => {
  it('a 2×2 case by hand: the row with the smaller regret moves', () => {
    const s = solveTransport({
      rows: 2,
      cols: 2,
      demand: Float64Array.from([150, 150]),
      cost: Float64Array.from([20, 140, 60, 80]),
      cap1: Float64Array.from([200, Infinity]),
      cap2: Float64Array.from([200, Infinity]),
      penalty: 1e4,
    });
    expect([...s.flow]).toEqual([150, 0, 50, 100]);
    expect(s.objective).toBeCloseTo(150 * 20 + 50 * 60 + 100 * 80, 9);
    expect(s.price[0]).toBeCloseTo(20, 9);
    expect(s.price[1]).toBe(0);
  });

  it('the penalty tier is used only when every target is full', () => {
    const s = solveTransport({
      rows: 1,
      cols: 2,
      demand: Float64Array.from([180]),
      cost: Float64Array.from([20, 140]),
      cap1: Float64Array.from([150, 20]),
      cap2: Float64Array.from([200, 100]),
      penalty: 1e4,
    });
    expect(s.load[0]).toBeCloseTo(160, 9);
    expect(s.load[1]).toBeCloseTo(20, 9);
  });

  it('leaves what cannot be placed on the cheapest columns and reports it', () => {
    const s = solveTransport({ rows: 1, cols: 2, demand: Float64Array.from([10]), cost: Float64Array.from([1, 2]), cap1: Float64Array.from([3, 3]), cap2: Float64Array.from([3, 3]), penalty: 10 });
    expect(s.unplaced).toBeCloseTo(4, 9);
    expect(s.flow[0]! + s.flow[1]!).toBeCloseTo(10, 9);
  });

  it('starting from the coarsened problem\'s prices reaches the same optimum as a cold start', () => {
    // 4,000 rows around 40 client locations (costs within a few ms of their location's), 30 columns
    // with capacities that bind: the coarse merge (30 ms buckets) at least halves the rows.
    let seed = 7;
    const rand = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const n = 4000;
    const K = 30;
    const place = Array.from({ length: 40 }, () => Array.from({ length: K }, () => 5 + rand() * 200));
    const cost = new Float64Array(n * K);
    const demand = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const at = place[i % 40]!;
      demand[i] = 1 + rand() * 10;
      for (let j = 0; j < K; j++) cost[i * K + j] = at[j]! + rand() * 3;
    }
    const total = demand.reduce((a, b) => a + b, 0);
    const cap1 = Float64Array.from({ length: K }, () => (total / K) * (0.6 + rand() * 0.6));
    const cap2 = cap1.map((c) => c * 1.5);
    const problem = { rows: n, cols: K, demand, cost, cap1, cap2, penalty: 1e5 };
    expect(mergeRows(cost, n, K, 30).groups).toBeLessThan(n / 2); // so the coarse start applies
    const cold = solveTransport(problem, { warmStartRows: Infinity, coarseStartRows: Infinity });
    const coarse = solveTransport(problem, { warmStartRows: 0, warmStartRowsPerColumn: Infinity, coarseStartRows: 1000 });
    expect(coarse.augmentations).not.toBe(cold.augmentations); // the coarse start was taken
    expect(Math.abs(coarse.objective - cold.objective) / cold.objective).toBeLessThan(1e-12);
    // Optimality at the coarse run's own prices: every row only on columns of minimal c + price.
    for (let i = 0; i < n; i++) {
      let best = Infinity;
      for (let j = 0; j < K; j++) best = Math.min(best, cost[i * K + j]! + coarse.price[j]!);
      for (let j = 0; j < K; j++) if (coarse.flow[i * K + j]! > 1e-9) expect(cost[i * K + j]! + coarse.price[j]!).toBeLessThan(best + 1e-6);
    }
  });

  it('rejects a row without any allowed column', () => {
    expect(() => solveTransport({ rows: 1, cols: 1, demand: Float64Array.from([1]), cost: Float64Array.from([Infinity]), cap1: Float64Array.from([1]), cap2: Float64Array.from([1]), penalty: 1 })).toThrow(/no allowed column/);
  });
});
