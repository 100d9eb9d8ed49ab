// The subnet table digest: a function of content (not of insertion order), moved by any entry's
// change, and kept up to date from the changed keys alone (even when they name a key twice or an
// unchanged one).
import { describe, expect, it } from 'vitest';
import { digestSteps, digestText, entryHashOf, updateDigestSteps } from './subnet-digest.ts';
import { seededRandom } from '../lib/prng.ts';
import { runToEnd } from '../lib/steps.ts';
import type { WeightMap } from './views.ts';

const digest = (t: Record<string, WeightMap>) => digestText(runToEnd(digestSteps(t, Object.keys(t))));

describe('subnet table digest', () => {
  const a = { '10.0.0.0/24': { x: 0.5, y: 0.5 }, '10.0.1.0/24': { x: 1 }, '2001:db8::/48': { y: 1 } };

  it('is a function of content: insertion order does not count, every field does', () => {
    const reordered = { '2001:db8::/48': { y: 1 }, '10.0.1.0/24': { x: 1 }, '10.0.0.0/24': { x: 0.5, y: 0.5 } };
    expect(digest(reordered)).toBe(digest(a));
    expect(digest({ ...a, '10.0.1.0/24': { x: 0.999999 } })).not.toBe(digest(a)); // a share
    expect(digest({ ...a, '10.0.1.0/24': { y: 1 } })).not.toBe(digest(a)); // an origin
    expect(digest({ ...a, '10.0.2.0/24': { x: 1 } })).not.toBe(digest(a)); // a subnet more
    // Two entries swapping their maps (the same multiset of maps, other pairs).
    expect(digest({ ...a, '10.0.1.0/24': { y: 1 }, '2001:db8::/48': { x: 1 } })).not.toBe(digest(a));
    expect(digest({})).toBe(`0:${'0'.repeat(32)}`);
  });

  it('is kept up to date from the changed keys (duplicates and unchanged keys named are harmless)', () => {
    const base = runToEnd(digestSteps(a, Object.keys(a)));
    const { '2001:db8::/48': _, ...rest } = a;
    const next = { ...rest, '10.0.0.0/24': { x: 0.25, y: 0.75 }, '10.9.0.0/16': { y: 1 } };
    const keys = ['10.0.0.0/24', '2001:db8::/48', '10.9.0.0/16', '10.0.0.0/24', '10.0.1.0/24'];
    const updated = runToEnd(updateDigestSteps(base, a, next, keys));
    expect(digestText(updated)).toBe(digest(next));
    expect(updated.count).toBe(3);
    expect(digestText(base)).toBe(digest(a)); // the previous digest is not changed
  });

  it("hashes an entry exactly as its lane-by-lane definition, so versions stay what DNS servers hold across releases", () => {
    // The definition (the code before the lanes were fed in one walk): each lane its own FNV-1a walk.
    const byLane = (cidr: string, weights: WeightMap): number[] => {
      const f64 = new Float64Array(1);
      const words = new Uint32Array(f64.buffer);
      const fmix32 = (h: number) => {
        h ^= h >>> 16;
        h = Math.imul(h, 0x85ebca6b);
        h ^= h >>> 13;
        h = Math.imul(h, 0xc2b2ae35);
        return (h ^ (h >>> 16)) >>> 0;
      };
      return [0x811c9dc5, 0x2f4a7c15, 0x9e3779b9, 0x6a09e667].map((seed, lane) => {
        const p = [0x01000193, 0x01000197, 0x0100019d, 0x010001a5][lane]!;
        let h = seed;
        for (let i = 0; i < cidr.length; i++) h = Math.imul(h ^ cidr.charCodeAt(i), p);
        h = Math.imul(h ^ 0x100, p);
        for (const id in weights) {
          h = Math.imul(h ^ (0x10000 + id.length), p);
          for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), p);
          f64[0] = weights[id]!;
          h = Math.imul(h ^ words[0]!, p);
          h = Math.imul(h ^ words[1]!, p);
        }
        return fmix32(h ^ lane);
      });
    };
    const rand = seededRandom(42);
    for (let i = 0; i < 500; i++) {
      const cidr = rand() < 0.5 ? `10.${i >> 8}.${i & 255}.0/24` : `2001:db8:${i.toString(16)}::/48`;
      const weights: WeightMap = {};
      for (let k = 0; k < 1 + Math.floor(rand() * 4); k++) weights[`o_${Math.floor(rand() * 1000)}`] = Math.round(rand() * 1e6) / 1e6;
      expect(entryHashOf(cidr, weights)).toEqual(byLane(cidr, weights));
    }
    // And one table's digest as the release before this change computed it.
    const t = { '10.0.0.0/24': { o_1: 0.5, o_2: 0.5 }, '2001:db8::/48': { o_2: 1 }, '192.0.2.0/24': { o_3: 0.123457, o_1: 0.876543 } };
    expect(digest(t)).toBe('3:57870fb6681199ce3b58c63c104d3b35');
  });
});
