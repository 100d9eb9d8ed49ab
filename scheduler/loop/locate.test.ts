import { describe, expect, it } from 'vitest';
import { createLocator } from './locate.ts';
import { EdgeSubnets, edgeOfSubnet } from '../inputs/edge-subnets.ts';

describe('createLocator over aggregated subnet sources', () => {
  const mappings = [
    { cidr: '10.0.0.0/8', location: { lat: 1, lon: 1 } },
    { cidr: '10.1.0.0/16', location: { lat: 2, lon: 2 } },
    { cidr: '10.1.2.0/24', location: { lat: 3, lon: 3 } },
    { cidr: '2001:db8::/32', location: { lat: 6, lon: 6 } },
  ];

  it('takes the longest mapping covering the whole subnet', async () => {
    const locate = await createLocator({ cidr_mappings: mappings });
    expect(locate('10.1.2.0/24')).toEqual({ lat: 3, lon: 3 });
    expect(locate('10.1.9.0/24')).toEqual({ lat: 2, lon: 2 });
    expect(locate('10.1.0.0/16')).toEqual({ lat: 2, lon: 2 });
    expect(locate('10.9.0.0/16')).toEqual({ lat: 1, lon: 1 });
    expect(locate('2001:db8:1::/48')).toEqual({ lat: 6, lon: 6 });
    expect(locate('192.0.2.0/24')).toBeUndefined();
    expect(locate('not a cidr')).toBeUndefined();
  });

  it('places a coarse source with only finer mappings inside it by its first address', async () => {
    const locate = await createLocator({ cidr_mappings: [{ cidr: '172.16.0.0/24', location: { lat: 4, lon: 4 } }] });
    expect(locate('172.16.0.0/16')).toEqual({ lat: 4, lon: 4 });
    expect(locate('172.17.0.0/16')).toBeUndefined();
  });

  it('keeps the first of duplicate mappings, as the list order did', async () => {
    const locate = await createLocator({
      cidr_mappings: [
        { cidr: '10.2.0.0/16', location: { lat: 7, lon: 7 } },
        { cidr: '10.2.0.0/16', location: { lat: 8, lon: 8 } },
      ],
    });
    expect(locate('10.2.3.0/24')).toEqual({ lat: 7, lon: 7 });
  });
});

describe('EdgeSubnets', () => {
  const edges = [
    { name: 'e1', address: '198.51.100.7' },
    { name: 'e2', address: '198.51.100.9' },
    { name: 'e6', address: '2001:db8:5::1' },
  ];

  it('finds the first edge inside a subnet of any prefix length and family', () => {
    const index = new EdgeSubnets(edges);
    expect(index.edgeOf('198.51.100.0/24')).toBe('e1');
    expect(index.edgeOf('198.51.0.0/16')).toBe('e1');
    expect(index.edgeOf('198.51.100.9/32')).toBe('e2');
    expect(index.edgeOf('198.51.101.0/24')).toBeUndefined();
    expect(index.edgeOf('2001:db8:5::/48')).toBe('e6');
    expect(index.edgeOf('2001:db8:6::/48')).toBeUndefined();
    expect(index.edgeOf('garbage')).toBeUndefined();
    expect(edgeOfSubnet('198.51.100.0/24', [])).toBeUndefined();
  });
});
