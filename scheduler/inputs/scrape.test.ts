// Embedded scraping against real HTTP targets: rates from the last two scrapes, counter resets,
// targets that stop answering, and nothing answering at all.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Edge, LoadBalancer, Origin } from '../../model/index.ts';
import { ScrapeInputReader } from './scrape.ts';
import { InputsUnavailable } from './types.ts';

let text = '';
let up = true;
let server: Server;
let url: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (!up) return void res.writeHead(503).end();
    if (req.url === '/metrics/subnets') return void res.writeHead(404).end();
    res.writeHead(200).end(text);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => server.close());

const lb = { id: 'lb1', name: 'app', min_samples: 1, listeners: [{ vip: '192.0.2.1', port: 443, protocol: 'tcp' }] } as unknown as LoadBalancer;
const origins = [{ id: 'o1', name: 'us', addresses: ['198.51.100.1'], port: 443 }] as unknown as Origin[];
const edges = [{ id: 'e1', name: 'sfo', address: '203.0.113.5' }] as unknown as Edge[];
const ctx = { lb, origins, edges };

describe('ScrapeInputReader', () => {
  it('computes rates between scrapes, survives a counter reset, and goes absent when the target stops', async () => {
    let now = 1_000_000;
    const failures: string[] = [];
    const rejected: string[] = [];
    const reader = new ScrapeInputReader({ targets: [url], timeoutMs: 1000, minIntervalMs: 0 }, { reject: (i, r) => rejected.push(`${i}:${r}`), scrapeFailed: (_target, d) => failures.push(d) }, () => now);
    const page = (requests: number, load: number, rtt: string) =>
      [
        `sluice_edge_requests_total{edge="sfo",load_balancer="app",listener="192.0.2.1:443"} ${requests}`,
        `sluice_edge_requests_total{edge="sfo",load_balancer="other",listener="192.0.2.2:443"} 999999`,
        `sluice_agent_connections_total{node="us",port="443"} ${load}`,
        `sluice_agent_upstream_rtt_seconds{node="sfo",upstream="198.51.100.1:443"} ${rtt}`,
      ].join('\n');

    text = page(1000, 50, '0.020');
    const first = await reader.read(ctx);
    // One scrape: gauges are known, rates are not yet.
    expect(first.edgeDemand.size).toBe(0);
    expect(first.edgeRtt.get('sfo')?.get('us')).toBeCloseTo(20, 9);

    now += 10_000;
    text = page(4000, 250, 'NaN');
    const second = await reader.read(ctx);
    expect(second.edgeDemand.get('sfo')).toBe(300);
    expect(second.originLoad.get('us')).toBe(20);
    expect(second.edgeRtt.size).toBe(0);
    expect(rejected).toContain('edge_rtt:nan');

    now += 10_000;
    text = page(500, 260, '0.021'); // the edge restarted: its counter went back to 500
    const third = await reader.read(ctx);
    expect(third.edgeDemand.get('sfo')).toBe(50);
    expect(third.originLoad.get('us')).toBe(1);

    now += 10_000;
    up = false;
    await expect(reader.read(ctx)).rejects.toBeInstanceOf(InputsUnavailable);
    expect(failures.at(-1)).toContain('HTTP 503');
    up = true;
    now += 10_000;
    text = page(800, 270, '0.021');
    const back = await reader.read(ctx);
    // After a gap the target starts over: no rate until two fresh scrapes.
    expect(back.edgeDemand.size).toBe(0);
    expect(back.edgeRtt.get('sfo')?.get('us')).toBeCloseTo(21, 9);
  });
});
