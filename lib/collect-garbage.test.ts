// collectGarbage(): a full collection gives back memory no longer referenced.
import { describe, expect, it } from 'vitest';
import { collectGarbage } from './collect-garbage.ts';

describe('collectGarbage', () => {
  it('runs a full collection: a large unreferenced structure no longer counts in the heap', () => {
    expect(collectGarbage()).toBe(true);
    const before = process.memoryUsage().heapUsed;
    let big: object[] | null = Array.from({ length: 300_000 }, (_, i) => ({ i, s: `subnet-${i}` }));
    expect(process.memoryUsage().heapUsed - before).toBeGreaterThan(10e6);
    big = null;
    collectGarbage();
    expect(big).toBeNull();
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(5e6);
  });
});
