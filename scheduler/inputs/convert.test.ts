// The conversion into the capacity unit: every case the scheduler meets (keep-alive DNS clients with and
// without an origin request counter, HTTP edges that pool their connections, TCP edges, the
// connections and bytes units), checked against numbers worked out by hand; and that two units cannot
// be added, at compile time and at run time.
import { describe, expect, it } from 'vitest';
import type { Edge, LoadBalancer, Origin } from '../../model/index.ts';
import { assembleInputs, type RawInputs, type Series } from './assemble.ts';
import { toCapacityUnit } from './convert.ts';
import { convert, plus, rate, ratio, sum, UnitMismatch, type Rate } from './units.ts';

const origins = [
  { id: 'o1', name: 'us', addresses: ['198.51.100.1'], port: 80 },
  { id: 'o2', name: 'eu', addresses: ['198.51.100.2'], port: 80 },
] as unknown as Origin[];
const edges = [{ id: 'e1', name: 'nyc', address: '203.0.113.5' }] as unknown as Edge[];

function lbOf(unit: LoadBalancer['capacity_unit'], protocol: 'http' | 'tcp' = 'http'): LoadBalancer {
  return { id: 'lb', name: 'web', min_samples: 1, capacity_unit: unit, listeners: [{ vip: '192.0.2.1', port: 80, protocol }] } as unknown as LoadBalancer;
}

function raw(parts: Partial<RawInputs>): RawInputs {
  const empty: RawInputs = {
    edge_demand: [], edge_origin_demand: [], edge_rtt: [], subnet_demand: [], subnet_connection_seconds: [], subnet_closes: [], subnet_rtt: [],
    subnet_samples: [], origin_requests: [], origin_connections: [], origin_bytes: [], edge_connection_seconds: [], edge_closes: [], subnet_open: [], subnet_surviving: [],
    subnet_surviving_mean: [], edge_open: [], edge_surviving: [], edge_surviving_mean: [], origin_polled: [], origin_health: null,
  };
  return { ...empty, ...parts };
}

const s = (labels: Record<string, string>, value: number): Series => ({ labels, value });
const noRejects = { reject: (input: string, reason: string) => { throw new Error(`rejected ${input}: ${reason}`); } };

function inputsFor(lb: LoadBalancer, parts: Partial<RawInputs>) {
  const ctx = { lb, origins, edges };
  return toCapacityUnit(assembleInputs(raw(parts), ctx, noRejects), ctx);
}

describe('requests: keep-alive DNS clients', () => {
  // Two subnets at us: A opens 1 connection/s and keeps 4 open on average, B opens 3/s and keeps 0.5
  // open (short connections). The origin counts 60 requests/s. Each new connection carries one request
  // (4 of them); the other 56 go by connection-seconds (4.5): 12.444 per connection-second.
  const parts: Partial<RawInputs> = {
    subnet_demand: [s({ subnet: '10.1.0.0/24', node: 'us' }, 1), s({ subnet: '10.2.0.0/24', node: 'us' }, 3)],
    subnet_connection_seconds: [s({ subnet: '10.1.0.0/24', node: 'us' }, 4), s({ subnet: '10.2.0.0/24', node: 'us' }, 0.5)],
    subnet_closes: [s({ subnet: '10.1.0.0/24', node: 'us' }, 0.5), s({ subnet: '10.2.0.0/24', node: 'us' }, 2.5)],
    origin_requests: [s({ node: 'us' }, 60)],
    origin_connections: [s({ node: 'us' }, 4)],
  };

  it('shares the origin counter out: one request per new connection, the rest by connection-seconds', () => {
    const i = inputsFor(lbOf('requests'), parts);
    const perSecond = 56 / 4.5;
    expect(i.unit).toBe('requests');
    expect(i.subnetDemand.get('10.1.0.0/24')).toBeCloseTo(1 + 4 * perSecond, 9);
    expect(i.subnetDemand.get('10.2.0.0/24')).toBeCloseTo(3 + 0.5 * perSecond, 9);
    // The subnets add up to what the origin counted, and the origin's load is its own counter.
    expect(i.subnetDemand.get('10.1.0.0/24')! + i.subnetDemand.get('10.2.0.0/24')!).toBeCloseTo(60, 9);
    expect(i.originLoad.get('us')).toBe(60);
    expect(i.conversions.origin_load.us).toContain('origin counter');
    expect(i.conversions.subnet_demand).toContain('requests per connection at each origin');
    expect(i.conversions.ratios.us).toEqual({ requests_per_connection: 1, requests_per_connection_second: 12.444 });
  });

  it('fits each origin’s connection lifetime (connection-seconds / closes) and places each subnet', () => {
    const i = inputsFor(lbOf('requests'), parts);
    expect(i.connections.originLifetimeS.get('us')).toBeCloseTo(4.5 / 3, 9);
    expect(i.connections.subnetPlacement.get('10.1.0.0/24')?.get('us')).toBe(1);
  });

  it('without a request counter counts one request per connection, and says it assumed so', () => {
    const { origin_requests: _, ...withoutCounter } = parts;
    const i = inputsFor(lbOf('requests'), withoutCounter);
    expect(i.subnetDemand.get('10.1.0.0/24')).toBe(1);
    expect(i.subnetDemand.get('10.2.0.0/24')).toBe(3);
    expect(i.originLoad.get('us')).toBe(4);
    expect(i.conversions.subnet_demand).toContain('assumed 1');
    expect(i.conversions.origin_load.us).toContain('assumed');
  });

  it('fewer requests than connections: each connection counts for requests/connections', () => {
    const i = inputsFor(lbOf('requests'), { ...parts, origin_requests: [s({ node: 'us' }, 2)] });
    expect(i.subnetDemand.get('10.1.0.0/24')).toBeCloseTo(0.5, 9);
    expect(i.subnetDemand.get('10.2.0.0/24')).toBeCloseTo(1.5, 9);
  });
});

describe('requests: edges', () => {
  it('an HTTP edge pools its origin connections: its requests come from its counters and are not shared out to DNS subnets', () => {
    // The case: the edge sent us 230 requests/s over 2 new connections/s. The origin agent sees
    // the edge's subnet; with no request counter at the origin the load is still 230 requests/s.
    const i = inputsFor(lbOf('requests', 'http'), {
      edge_demand: [s({ edge: 'nyc', listener: '192.0.2.1:80' }, 300)],
      edge_origin_demand: [s({ edge: 'nyc', origin: 'us' }, 230), s({ edge: 'nyc', origin: 'eu' }, 70)],
      subnet_demand: [s({ subnet: '203.0.113.0/24', node: 'us' }, 2)],
      origin_connections: [s({ node: 'us' }, 2)],
    });
    expect(i.edgeDemand.get('nyc')).toBe(300);
    expect(i.originLoad.get('us')).toBe(230);
    expect(i.originLoad.get('eu')).toBe(70);
    expect(i.subnetDemand.size).toBe(0);
    expect(i.conversions.edge_demand.nyc).toBe('requests (edge counter)');
    expect(i.conversions.origin_load.us).toContain("nyc's counter");
  });

  it('with both, an origin counter minus the HTTP edges’ requests is what its DNS subnets sent', () => {
    const i = inputsFor(lbOf('requests', 'http'), {
      edge_origin_demand: [s({ edge: 'nyc', origin: 'us' }, 100)],
      subnet_demand: [s({ subnet: '203.0.113.0/24', node: 'us' }, 0.1), s({ subnet: '10.1.0.0/24', node: 'us' }, 2)],
      origin_requests: [s({ node: 'us' }, 140)],
    });
    expect(i.subnetDemand.get('10.1.0.0/24')).toBeCloseTo(40, 9);
    expect(i.originLoad.get('us')).toBe(140);
  });

  it('a TCP edge counts connections: converted by the requests its own connections carry at the origins', () => {
    // TCP mode: one origin connection per client connection, from the edge's subnet. us counts 100
    // requests/s over the edge's 5 connections/s: 20 per connection; the edge counted 5 connections/s.
    const i = inputsFor(lbOf('requests', 'tcp'), {
      edge_demand: [s({ edge: 'nyc', listener: '192.0.2.1:80' }, 5)],
      edge_origin_demand: [s({ edge: 'nyc', origin: 'us' }, 5)],
      subnet_demand: [s({ subnet: '203.0.113.0/24', node: 'us' }, 5)],
      origin_requests: [s({ node: 'us' }, 100)],
      edge_connection_seconds: [s({ node: 'nyc' }, 20)],
      edge_closes: [s({ node: 'nyc' }, 5)],
    });
    expect(i.edgeDemand.get('nyc')).toBeCloseTo(100, 9);
    expect(i.conversions.edge_demand.nyc).toContain('connections × 20 requests per connection');
    expect(i.subnetDemand.size).toBe(0); // the edge's subnet is the edge, not a DNS source
    expect(i.connections.edgeLifetimeS.get('nyc')).toBe(4);
  });

  it('a TCP edge without origin counters: one request per connection, assumed and said', () => {
    const i = inputsFor(lbOf('requests', 'tcp'), { edge_demand: [s({ edge: 'nyc', listener: '192.0.2.1:80' }, 5)] });
    expect(i.edgeDemand.get('nyc')).toBe(5);
    expect(i.conversions.edge_demand.nyc).toContain('assumed 1');
  });
});

describe('connections and bytes', () => {
  it('connections: new connections everywhere', () => {
    const i = inputsFor(lbOf('connections'), {
      edge_demand: [s({ edge: 'nyc' }, 7)],
      subnet_demand: [s({ subnet: '10.1.0.0/24', node: 'us' }, 2), s({ subnet: '10.1.0.0/24', node: 'eu' }, 1)],
      origin_connections: [s({ node: 'us' }, 9)],
    });
    expect(i.edgeDemand.get('nyc')).toBe(7);
    expect(i.subnetDemand.get('10.1.0.0/24')).toBe(3);
    expect(i.originLoad.get('us')).toBe(9);
  });

  it('bytes: an origin’s bytes shared out over its subnets by connection-seconds', () => {
    const i = inputsFor(lbOf('bytes'), {
      subnet_demand: [s({ subnet: '10.1.0.0/24', node: 'us' }, 1), s({ subnet: '10.2.0.0/24', node: 'us' }, 1)],
      subnet_connection_seconds: [s({ subnet: '10.1.0.0/24', node: 'us' }, 3), s({ subnet: '10.2.0.0/24', node: 'us' }, 1)],
      origin_bytes: [s({ node: 'us' }, 8e6)],
    });
    expect(i.subnetDemand.get('10.1.0.0/24')).toBeCloseTo(6e6, 3);
    expect(i.subnetDemand.get('10.2.0.0/24')).toBeCloseTo(2e6, 3);
    expect(i.originLoad.get('us')).toBe(8e6);
  });
});

describe('units never add up across kinds', () => {
  it('sum, plus and convert refuse a rate in another unit (run time, for units held as a union)', () => {
    const requests = rate('requests', 10);
    const connections = rate('connections', 2) as Rate<'requests' | 'connections'>;
    expect(() => sum('requests', [requests, connections as Rate<'requests'>])).toThrow(UnitMismatch);
    expect(() => plus(requests, connections as Rate<'requests'>)).toThrow(/cannot combine requests\/s with connections\/s/);
    expect(() => convert(requests as unknown as Rate<'connections'>, ratio('requests', 'connections', 20, 'test'))).toThrow(UnitMismatch);
    expect(convert(rate('connections', 2), ratio('requests', 'connections', 20, 'test'))).toEqual({ unit: 'requests', perSecond: 40 });
  });

  it('and do not compile when the units are known (checked by tsc --noEmit)', () => {
    const requests = rate('requests', 10);
    const connections = rate('connections', 2);
    // @ts-expect-error requests/s and connections/s are different types
    expect(() => plus(requests, connections)).toThrow(UnitMismatch);
    // @ts-expect-error a Rate is an object: `+` on two of them is a type error, never a silent sum
    expect(typeof (requests + connections)).toBe('string');
    // @ts-expect-error sum's unit fixes the element type
    expect(() => sum('requests', [requests, connections])).toThrow(UnitMismatch);
  });
});
