// The scheduler's PromQL read of one big instant-vector answer, on the event loop it shares with the
// API: sluice's own client (scheduler/inputs/prometheus-server.ts: node:http, the body parsed in paced
// steps) vs the peer, prometheus-query (axios; what the scheduler used until issue 15), mapped to the
// same series the old reader built. A loopback server serves a synthetic answer shaped like the 1M
// real path's (4 labels a series; 400k series ≈ 55 MB), so the comparison is the client alone, not
// Prometheus. Per read: wall time, this process's CPU (user + system), and the longest event-loop
// stall a 10 ms ticker saw (a stall is how long the API would have answered nothing), and the longest
// GC pause inside it.
//
// With --gzip the server answers gzip to clients that ask for it (both do; Prometheus does too), as a
// remote Prometheus's answer would best travel.
//
//   npm run bench -- prometheus-read [--series 400000] [--reps 3] [--gzip]
import { createServer } from 'node:http';
import { loadavg } from 'node:os';
import { gzipSync } from 'node:zlib';
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { PrometheusDriver } from 'prometheus-query';
import { PrometheusServer } from '../scheduler/inputs/prometheus-server.ts';
import type { Series } from '../scheduler/inputs/assemble.ts';
import { recordResult } from './lib/results.ts';
import { StallLog } from './lib/stall-log.ts';

interface Read {
  wall_ms: number;
  cpu_ms: number;
  max_stall_ms: number;
  /** The longest garbage-collection pause inside the read (the part of a stall no pacing removes). */
  max_gc_ms: number;
}

let gcMax = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMax = Math.max(gcMax, e.duration);
}).observe({ entryTypes: ['gc'] });

function answer(series: number): string {
  const parts: string[] = [];
  for (let i = 0; i < series; i++) {
    const metric = { subnet: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/24`, node: `origin-${i % 200}`, job: 'sluice-agents', instance: `10.0.${(i % 200) >> 8}.${i % 200}:9464` };
    parts.push(JSON.stringify({ metric, value: [1764400000.123, String((i % 997) / 7)] }));
  }
  return `{"status":"success","data":{"resultType":"vector","result":[${parts.join(',')}]}}`;
}

async function measure(read: () => Promise<Series[]>, stalls: StallLog): Promise<{ read: Read; series: Series[] }> {
  // Let the ticker run once first, so a stall seen is the read's.
  await new Promise((r) => setTimeout(r, 50));
  stalls.restart();
  gcMax = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const series = await read();
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  // One more tick so a stall at the very end is counted.
  await new Promise((r) => setTimeout(r, 30));
  const max = Math.max(0, ...Object.values(stalls.stalls));
  return { read: { wall_ms: Math.round(wall), cpu_ms: Math.round((cpu.user + cpu.system) / 1000), max_stall_ms: max, max_gc_ms: Math.round(gcMax) }, series };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function main(args: string[]): Promise<void> {
  const arg = (name: string, d: number) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : d;
  };
  const count = arg('series', 400_000);
  const reps = arg('reps', 3);
  // Encoded once: the server's own work (it shares this process) stays out of the reads' stalls.
  const body = Buffer.from(answer(count));
  // No content-length, as Prometheus (Go's net/http) sends a big answer: chunked.
  const gzip = args.includes('--gzip');
  const gzipped = gzip ? gzipSync(body) : undefined;
  const server = createServer((req, res) => {
    if (gzipped && /\bgzip\b/.test(req.headers['accept-encoding'] ?? '')) res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(gzipped);
    else res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const load = [loadavg()];

  const ours = new PrometheusServer({ url, timeoutMs: 120_000 });
  const peer = new PrometheusDriver({ endpoint: url, baseURL: '/api/v1', timeout: 120_000 });
  // Exactly the old reader's mapping (scheduler/inputs/prometheus-server.ts before issue 15).
  const peerRead = async (): Promise<Series[]> => {
    const res = await peer.instantQuery('sum by (subnet, node) (rate(x[1m]))');
    return (res.result as { metric: { labels: Record<string, string> }; value: { value: number } }[]).map((r) => ({ labels: r.metric.labels, value: Number(r.value.value) }));
  };
  const oursRead = () => ours.query('subnet_demand', 'sum by (subnet, node) (rate(x[1m]))');

  const stalls = new StallLog(10);
  const runs: { ours: Read[]; peer: Read[] } = { ours: [], peer: [] };
  try {
    for (let rep = 0; rep < reps; rep++) {
      // Alternate which goes first: neither always reads on the other's garbage.
      for (const who of rep % 2 === 0 ? (['peer', 'ours'] as const) : (['ours', 'peer'] as const)) {
        const { read, series } = await measure(who === 'ours' ? oursRead : peerRead, stalls);
        if (series.length !== count || series[count - 1]!.value !== ((count - 1) % 997) / 7 || series[7]!.labels.node !== 'origin-7') throw new Error(`${who}: wrong series read`);
        runs[who].push(read);
        process.stdout.write(`${who} rep ${rep + 1}: ${JSON.stringify(read)}\n`);
      }
      load.push(loadavg());
    }
  } finally {
    stalls.stop();
    server.close();
  }

  const m = (who: 'ours' | 'peer', k: keyof Read) => median(runs[who].map((r) => r[k]));
  const ratios = { max_stall: m('ours', 'max_stall_ms') / m('peer', 'max_stall_ms'), cpu: m('ours', 'cpu_ms') / m('peer', 'cpu_ms'), wall: m('ours', 'wall_ms') / m('peer', 'wall_ms') };
  const mb = (body.length / 1e6).toFixed(1);
  const loads = load.map((l) => l[0]!.toFixed(1));
  recordResult(
    gzip ? 'prometheus-read-gzip' : 'prometheus-read',
    { comparison: 'sluice PrometheusServer (paced parse) vs prometheus-query (axios), one instant-vector answer from a loopback server', ratios, details: { series: count, body_mb: Number(mb), gzip_mb: gzipped ? gzipped.length / 1e6 : null, reps, runs, load_1m: loads } },
    `${count} series, ${mb} MB answer${gzipped ? ` (${(gzipped.length / 1e6).toFixed(1)} MB gzipped)` : ''}, median of ${reps}: longest event-loop stall ${m('ours', 'max_stall_ms')} ms vs ${m('peer', 'max_stall_ms')} ms (prometheus-query), ×${ratios.max_stall.toFixed(3)}; CPU ${m('ours', 'cpu_ms')} vs ${m('peer', 'cpu_ms')} ms (×${ratios.cpu.toFixed(2)}); wall ${m('ours', 'wall_ms')} vs ${m('peer', 'wall_ms')} ms (×${ratios.wall.toFixed(2)}); longest GC pause ${m('ours', 'max_gc_ms')} vs ${m('peer', 'max_gc_ms')} ms; load average ${loads.join(' → ')}`,
  );
}
