// The subnet table digest: a function of content (not of insertion order), moved by any entry's
// change, and kept up to date from the changed keys alone (even when they name a key twice or an
// unchanged one).
import { describe, expect, it } from 'vitest';
import { digestSteps, digestText, updateDigestSteps } from './subnet-digest.ts';
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

  it('gives the digest the release before gave (DNS servers hold versions built from it across releases)', () => {
    const t = { '10.0.0.0/24': { o_1: 0.5, o_2: 0.5 }, '2001:db8::/48': { o_2: 1 }, '192.0.2.0/24': { o_3: 0.123457, o_1: 0.876543 } };
    expect(digest(t)).toBe('3:57870fb6681199ce3b58c63c104d3b35');
  });
});
