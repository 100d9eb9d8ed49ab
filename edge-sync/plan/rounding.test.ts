import { describe, expect, it } from 'vitest';
import { seededRandom as rng } from '../../lib/prng.ts';
import { apportion } from './rounding.ts';


describe('apportion (largest remainder, floor 1 for positive shares)', () => {
  it('maps shares onto each data plane scale', () => {
    expect(apportion([0.8, 0.2], { total: 256 })).toEqual([205, 51]); // 204.8 / 51.2
    expect(apportion([0.3, 0.7], { total: 256 })).toEqual([77, 179]); // 76.8 / 179.2
    expect(apportion([0.8, 0.2], { total: 1000 })).toEqual([800, 200]);
    expect(apportion([1 / 3, 1 / 3, 1 / 3], { total: 256 })).toEqual([86, 85, 85]); // ties: input order
  });

  it('never rounds a positive share to 0, and keeps zero shares at 0', () => {
    expect(apportion([0.997, 0.003], { total: 256 })).toEqual([255, 1]); // 0.768 -> pinned to 1
    expect(apportion([0.5, 0.4999, 0.0001, 0], { total: 256 })).toEqual([128, 127, 1, 0]);
    expect(apportion([0, 0], { total: 256 })).toEqual([0, 0]);
    expect(apportion([], { total: 256 })).toEqual([]);
  });

  it('shares need not sum to 1 (unhealthy origins removed): they are renormalised', () => {
    expect(apportion([0.45, 0, 0.05], { total: 1000 })).toEqual([900, 0, 100]);
  });

  it('more positive shares than units: every positive share gets 1', () => {
    expect(apportion([0.5, 0.3, 0.2], { total: 2 })).toEqual([1, 1, 1]);
  });

  it('ignores NaN/negative shares instead of producing NaN weights', () => {
    expect(apportion([Number.NaN, -1, 1], { total: 10 })).toEqual([0, 0, 10]);
  });

  it('property: exact total, floor 1, and the documented error bound (< (1 + pinned)/T)', () => {
    const random = rng(42);
    for (let trial = 0; trial < 3000; trial++) {
      const n = 1 + Math.floor(random() * 12);
      const total = [256, 1000, 65535, 10][trial % 4]!;
      // Mix of large, tiny and zero shares.
      const shares = Array.from({ length: n }, () => {
        const r = random();
        return r < 0.15 ? 0 : r < 0.35 ? random() * 0.002 : random();
      });
      const w = apportion(shares, { total });
      const sum = shares.reduce((a, b) => a + b, 0);
      const positive = shares.filter((s) => s > 0).length;
      expect(w.every((x) => Number.isInteger(x) && x >= 0)).toBe(true);
      shares.forEach((s, i) => expect(w[i]! > 0).toBe(s > 0));
      if (positive === 0) continue;
      if (positive >= total) continue;
      expect(w.reduce((a, b) => a + b, 0)).toBe(total);
      const pinned = shares.filter((s) => s > 0 && (s / sum) * total < 1).length;
      shares.forEach((s, i) => {
        const err = Math.abs(w[i]! / total - s / sum);
        expect(err).toBeLessThan((1 + pinned) / total + 1e-12);
      });
    }
  });
});
