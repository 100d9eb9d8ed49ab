// The store's memory of its own publishes: handed out only for the exact row (version and time), and
// the changed keys kept only when they were compared against the publish that is still the last one.
import { describe, expect, it } from 'vitest';
import { OwnWeightsMemo } from './own-weights.ts';
import { prepareWeightsSteps } from './records.ts';
import { runToEnd } from '../../lib/steps.ts';

const table = (n: number, share: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`10.0.${i}.0/24`, { a: share, b: 1 - share }]));

describe('OwnWeightsMemo', () => {
  it('hands out the weights only for the row it was made for', () => {
    const memo = new OwnWeightsMemo();
    const t1 = table(3, 0.5);
    memo.remember('lb', 7, 't7', runToEnd(prepareWeightsSteps({ subnets: t1 })));
    expect(memo.of('lb', 7, 't7')?.subnets).toBe(t1);
    expect(memo.of('lb', '7', 't7')?.subnets).toBe(t1); // PostgreSQL's BIGINT may come back as text
    expect(memo.of('lb', 8, 't7')).toBeUndefined(); // another writer's version
    expect(memo.of('lb', 7, 't8')).toBeUndefined(); // a restored backup reusing the number
    expect(memo.of('other', 7, 't7')).toBeUndefined();
  });

  it('keeps the changed keys only when they start from its last publish (two publishes interleaved lose them)', () => {
    const memo = new OwnWeightsMemo();
    const t1 = table(3, 0.5);
    memo.remember('lb', 1, 't1', runToEnd(prepareWeightsSteps({ subnets: t1 })));
    // Two publishes prepared against t1; the first to commit keeps its keys, the second does not.
    const t2 = { ...table(3, 0.5), '10.0.1.0/24': { a: 1 } };
    const t3 = table(2, 0.25);
    const p2 = runToEnd(prepareWeightsSteps({ subnets: t2 }, memo.lastSubnets('lb')));
    const p3 = runToEnd(prepareWeightsSteps({ subnets: t3 }, memo.lastSubnets('lb')));
    expect(p3.changed!.keys.slice().sort()).toEqual(['10.0.0.0/24', '10.0.1.0/24', '10.0.2.0/24']);
    memo.remember('lb', 2, 't2', p2);
    expect(memo.of('lb', 2, 't2')!.changed).toEqual({ from: t1, keys: ['10.0.1.0/24'] });
    memo.remember('lb', 3, 't3', p3);
    expect(memo.of('lb', 3, 't3')!.changed).toBeNull();
  });
});
