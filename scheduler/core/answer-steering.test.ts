// steerWholeAnswers: where the answers of subnets answered whole lag the walk, the subnets nearest to
// flipping are flipped ahead (and only ahead), until the answered load is within one subnet of the
// walk's; nothing else changes.
import { describe, expect, it } from 'vitest';
import { steerWholeAnswers } from './answer-steering.ts';
import { pickOrigin } from './predict.ts';

const FAR = 0; // first on the line (its id sorts first)
const NEAR = 1;
const ORDER = [FAR, NEAR];

/** n subnets of demand 1 walking from near to far: shares far `now`, plan far `plan`; points `points`. */
function group(n: number, now: number, plan: number, points: (i: number) => number) {
  const weights = new Float64Array(n * 2);
  const planned = new Float64Array(n * 2);
  for (let i = 0; i < n; i++) {
    weights[i * 2 + FAR] = now;
    weights[i * 2 + NEAR] = 1 - now;
    planned[i * 2 + FAR] = plan;
    planned[i * 2 + NEAR] = 1 - plan;
  }
  return { rows: n, cols: 2, weights, plan: planned, demand: new Float64Array(n).fill(1), pick: Float64Array.from({ length: n }, (_, i) => points(i)), order: ORDER };
}

const answered = (g: ReturnType<typeof group>, origin: number) => {
  let load = 0;
  for (let i = 0; i < g.rows; i++) if (pickOrigin(g.weights, i * 2, g.order, g.pick[i]!) === origin) load += g.demand[i]!;
  return load;
};
const walked = (g: ReturnType<typeof group>, origin: number) => {
  let load = 0;
  for (let i = 0; i < g.rows; i++) load += g.demand[i]! * g.weights[i * 2 + origin]!;
  return load;
};

describe('steerWholeAnswers', () => {
  it('points that fall late leave the answers on the origin being left: the nearest ones are flipped ahead, to within one subnet of the walk', () => {
    // 40 subnets, shares 30 % far, points from 0.2 up: only 5 of 40 (12.5 %) are answered far.
    const g = group(40, 0.3, 1, (i) => 0.2 + (0.8 * i) / 40);
    const before = g.weights.slice();
    expect(answered(g, NEAR) - walked(g, NEAR)).toBeCloseTo(7, 6);
    const r = steerWholeAnswers(g);
    expect(r.flipped).toBeGreaterThanOrEqual(6);
    expect(r.surplusBefore).toBeCloseTo(7, 6);
    expect(Math.abs(answered(g, NEAR) - walked(g, NEAR))).toBeLessThanOrEqual(1);
    expect(r.surplusAfter).toBeLessThanOrEqual(1);
    // The flipped ones are those whose points were nearest above the boundary: rows 5, 6, … in order.
    const flipped = [...Array(40).keys()].filter((i) => g.weights[i * 2 + FAR] !== before[i * 2 + FAR]);
    expect(flipped).toEqual([...Array(r.flipped).keys()].map((k) => 5 + k));
    for (const i of flipped) {
      expect(pickOrigin(g.weights, i * 2, ORDER, g.pick[i]!)).toBe(FAR);
      // Ahead of the walk, towards the plan and not past it; the row still sums to 1.
      expect(g.weights[i * 2 + FAR]).toBeGreaterThan(0.3);
      expect(g.weights[i * 2 + FAR]).toBeLessThanOrEqual(1);
      expect(g.weights[i * 2 + FAR]! + g.weights[i * 2 + NEAR]!).toBeCloseTo(1, 12);
      // Just past the point: the cheapest mix that flips it.
      expect(g.weights[i * 2 + FAR]! - g.pick[i]!).toBeGreaterThan(0);
      expect(g.weights[i * 2 + FAR]! - g.pick[i]!).toBeLessThan(1e-3);
    }
  });

  it('answers that run ahead of the walk are left as they are (holding them back would slow the walk)', () => {
    const g = group(40, 0.3, 1, (i) => (0.8 * i) / 40); // 15 of 40 answered far: more than the shares
    const before = g.weights.slice();
    const r = steerWholeAnswers(g);
    expect(r.flipped).toBe(0);
    expect(g.weights).toEqual(before);
  });

  it('never takes a row farther from its plan than the walk left it', () => {
    // Plan far 0.32: the walk is 0.02 from it; flipping any subnet needs far ≥ its point (≥ 0.36).
    const g = group(40, 0.3, 0.32, (i) => 0.36 + (0.6 * i) / 40);
    const before = g.weights.slice();
    expect(steerWholeAnswers(g).flipped).toBe(0);
    expect(g.weights).toEqual(before);
  });

  it('leaves rows an override fixes, rows not answered whole, and load established connections hold', () => {
    const points = (i: number) => 0.2 + (0.8 * i) / 40;
    const exact = group(40, 0.3, 1, points);
    const before = exact.weights.slice();
    expect(steerWholeAnswers({ ...exact, exact: new Uint8Array(40).fill(1) }).flipped).toBe(0);
    expect(exact.weights).toEqual(before);

    const fractional = group(40, 0.3, 1, () => NaN);
    expect(steerWholeAnswers(fractional).flipped).toBe(0);

    const pinned = group(40, 0.3, 1, points);
    const all = new Float64Array(80);
    for (let i = 0; i < 40; i++) all[i * 2 + NEAR] = 1; // every connection stays: nothing new to steer
    expect(steerWholeAnswers({ ...pinned, pinned: all }).flipped).toBe(0);
  });

  it('weighs each subnet by the load its new connections carry', () => {
    // Half the subnets' load is pinned: the same surplus in subnets takes about twice the flips... of half-weight subnets.
    const points = (i: number) => 0.2 + (0.8 * i) / 40;
    const full = group(40, 0.3, 1, points);
    const half = group(40, 0.3, 1, points);
    const pinned = new Float64Array(80);
    for (let i = 0; i < 40; i++) pinned[i * 2 + NEAR] = 0.5;
    const a = steerWholeAnswers(full);
    const b = steerWholeAnswers({ ...half, pinned });
    expect(b.surplusBefore).toBeCloseTo(a.surplusBefore / 2, 6);
    expect(b.movedLoad).toBeCloseTo(a.movedLoad / 2, 6);
    expect(b.flipped).toBe(a.flipped);
  });
});
