// `npm run bench -- dns-tcp [--idle N]`: DNS over TCP under abuse, sluice dns against knot (knotd)
// in the same run, same zone, one server at a time on loopback, both with their default TCP limits
// (idle 10 s, 500 ms per message; knot's tcp-max-clients and sluice's tcp.max_connections at 8192):
//   1. a client that pipelines queries and never reads (how much each server reads before it stops,
//      and whether it closes the client),
//   2. N idle connections (default 5,000) held from a child process,
//   3. 200 new clients, one query each, while all of that is held: failures and p50/p99 latency.
// Resident memory of the server's processes (sluice: cluster primary + worker) is sampled every
// 50 ms throughout; the result is the peak over the starting value.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { BATTERY_ZONE, batteryView, batteryZoneFile } from '../dns/testing/battery.ts';
import { buildQuery, decodeResponse, tcpExchange } from '../dns/testing/packets.ts';
import { freePort } from '../test/helpers/ports.ts';
import { startKnot } from '../test/helpers/reference-dns.ts';
import { childPids, treeRssBytes } from '../test/helpers/rss.ts';
import { startSluice } from '../test/helpers/sluice-process.ts';
import { connect, pipelineWithoutReading, startIdleClients } from '../test/helpers/tcp-abuse.ts';
import { waitFor } from '../test/helpers/wait.ts';
import { recordResult } from './lib/results.ts';

const QUERY = buildQuery({ name: 'app.example.com', edns: {} });
const MB = 2 ** 20;
const round1 = (x: number) => Math.round(x * 10) / 10;

interface Target {
  name: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

interface Outcome {
  rss_start_mb: number;
  rss_peak_mb: number;
  rss_growth_mb: number;
  greedy_written_mb: number;
  greedy_closed_by_server: boolean;
  idle_open: number;
  idle_closed_during_run: number;
  new_clients_failed: number;
  new_client_p50_ms: number;
  new_client_p99_ms: number;
  processes: number;
}

async function abuse(t: Target, idle: number, inflight: number): Promise<Outcome> {
  for (let i = 0; i < 200; i++) await tcpExchange(t.port, QUERY);
  const start = treeRssBytes(t.pid);
  let peak = start;
  const sampler = setInterval(() => (peak = Math.max(peak, treeRssBytes(t.pid))), 50);
  try {
    const greedy = await connect(t.port);
    greedy.pause();
    greedy.on('error', () => {});
    let greedyClosed = false;
    greedy.on('close', () => (greedyClosed = true));
    const sent = await pipelineWithoutReading(greedy, QUERY, 64 * MB, 2_000);
    // knot listens with a backlog of 10 and drops SYNs beyond it (each retried a second later):
    // connect to it one at a time, and allow minutes.
    const clients = await startIdleClients(t.port, idle, 300_000, inflight);
    const latencies: number[] = [];
    let failed = 0;
    for (let i = 0; i < 200; i++) {
      const t0 = performance.now();
      try {
        const d = decodeResponse(await tcpExchange(t.port, QUERY, { timeoutMs: 3_000 }));
        if (d.answers.length !== 1) failed++;
        latencies.push(performance.now() - t0);
      } catch {
        failed++;
      }
    }
    const held = clients.last();
    clients.stop();
    greedy.destroy();
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => round1(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? Number.NaN);
    return {
      rss_start_mb: round1(start / MB),
      rss_peak_mb: round1(peak / MB),
      rss_growth_mb: round1((peak - start) / MB),
      greedy_written_mb: round1(sent.bytes / MB),
      greedy_closed_by_server: greedyClosed,
      idle_open: held.open,
      idle_closed_during_run: held.closed,
      new_clients_failed: failed,
      new_client_p50_ms: pct(0.5),
      new_client_p99_ms: pct(0.99),
      processes: 1 + childPids(t.pid).length,
    };
  } finally {
    clearInterval(sampler);
  }
}

export async function main(args: string[]): Promise<void> {
  const i = args.indexOf('--idle');
  const idle = i >= 0 ? Number(args[i + 1]) : 5_000;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-dns-tcp-'));
  const results: Record<string, Outcome> = {};
  const load = loadavg()[0]!;
  try {
    // sluice dns: the same deployment as the tests (a metrics listener, so a primary and one worker).
    mkdirSync(join(dir, 'sluice'));
    const port = await freePort();
    const metricsPort = await freePort();
    const { view, configLines } = batteryView();
    writeFileSync(join(dir, 'sluice', 'view.json'), JSON.stringify(view));
    writeFileSync(
      join(dir, 'sluice', 'dns.yaml'),
      [`listen: ["127.0.0.1:${port}"]`, 'view_file: view.json', `metrics: { listen: "127.0.0.1:${metricsPort}" }`, 'tcp: { max_connections: 8192 }', ...configLines, 'log_level: warn'].join('\n'),
    );
    const sluice = startSluice(['dns', '--config', join(dir, 'sluice', 'dns.yaml')], { fdLimit: 16_384 });
    await waitFor(async () => decodeResponse(await tcpExchange(port, QUERY, { timeoutMs: 500 })).answers.length === 1, { timeoutMs: 20_000, what: 'sluice dns' });
    try {
      results.sluice = await abuse({ name: 'sluice', port, pid: sluice.child.pid!, stop: async () => void (await sluice.stop()) }, idle, 8);
    } finally {
      await sluice.stop();
    }

    // knotd, default TCP settings (tcp-max-clients: half of the raised 16,384 open files).
    const knotPort = await freePort();
    const knot = await startKnot(join(dir, 'knot'), knotPort, BATTERY_ZONE.zone, batteryZoneFile(), { fdLimit: 16_384 });
    try {
      results.knot = await abuse({ name: 'knot', port: knotPort, pid: knot.child.pid!, stop: () => knot.stop() }, idle, 1);
    } finally {
      await knot.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const s = results.sluice!;
  const k = results.knot!;
  const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
  recordResult(
    'dns-tcp',
    {
      comparison: `sluice dns vs knotd 3.2 over TCP under abuse: a never-reading pipelining client, ${idle} idle connections, 200 new clients meanwhile`,
      ratios: { rss_growth_vs_knot: ratio(s.rss_growth_mb, k.rss_growth_mb), new_client_p99_vs_knot: ratio(s.new_client_p99_ms, k.new_client_p99_ms) },
      details: { idle_connections: idle, loadavg_1m: load, sluice: s, knot: k },
    },
    `${idle} idle conns + a never-reading client: RSS +${s.rss_growth_mb} MB for sluice (${s.processes} processes) vs +${k.rss_growth_mb} MB for knot; new clients ${200 - s.new_clients_failed}/200 answered (p99 ${s.new_client_p99_ms} ms) vs ${200 - k.new_clients_failed}/200 (p99 ${k.new_client_p99_ms} ms); load ${round1(load)}`,
  );
}
