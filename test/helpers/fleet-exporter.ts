// A small simulated fleet served over HTTP in the agents' and edge-syncs' metric names — every family
// the scheduler's default queries read — for tests that run real Prometheus servers against it
// (recording rules, shards). Counters grow linearly at fixed rates from a large base, so rate() over
// any full window is the rate exactly, whenever Prometheus evaluates it; gauges are constant. Each
// agent is its own path (/origin/NAME, /edge/NAME), so a test can hand different agents to different
// Prometheus servers.
import { createServer, type Server } from 'node:http';
import type { ScrapeJob } from './prometheus.ts';

export interface Fleet {
  lb: string;
  /** The load balancer's listener port on the edges (and the origins' service port). */
  port: number;
  origins: { name: string; address: string }[];
  edges: string[];
  /** Client subnets; subnet i is seen at origin i % origins, and every third also at the next one. */
  subnets: string[];
}

export function makeFleet(origins: number, edges: number, subnets: number): Fleet {
  return {
    lb: 'app',
    port: 443,
    origins: Array.from({ length: origins }, (_, j) => ({ name: `origin-${j}`, address: `198.51.100.${j + 1}` })),
    edges: Array.from({ length: edges }, (_, k) => `edge-${k}`),
    subnets: Array.from({ length: subnets }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.0/24`),
  };
}

export interface FleetExporter {
  /** host:port of the exporter. */
  target: string;
  /** Scrape jobs for these agents (all by default), one target group per agent path. */
  jobs(select?: { origins?: string[]; edges?: string[] }): ScrapeJob[];
  close(): Promise<void>;
}

function originText(f: Fleet, j: number, s: number): string {
  const node = f.origins[j]!.name;
  const mine = f.subnets.map((subnet, i) => ({ subnet, i })).filter(({ i }) => i % f.origins.length === j || (i % 3 === 0 && (i + 1) % f.origins.length === j));
  const lines: string[] = [];
  const family = (name: string, type: string, value: (i: number) => number) => {
    lines.push(`# TYPE ${name} ${type}`);
    for (const { subnet, i } of mine) lines.push(`${name}{node="${node}",subnet="${subnet}"} ${value(i)}`);
  };
  const rate = (i: number) => 0.5 + ((i * 7 + j) % 13);
  family('sluice_agent_subnet_connections_total', 'counter', (i) => 1e6 + rate(i) * s);
  family('sluice_agent_subnet_connection_seconds_total', 'counter', (i) => 2e6 + 3 * rate(i) * s);
  family('sluice_agent_subnet_connection_closes_total', 'counter', (i) => 1e6 + 0.9 * rate(i) * s);
  family('sluice_agent_client_rtt_seconds', 'gauge', (i) => (10 + ((i * 11 + j * 17) % 150)) / 1000);
  family('sluice_agent_client_rtt_samples_total', 'counter', (i) => 20 + (i % 50));
  family('sluice_agent_subnet_open_connections', 'gauge', (i) => 3 * rate(i));
  family('sluice_agent_subnet_open_connections_surviving', 'gauge', (i) => 2 * rate(i));
  family('sluice_agent_subnet_open_connections_surviving_mean', 'gauge', (i) => 2.5 * rate(i));
  const total = mine.reduce((n, { i }) => n + rate(i), 0);
  lines.push(
    '# TYPE sluice_agent_connections_total counter',
    `sluice_agent_connections_total{node="${node}",port="${f.port}"} ${1e7 + total * s}`,
    '# TYPE sluice_agent_bytes_total counter',
    `sluice_agent_bytes_total{node="${node}",port="${f.port}",direction="sent"} ${1e9 + total * 5000 * s}`,
    `sluice_agent_bytes_total{node="${node}",port="${f.port}",direction="received"} ${1e9 + total * 800 * s}`,
    '# TYPE sluice_agent_last_poll_timestamp_seconds gauge',
    `sluice_agent_last_poll_timestamp_seconds{node="${node}"} 1790000000`,
    '',
  );
  return lines.join('\n');
}

function edgeText(f: Fleet, k: number, s: number): string {
  const edge = f.edges[k]!;
  const demand = 40 + k * 3;
  const lines = [
    '# TYPE sluice_edge_requests_total counter',
    `sluice_edge_requests_total{edge="${edge}",load_balancer="${f.lb}",listener="192.0.2.10:${f.port}"} ${1e6 + demand * s}`,
    '# TYPE sluice_edge_origin_requests_total counter',
    ...f.origins.map((o, j) => `sluice_edge_origin_requests_total{edge="${edge}",load_balancer="${f.lb}",origin="${o.name}"} ${1e6 + (demand / f.origins.length + j) * s}`),
    '# TYPE sluice_agent_upstream_rtt_seconds gauge',
    ...f.origins.map((o, j) => `sluice_agent_upstream_rtt_seconds{node="${edge}",upstream="${o.address}:${f.port}"} ${(5 + ((k * 13 + j * 29) % 120)) / 1000}`),
    '# TYPE sluice_agent_connections_total counter',
    `sluice_agent_connections_total{node="${edge}",port="${f.port}"} ${1e6 + demand * s}`,
    '# TYPE sluice_agent_bytes_total counter',
    `sluice_agent_bytes_total{node="${edge}",port="${f.port}",direction="sent"} ${1e9 + demand * 6000 * s}`,
    '# TYPE sluice_agent_connection_seconds_total counter',
    `sluice_agent_connection_seconds_total{node="${edge}",port="${f.port}"} ${1e6 + 4 * demand * s}`,
    '# TYPE sluice_agent_connection_closes_total counter',
    `sluice_agent_connection_closes_total{node="${edge}",port="${f.port}"} ${1e6 + 0.95 * demand * s}`,
    '# TYPE sluice_agent_open_connections gauge',
    `sluice_agent_open_connections{node="${edge}",port="${f.port}"} ${4 * demand}`,
    '# TYPE sluice_agent_open_connections_surviving gauge',
    `sluice_agent_open_connections_surviving{node="${edge}",port="${f.port}"} ${3 * demand}`,
    '# TYPE sluice_agent_open_connections_surviving_mean gauge',
    `sluice_agent_open_connections_surviving_mean{node="${edge}",port="${f.port}"} ${3.5 * demand}`,
    '',
  ];
  return lines.join('\n');
}

/**
 * How samples are stamped. `scrape` (the default): Prometheus stamps each with the scrape's start.
 * `whole-second`: each carries the whole second its value was computed for. `ahead`: the same, two
 * seconds ahead of the clock.
 */
export type FleetStamps = 'scrape' | 'whole-second' | 'ahead';

export async function serveFleet(f: Fleet, opts: { stamps?: FleetStamps } = {}): Promise<FleetExporter> {
  const t0 = Date.now();
  const stamps = opts.stamps ?? 'scrape';
  const server: Server = createServer((req, res) => {
    const second = Math.floor(Date.now() / 1000) * 1000;
    const now = stamps === 'scrape' ? Date.now() : stamps === 'whole-second' ? second : second + 2000;
    const s = (now - t0) / 1000;
    const m = /^\/(origin|edge)\/(.+)$/.exec(req.url ?? '');
    const j = m?.[1] === 'origin' ? f.origins.findIndex((o) => o.name === m[2]) : -1;
    const k = m?.[1] === 'edge' ? f.edges.indexOf(m[2]!) : -1;
    if (j < 0 && k < 0) return void res.writeHead(404).end();
    // Stamped by Prometheus at the scrape's start, a sample's value can be rendered well after it on a
    // loaded machine (the counters' lines bend), and three servers scraping at their own instants read
    // different rates. `whole-second` puts every sample on the line: a window every second of which was
    // scraped reads the rate exactly on all of them (test/scheduler-prometheus-shards.test.ts). Not for
    // recording rules: a sample stamped a second back can arrive after a rule evaluation at a later
    // instant, which then missed it while a query at that instant now sees it. `ahead` closes that race:
    // a sample is in the database a second or more before the instant it is stamped with, so a rule
    // evaluated at an instant and a query at the same instant afterwards read the very same samples
    // (test/scheduler-prometheus-rules.test.ts).
    const text = j >= 0 ? originText(f, j, s) : edgeText(f, k, s);
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(stamps === 'scrape' ? text : text.replace(/^([^#\n].*)$/gm, `$1 ${now}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const target = `127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    target,
    jobs(select = {}) {
      const group = (kind: string, names: string[]) => names.map((n) => ({ targets: [target], labels: { __metrics_path__: `/${kind}/${n}`, instance: `${kind}-${n}` } }));
      return [
        { job: 'origins', targets: [], groups: group('origin', select.origins ?? f.origins.map((o) => o.name)) },
        { job: 'edges', targets: [], groups: group('edge', select.edges ?? f.edges) },
      ];
    },
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
