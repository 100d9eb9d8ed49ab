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

  it("starts a publish from whichever of its last publish and the table last read is the store's head, else the later one", () => {
    const memo = new OwnWeightsMemo();
    const t1 = table(3, 0.5);
    memo.remember('lb', 5, 't5', runToEnd(prepareWeightsSteps({ subnets: t1 })));
    const read = { version: 8, published_at: 't8', edges: {}, subnets: table(4, 0.25), chain: { base_entries: 4, since_base: 1, change_rows: 1 } };
    expect(memo.start('lb', read, { version: 5, published_at: 't5' })).toMatchObject({ stamp: { version: 5, published_at: 't5' }, subnets: t1, chain: { change_rows: 0 } });
    expect(memo.start('lb', read, { version: 8, published_at: 't8' })).toMatchObject({ stamp: { version: 8, published_at: 't8' }, subnets: read.subnets, chain: read.chain });
    // PostgreSQL's BIGINT as text; a restore's same number at another time is neither.
    expect((memo.start('lb', read, { version: '8' as unknown as number, published_at: 't8' }))!.subnets).toBe(read.subnets);
    expect((memo.start('lb', read, { version: 5, published_at: 'restored' }))!.subnets).toBe(read.subnets);
    expect((memo.start('lb', undefined, null))!.subnets).toBe(t1);
    expect(memo.start('other', undefined, { version: 5, published_at: 't5' })).toBeUndefined();
    // The changed keys of a publish compared against the table read are kept (the views diff from it).
    const p = runToEnd(prepareWeightsSteps({ subnets: { ...read.subnets, '10.0.0.0/24': { a: 1 } } }, read.subnets));
    memo.remember('lb', 9, 't9', p, undefined, read.subnets);
    expect(memo.of('lb', 9, 't9')!.changed).toEqual({ from: read.subnets, keys: ['10.0.0.0/24'] });
  });
});
