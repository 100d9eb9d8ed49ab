import { describe, expect, it } from 'vitest';
import { edgeConfig } from '../testing/fixtures.ts';
import { desiredPools } from './desired.ts';
import { describeChange, diffPools } from './diff.ts';

const cfg = edgeConfig([{ lb: 'web', port: 80, origins: [{ name: 'a', address: '10.0.0.1', port: 80, weight: 0.5 }, { name: 'b', address: '10.0.0.2', port: 80, weight: 0.5 }] }]);
const pools = desiredPools(cfg, { poolName: 'web', weightTotal: 100 });

describe('diffPools', () => {
  it('nothing to do when the actual state matches', () => {
    const actual = [{ name: 'web', servers: [{ name: 'a', address: '10.0.0.1', port: 80, weight: 50 }, { name: 'b', address: '10.0.0.2', port: 80, weight: 50 }] }];
    expect(diffPools(pools, actual, { matchBy: 'name' })).toEqual([]);
  });

  it('weights, additions, removals, address moves and maintenance, by name', () => {
    const actual = [{ name: 'web', servers: [
      { name: 'a', address: '10.0.0.9', port: 80, weight: 70, maint: true },
      { name: 'old', address: '10.0.0.3', port: 80, weight: 30 },
    ] }];
    const lines = diffPools(pools, actual, { matchBy: 'name' }).map(describeChange);
    expect(lines).toEqual([
      'address web/a 10.0.0.9:80 -> 10.0.0.1:80',
      'weight web/a (a) 70 -> 50',
      'enable web/a (was in maintenance)',
      'add server web/b 10.0.0.2:80 weight 50',
      'remove server web/old 10.0.0.3:80',
    ]);
  });

  it('by address (nginx/IPVS): a moved server is a removal plus an addition', () => {
    const actual = [{ name: 'web', servers: [{ name: 'x', address: '10.0.0.9', port: 80, weight: 50 }, { name: 'y', address: '10.0.0.2', port: 80, weight: 50 }] }];
    expect(diffPools(pools, actual, { matchBy: 'address' }).map((c) => c.op)).toEqual(['add-server', 'remove-server']);
  });

  it('missing pools are added; extra pools are removed only when removable; held pools are skipped', () => {
    const extra = [{ name: 'other', servers: [] }, { name: 'mine-before', servers: [] }];
    expect(diffPools(pools, extra, { matchBy: 'address', removablePools: new Set(['mine-before']) }).map((c) => c.op)).toEqual(['add-pool', 'remove-pool']);
    expect(diffPools([{ ...pools[0]!, hold: 'x' }], [], { matchBy: 'name' })).toEqual([]);
  });
});
