// Heap arrays recycled between solves, and a caller's flow buffer: same answers as fresh memory.
import { describe, expect, it } from 'vitest';
import { HeapArrays, MinHeap } from './heap.ts';
import { solveTransport, type TransportProblem } from './transport.ts';

describe('HeapArrays', () => {
  it('gives back power-of-two arrays and reuses them; growing a heap goes through it', () => {
    const pool = new HeapArrays();
    const first = pool.take(5);
    expect(first.keys.length).toBe(8);
    const h = MinHeap.adopt(first.keys, first.ids, 0, pool);
    for (const k of [5, 3, 9, 1, 7, 2, 8, 6, 4]) h.push(k, k * 10); // grows past 8 through the pool
    const popped: number[] = [];
    while (h.size > 0) {
      popped.push(h.topKey());
      h.pop();
    }
    expect(popped).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    h.release();
    // Both the 8- and the 16-entry arrays are back: taking them again allocates nothing new.
    expect(pool.take(8).keys).toBe(first.keys);
    expect(pool.take(9).keys.length).toBe(16);
  });

  it('holds no more than its limit', () => {
    const pool = new HeapArrays(16);
    const a = pool.take(16);
    const b = pool.take(16);
    pool.give(a.keys, a.ids);
    pool.give(b.keys, b.ids); // over the limit: dropped
    expect(pool.take(16).keys).toBe(a.keys);
    expect(pool.take(16).keys).not.toBe(b.keys);
  });
});

describe('solveTransport with reused memory', () => {
  it('the same flows, prices and objective from fresh memory, a caller buffer, and after other solves', () => {
    let s = 99;
    const r = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const make = (n: number, K: number): TransportProblem => {
      const demand = Float64Array.from({ length: n }, () => Math.floor(r() * 10));
      const D = demand.reduce((a, b) => a + b, 0);
      const cap2 = Float64Array.from({ length: K }, () => (D / K) * 1.2);
      return { rows: n, cols: K, demand, cost: Float64Array.from({ length: n * K }, () => Math.floor(r() * 8) * 10), cap1: cap2.map((c) => c * 0.8), cap2, penalty: 1e4 };
    };
    const p = make(3000, 7);
    const fresh = solveTransport(p, { warmStartRows: 500 });
    solveTransport(make(2000, 9)); // leaves heap arrays in the pool
    const buffer = new Float64Array(3000 * 7);
    const reused = solveTransport(p, { warmStartRows: 500, flow: buffer });
    expect(reused.flow).toBe(buffer);
    expect([...reused.flow]).toEqual([...fresh.flow]);
    expect([...reused.price]).toEqual([...fresh.price]);
    expect(reused.objective).toBe(fresh.objective);
    expect(reused.augmentations).toBe(fresh.augmentations);
    expect(() => solveTransport(p, { flow: new Float64Array(5) })).toThrow(/flow buffer/);
  });
});
