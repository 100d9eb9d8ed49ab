// Unit tests of the solver's building blocks; the HiGHS comparison is in test/solver-optimality.test.ts.
import { describe, expect, it } from 'vitest';
import { MinHeap } from './heap.ts';
import { groupByAllowedSet, maxPlaceable } from './max-flow.ts';
import { mergeIdenticalRows } from './merge.ts';
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

  it('rejects a row without any allowed column', () => {
    expect(() => solveTransport({ rows: 1, cols: 1, demand: Float64Array.from([1]), cost: Float64Array.from([Infinity]), cap1: Float64Array.from([1]), cap2: Float64Array.from([1]), penalty: 1 })).toThrow(/no allowed column/);
  });
});
