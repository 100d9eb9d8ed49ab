// The damping's first pass given each row's candidate columns (decide.ts: the plan's and the weights in
// force's) instead of every column: the same weights, step and support to the bit, however many extra
// columns the candidates name, on random rows with freed shares, capacity pressure and the deadband.
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../lib/prng.ts';
import { damp, type DampingInput, type RowColumns } from './damping.ts';

function rowsOf(r: () => number, n: number, K: number, density: number): Float64Array {
  const a = new Float64Array(n * K);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let j = 0; j < K; j++) if (r() < density) sum += a[i * K + j] = r();
    if (sum === 0) sum = a[i * K + Math.floor(r() * K)] = 1;
    for (let j = 0; j < K; j++) a[i * K + j]! /= sum;
  }
  return a;
}

/** The columns where any of the arrays is non-zero, plus random others, ascending. */
function candidatesOf(r: () => number, n: number, K: number, arrays: Float64Array[]): RowColumns {
  const start = new Int32Array(n + 1);
  const col: number[] = [];
  for (let i = 0; i < n; i++) {
    start[i] = col.length;
    for (let j = 0; j < K; j++) if (arrays.some((a) => a[i * K + j] !== 0) || r() < 0.2) col.push(j);
  }
  start[n] = col.length;
  return { start, col: Int32Array.from(col) };
}

describe('damp with candidate columns', () => {
  it('gives what every column gives, to the bit', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const r = seededRandom(seed);
      const n = 50 + Math.floor(r() * 200);
      const K = 2 + Math.floor(r() * 12);
      const plan = rowsOf(r, n, K, 0.3);
      const kept = rowsOf(r, n, K, 0.4);
      const freed = Float64Array.from({ length: n }, () => (r() < 0.2 ? 1 : r() < 0.3 ? r() : 0));
      for (let i = 0; i < n; i++) {
        if (freed[i] === 1) kept.fill(0, i * K, i * K + K);
        else for (let j = 0; j < K; j++) kept[i * K + j]! *= 1 - freed[i]!;
      }
      const demand = Float64Array.from({ length: n }, () => r() * 20);
      const maxRps = Float64Array.from({ length: K }, () => (r() < 0.3 ? 50 + r() * 200 : Infinity));
      const base: DampingInput = { rows: n, cols: K, demand, plan, kept, freed, maxShift: [0.02, 0.1, 1][seed % 3]!, gain: 0.5, deadband: 0.005, maxRps };
      const candidates = candidatesOf(r, n, K, [plan, kept]);
      // Each call writes into the same scratch weights: keep a copy of the first.
      const every = damp({ ...base, kept: Float64Array.from(kept) });
      const everyWeights = [...every.weights];
      const fewer = damp({ ...base, kept: Float64Array.from(kept), candidates });
      expect([...fewer.weights], `seed ${seed}`).toEqual(everyWeights);
      expect(fewer.step).toEqual(every.step);
      expect([...fewer.support.start]).toEqual([...every.support.start]);
      expect([...fewer.support.col.subarray(0, fewer.support.start[n])]).toEqual([...every.support.col.subarray(0, every.support.start[n])]);
    }
  });
});
