import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../lib/prng.ts';
import { GRID_CELLS, LifetimeSample } from './survival.ts';

describe('conditional survival from recent lifetimes (Kaplan–Meier on the poll grid)', () => {
  it('lifetimes all alike: open until their end, then gone — not an exponential tail', () => {
    const s = new LifetimeSample(0.5);
    for (let i = 0; i < 500; i++) s.add(8.1); // 20 requests at 2.5/s
    const open = new Float64Array(GRID_CELLS);
    const t = s.table(open, 2);
    expect(t.end[s.cell(3)]).toBe(1); // 3 s old: 5 s left
    expect(t.end[s.cell(7)]).toBe(0); // 7 s old: gone within 2 s
    expect(t.mean[s.cell(7)]).toBeGreaterThan(0.2); // but open for part of the horizon
    expect(t.mean[s.cell(7)]).toBeLessThan(0.8);
  });

  it('asks about the window the scheduler will predict: [offset, offset + horizon] from now', () => {
    const s = new LifetimeSample(0.5);
    for (let i = 0; i < 500; i++) s.add(8.1);
    const open = new Float64Array(GRID_CELLS);
    expect(s.table(open, 2).end[s.cell(5.5)]).toBe(1); // open until 7.5 s: still there
    expect(s.table(open, 2, 1).end[s.cell(5.5)]).toBe(0); // until 8.5 s: gone
  });

  it('exponential lifetimes: e^(−h/τ) at every age (memoryless)', () => {
    const s = new LifetimeSample(0.1);
    const rand = seededRandom(7);
    for (let i = 0; i < 4096; i++) s.add(-5 * Math.log(1 - rand()));
    const t = s.table(new Float64Array(GRID_CELLS), 2);
    for (const age of [0, 2, 5]) expect(t.end[s.cell(age)]!).toBeCloseTo(Math.exp(-2 / 5), 1);
  });

  it('open connections older than every closed one are taken to stay (censored, long-lived)', () => {
    const s = new LifetimeSample(1);
    for (let i = 0; i < 100; i++) s.add(2);
    const open = new Float64Array(GRID_CELLS);
    open[s.cell(50)] = 10;
    const t = s.table(open, 5);
    expect(t.end[s.cell(50)]).toBe(1);
    expect(t.mean[s.cell(50)]).toBe(1);
  });

  it('keeps only the recent lifetimes', () => {
    const s = new LifetimeSample(1);
    for (let i = 0; i < 5000; i++) s.add(3);
    for (let i = 0; i < 4096; i++) s.add(30);
    expect(s.recent).toBe(4096);
    expect(s.closes[3]).toBe(0);
    expect(s.closes[30]).toBe(4096);
  });
});
