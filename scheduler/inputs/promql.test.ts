// Which queries a load balancer's cycle sends: the connection turnover it never uses is not queried
// (DNS clients' survivors without a DNS name; edge client connections behind HTTP listeners, which
// balance every request), and nothing else is dropped.
import { describe, expect, it } from 'vitest';
import type { Edge, LoadBalancer, Origin } from '../../model/index.ts';
import { PromqlInputReader } from './promql.ts';

const origins = [{ id: 'o1', name: 'us' }] as unknown as Origin[];
const edges = [{ id: 'e1', name: 'nyc' }] as unknown as Edge[];
const reader = new PromqlInputReader({ url: 'http://127.0.0.1:1', timeoutMs: 100, windowSeconds: 60, staleSeconds: 120, queries: {}, perLoadBalancer: {} }, { reject: () => undefined });

function queried(lb: Partial<LoadBalancer>): string[] {
  const q = reader.queriesFor({ lb: { name: 'web', ...lb } as LoadBalancer, origins, edges });
  return Object.entries(q)
    .filter(([, v]) => v !== null)
    .map(([k]) => k)
    .sort();
}

const turnover = { subnet: ['subnet_closes', 'subnet_open', 'subnet_surviving', 'subnet_surviving_mean', 'origin_polled'], edge: ['edge_closes', 'edge_connection_seconds', 'edge_open', 'edge_surviving', 'edge_surviving_mean'] };

describe('PromqlInputReader.queriesFor', () => {
  it('an HTTP load balancer without DNS reads no survivors at all', () => {
    const q = queried({ listeners: [{ vip: '192.0.2.1', port: 80, protocol: 'http' }] } as Partial<LoadBalancer>);
    for (const name of [...turnover.subnet, ...turnover.edge]) expect(q).not.toContain(name);
    // Still read: demand, RTTs, the per-origin counters and the connection-seconds the conversion shares requests by.
    expect(q).toEqual(expect.arrayContaining(['edge_demand', 'edge_origin_demand', 'edge_rtt', 'subnet_demand', 'subnet_connection_seconds', 'subnet_rtt', 'subnet_samples', 'origin_connections']));
  });

  it('a DNS name brings the DNS clients survivors; TCP listeners the edges client connections', () => {
    const dns = queried({ dns: { zone: 'example.com', hostname: 'app.example.com', ttl: 30 }, listeners: [] } as unknown as Partial<LoadBalancer>);
    expect(dns).toEqual(expect.arrayContaining(turnover.subnet));
    for (const name of turnover.edge) expect(dns).not.toContain(name);
    const tcp = queried({ listeners: [{ vip: '192.0.2.1', port: 443, protocol: 'tcp' }] } as Partial<LoadBalancer>);
    expect(tcp).toEqual(expect.arrayContaining(turnover.edge));
    for (const name of turnover.subnet) expect(tcp).not.toContain(name);
  });
});
