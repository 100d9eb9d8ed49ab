// `npm run bench -- agent`: the agent's kernel poll against `ss -tin` on the same sockets.
//
// In a private network namespace, a holder process keeps N established loopback connections (10k, 50k;
// 2N sockets in the table). Then, alternately, 5 times each:
//   - `sluice agent --once` (whole process: node + tsx start-up, netlink dump of both families, parse,
//     classify, learn) vs `ss -tin` (whole process) — wall time, ratio sluice/ss;
//   - the poll alone inside this process (dump + parse + learn, what runs every poll_interval in the
//     worker) vs the same `ss -tin`.
// Then the running agent (worker-thread collector, 250 ms polls) is scraped back to back for 5 s: /metrics
// latency while polls run shows the dump stays off the event loop, and the agent's resident memory with
// N live connections is read beside node_exporter's in the same namespace. Then, in a fresh namespace,
// the agent's resident memory idle and after it has learned 100k subnets (100k distinct client
// addresses over loopback, ipv4_prefix 32, connected a batch at a time and reset), each beside
// node_exporter started and scraped the same way. Every memory reading is VmRSS and its split into private
// (RssAnon) and file-backed pages (RssFile: mostly the node binary's code, shared with every node process
// on the host). Finally the learning table's heap at 100k subnets (synthetic feed, no kernel involved), and
// the bytes the collector's poll and its /metrics/subnets export allocate at 100k subnets (garbage
// included; `--allocation-only` runs just that, in a few seconds).
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { recordResult } from './lib/results.ts';
import { machineLoad, memoryOf, startServer, stopServer, type Server } from './lib/processes.ts';
import { AgentConfig } from '../agent/config.ts';
import { collectGarbage } from '../lib/collect-garbage.ts';
import { Poller } from '../agent/poller.ts';
import { SockDiagCollector } from '../agent/netlink/sock-diag.ts';
import { Learner } from '../agent/learning/learner.ts';
import { buildClassifyConfig } from '../agent/classify.ts';
import { TCP_STATE, WANTED_STATES } from '../agent/netlink/constants.ts';
import { portFilterFor } from '../agent/collectors.ts';
import type { Collector, SocketRecord } from '../agent/collector.ts';
import { measureAllocation } from './lib/allocation.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const HOLD = join(ROOT, 'test/delay-line/tcp-hold.mjs');
const CHURN = join(ROOT, 'bench/lib/subnet-churn.mjs');
const SLUICE = join(ROOT, 'bin/sluice.js');
const PORT = 18080;
const RUNS = 5;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

function timeProcess(cmd: string, args: string[]): number {
  const t = performance.now();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 30 });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr?.toString().slice(0, 500)}`);
  return ms;
}

/**
 * One process can hold only ~9k connections here (both ends: 2 fds each; RLIMIT_NOFILE is 20000 and the
 * container lacks CAP_SYS_RESOURCE to raise it), so N connections are spread over holders of at most
 * PER_HOLDER connections, each on its own service port.
 */
const PER_HOLDER = 4000;

async function startHolders(n: number, ns: string): Promise<ChildProcess[]> {
  const holders: ChildProcess[] = [];
  for (let i = 0, left = n; left > 0; i++, left -= PER_HOLDER) {
    const count = Math.min(PER_HOLDER, left);
    const h = spawn('ip', ['netns', 'exec', ns, process.execPath, HOLD, String(count), String(PORT + i), '50'], { stdio: ['pipe', 'pipe', 'pipe'] });
    holders.push(h);
    await new Promise<void>((resolve, reject) => {
      let out = '';
      let err = '';
      const timer = setTimeout(() => reject(new Error(`holder ${i} did not reach ${count} connections in 60 s: ${err}`)), 60_000);
      h.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      h.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      h.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`holder ${i} exited ${code}: ${err}`));
      });
    });
  }
  return holders;
}

async function stopHolders(holders: ChildProcess[]): Promise<void> {
  await Promise.all(
    holders.map(async (h) => {
      if (h.exitCode !== null || h.signalCode !== null) return;
      const exited = new Promise((r) => h.once('exit', r));
      h.kill('SIGTERM');
      await exited;
    }),
  );
}

/** One namespace, N connections held; always torn down. */
async function measureAt(n: number, ns: string, dir: string): Promise<Record<string, number>> {
  const cfgFile = join(dir, `agent-${n}.yaml`);
  const ports = Array.from({ length: Math.ceil(n / PER_HOLDER) }, (_, i) => PORT + i);
  // JSON is valid YAML: the same file serves the CLI and the in-process child.
  writeFileSync(cfgFile, JSON.stringify({ node: 'bench', service_ports: ports, include_loopback: true, min_connection_age: 0, min_samples: 1 }));
  let holders: ChildProcess[] = [];
  try {
    holders = await startHolders(n, ns);
    // The in-process poll runs in a child started inside the namespace (this file, --poll-in-process).
    const ssMs: number[] = [];
    const sluiceMs: number[] = [];
    const pollMs: number[] = [];
    let sockets = 0;
    for (let i = 0; i < RUNS; i++) {
      ssMs.push(timeProcess('ip', ['netns', 'exec', ns, 'ss', '-tin']));
      sluiceMs.push(timeProcess('ip', ['netns', 'exec', ns, process.execPath, SLUICE, 'agent', '--config', cfgFile, '--once']));
      const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), '--poll-in-process', cfgFile], { encoding: 'utf8', maxBuffer: 1 << 26 });
      if (r.status !== 0) throw new Error(`in-process poll failed: ${r.stderr}`);
      const m = JSON.parse(r.stdout) as { poll_ms: number; sockets: number };
      pollMs.push(m.poll_ms);
      sockets = m.sockets;
    }
    // The baseline cost of `ip netns exec` + process start, to see what the tools themselves cost.
    const emptyMs = median(Array.from({ length: RUNS }, () => timeProcess('ip', ['netns', 'exec', ns, 'true'])));
    // What `sluice agent` costs before it touches the kernel (node + tsx + module loading): --help.
    const startupMs = median(Array.from({ length: RUNS }, () => timeProcess('ip', ['netns', 'exec', ns, process.execPath, SLUICE, 'agent', '--help'])));
    const scrape = await scrapeWhilePolling(ns, cfgFile);
    return { connections: n, sockets_in_table: 2 * n, sockets_parsed: sockets, ss_ms: median(ssMs), sluice_once_ms: median(sluiceMs), sluice_poll_ms: median(pollMs), sluice_startup_ms: startupMs, netns_exec_ms: emptyMs, ...scrape };
  } finally {
    await stopHolders(holders);
  }
}

/**
 * The running agent (worker-thread collector, 250 ms polls over all N connections) while a client scrapes
 * /metrics back to back for 5 s: if the dump ran on the event loop, the slowest scrape would take as long
 * as a poll.
 */
async function scrapeWhilePolling(ns: string, cfgFile: string): Promise<Record<string, number>> {
  const cfg = JSON.parse(readFileSync(cfgFile, 'utf8')) as Record<string, unknown>;
  const live = cfgFile.replace(/\.yaml$/, '-live.yaml');
  writeFileSync(live, JSON.stringify({ ...cfg, listen: '127.0.0.1:9465', poll_interval: '250ms' }));
  const agent = spawn('ip', ['netns', 'exec', ns, process.execPath, SLUICE, 'agent', '--config', live], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    const script = `
      const lat = []; let polls0 = null; const until = Date.now() + 20000;
      const get = async (p) => { const t = performance.now(); const r = await fetch('http://127.0.0.1:9465' + p); const b = await r.text(); return { ms: performance.now() - t, ok: r.ok, b }; };
      (async () => {
        for (;;) { try { if ((await get('/healthz')).ok) break; } catch {} if (Date.now() > until) process.exit(2); await new Promise((r) => setTimeout(r, 100)); }
        const count = (b) => Number(/sluice_agent_poll_duration_seconds_count\\{[^}]*\\} (\\d+)/.exec(b)?.[1] ?? 0);
        const sum = (b) => Number(/sluice_agent_poll_duration_seconds_sum\\{[^}]*\\} ([\\d.e-]+)/.exec(b)?.[1] ?? 0);
        const first = await get('/metrics'); const end = Date.now() + 5000;
        let last = first;
        while (Date.now() < end) { last = await get('/metrics'); lat.push(last.ms); }
        lat.sort((a, b) => a - b);
        const polls = count(last.b) - count(first.b);
        process.stdout.write(JSON.stringify({ scrapes: lat.length, scrape_p50_ms: lat[lat.length >> 1], scrape_p99_ms: lat[Math.floor(lat.length * 0.99)], scrape_max_ms: lat[lat.length - 1], polls_during: polls, mean_poll_ms: polls ? (1000 * (sum(last.b) - sum(first.b))) / polls : 0 }));
      })();`;
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`scrape client failed (${r.status}): ${r.stderr}`);
    // `ip netns exec` execs in place: the child's PID is the agent's.
    const mem = memoryOf(agent.pid!);
    const peer = await nodeExporterMemory(ns, 9100);
    return {
      ...(JSON.parse(r.stdout) as Record<string, number>),
      agent_rss_mb: mem.rss_mb,
      agent_peak_rss_mb: mem.peak_mb,
      agent_anon_mb: mem.anon_mb,
      agent_file_mb: mem.file_mb,
      node_exporter_rss_mb: peer.rss_mb,
      node_exporter_peak_rss_mb: peer.peak_mb,
      node_exporter_anon_mb: peer.anon_mb,
      node_exporter_file_mb: peer.file_mb,
    };
  } finally {
    const exited = new Promise((res) => agent.once('exit', res));
    agent.kill('SIGTERM');
    await exited;
  }
}

/** GET inside the namespace (its loopback is not this process's): the body, or null on any failure. */
function nsGet(ns: string, url: string): string | null {
  const r = spawnSync('ip', ['netns', 'exec', ns, 'curl', '-sf', '--max-time', '10', url], { encoding: 'utf8', maxBuffer: 1 << 28 });
  return r.status === 0 ? r.stdout : null;
}

/** Polls `url` in the namespace until `ok(body)`; bounded. */
async function nsWaitFor(ns: string, url: string, ok: (body: string) => boolean, what: string, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const body = nsGet(ns, url);
    if (body !== null && ok(body)) return body;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const SCRAPES = 10;

/** node_exporter (Debian prometheus-node-exporter, default collectors) in the namespace, scraped SCRAPES times, then its memory. */
async function nodeExporterMemory(ns: string, port: number): Promise<ReturnType<typeof memoryOf>> {
  const ne = startServer('node_exporter', 'ip', ['netns', 'exec', ns, 'prometheus-node-exporter', `--web.listen-address=127.0.0.1:${port}`]);
  try {
    for (let i = 0; i < SCRAPES; i++) await nsWaitFor(ns, `http://127.0.0.1:${port}/metrics`, () => true, 'node_exporter /metrics', 20_000);
    return memoryOf(ne.child.pid!);
  } finally {
    await stopServer(ne);
  }
}

/**
 * Resident memory once the agent has settled: sampled every second for STEADY_S seconds while it keeps
 * polling (every 250 ms); the first sample, the last (steady state: V8's memory reducer has run, after
 * ~10 s of low allocation) and the peak (VmHWM) are reported.
 */
const STEADY_S = 15;
async function steadyMemory(pid: number): Promise<{ first_mb: number; rss_mb: number; peak_mb: number; anon_mb: number; file_mb: number }> {
  const first = memoryOf(pid);
  let last = first;
  for (let i = 0; i < STEADY_S; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    last = memoryOf(pid);
  }
  return { first_mb: first.rss_mb, rss_mb: last.rss_mb, peak_mb: last.peak_mb, anon_mb: last.anon_mb, file_mb: last.file_mb };
}

/** The agent's own report of its V8 heaps (sluice_agent_heap_bytes{thread,kind}), in MiB. */
function heapOf(metrics: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of metrics.matchAll(/^sluice_agent_heap_bytes\{thread="(\w+)",kind="(\w+)"[^}]*\} (\d+)/gm)) out[`${m[1]}_${m[2]}_mb`] = Math.round(Number(m[3]) / 104857.6) / 10;
  return out;
}

const prefixed = (p: string, o: Record<string, number>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [`${p}${k}`, v]));

const tracked = (metrics: string) => Number(/^sluice_agent_subnets_tracked\{[^}]*\} (\d+)/m.exec(metrics)?.[1] ?? -1);

/**
 * The agent's resident memory idle and after learning 100k subnets, each beside node_exporter's, in a
 * fresh namespace: the agent as an operator runs it (worker-thread collector, 250 ms polls), scraped
 * SCRAPES times (/metrics and /metrics/subnets) before each reading, as Prometheus would.
 */
async function residentMemory(dir: string, subnets: number): Promise<Record<string, number>> {
  const ns = `slc-${process.pid}-bench-mem`;
  const port = PORT + 50;
  const cfgFile = join(dir, 'agent-mem.yaml');
  writeFileSync(cfgFile, JSON.stringify({ node: 'bench', listen: '127.0.0.1:9465', service_ports: [port], include_loopback: true, ipv4_prefix: 32, min_connection_age: 0, min_samples: 1, poll_interval: '250ms', max_subnets: subnets }));
  execFileSync('ip', ['netns', 'add', ns]);
  let agent: Server | null = null;
  let churn: ChildProcess | null = null;
  try {
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    agent = startServer('sluice agent', 'ip', ['netns', 'exec', ns, process.execPath, SLUICE, 'agent', '--config', cfgFile]);
    await nsWaitFor(ns, 'http://127.0.0.1:9465/healthz', () => true, 'agent /healthz');
    const scrape = () => {
      for (let i = 0; i < SCRAPES; i++) for (const p of ['/metrics', '/metrics/subnets']) nsGet(ns, `http://127.0.0.1:9465${p}`);
    };
    scrape();
    const idle = await steadyMemory(agent.child.pid!);
    const idleHeap = heapOf(nsGet(ns, 'http://127.0.0.1:9465/metrics') ?? '');
    const idlePeer = await nodeExporterMemory(ns, 9100);

    churn = spawn('ip', ['netns', 'exec', ns, process.execPath, CHURN, String(subnets), String(port)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    churn.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const lines = createInterface({ input: churn.stdout! });
    const t = performance.now();
    for await (const line of lines) {
      const m = /^batch \d+ (\d+)/.exec(line);
      if (m) {
        const want = Number(m[1]);
        await nsWaitFor(ns, 'http://127.0.0.1:9465/metrics', (b) => tracked(b) >= want, `${want} subnets tracked (${err})`);
        churn.stdin!.write('next\n');
      } else if (line === 'done') break;
    }
    const learnMs = performance.now() - t;
    const body = await nsWaitFor(ns, 'http://127.0.0.1:9465/metrics', (b) => tracked(b) >= subnets, `${subnets} subnets tracked`);
    scrape();
    const full = await steadyMemory(agent.child.pid!);
    const fullHeap = heapOf(nsGet(ns, 'http://127.0.0.1:9465/metrics') ?? '');
    const fullPeer = await nodeExporterMemory(ns, 9100);
    return {
      subnets: tracked(body),
      learn_ms: Math.round(learnMs),
      idle_agent_first_rss_mb: idle.first_mb,
      idle_agent_rss_mb: idle.rss_mb,
      idle_agent_peak_rss_mb: idle.peak_mb,
      idle_node_exporter_rss_mb: idlePeer.rss_mb,
      idle_agent_anon_mb: idle.anon_mb,
      idle_agent_file_mb: idle.file_mb,
      idle_node_exporter_anon_mb: idlePeer.anon_mb,
      idle_node_exporter_file_mb: idlePeer.file_mb,
      subnets_agent_first_rss_mb: full.first_mb,
      subnets_agent_rss_mb: full.rss_mb,
      subnets_agent_peak_rss_mb: full.peak_mb,
      subnets_node_exporter_rss_mb: fullPeer.rss_mb,
      subnets_agent_anon_mb: full.anon_mb,
      subnets_agent_file_mb: full.file_mb,
      subnets_node_exporter_anon_mb: fullPeer.anon_mb,
      subnets_node_exporter_file_mb: fullPeer.file_mb,
      ...prefixed('idle_heap_', idleHeap),
      ...prefixed('subnets_heap_', fullHeap),
    };
  } finally {
    if (churn && churn.exitCode === null) {
      const exited = new Promise((r) => churn!.once('exit', r));
      churn.kill('SIGTERM');
      await exited;
    }
    if (agent) await stopServer(agent);
    execFileSync('ip', ['netns', 'del', ns]);
  }
}

/** Child mode: warm up, then time one poll (dump + parse + learn) in this process. */
function pollInProcess(cfgFile: string): void {
  const cfg = AgentConfig.parse(JSON.parse(readFileSync(cfgFile, 'utf8')));
  const collector = new SockDiagCollector(WANTED_STATES, portFilterFor(cfg));
  const poller = new Poller(cfg, collector);
  poller.poll(); // warm-up: JIT, first-seen tracking
  const r = poller.poll();
  collector.close();
  process.stdout.write(JSON.stringify({ poll_ms: r.durationSeconds * 1000, sockets: r.sockets.inbound + r.sockets.outbound + r.sockets.other }));
  // (the port filter keeps only the server ends: n of the 2n sockets are parsed and learned)
}

function memoryAt100kSubnets(): Record<string, number> {
  const gc = () => {
    if (!collectGarbage()) throw new Error('bench agent: this runtime offers no full garbage collection to measure the heap after');
  };
  gc();
  const before = process.memoryUsage().heapUsed;
  const learner = new Learner({
    classify: buildClassifyConfig({ servicePorts: [443], upstreams: [], includeLoopback: false }),
    ipv4Prefix: 24,
    ipv6Prefix: 48,
    alpha: 0.3,
    minConnectionAgeMs: 0,
    maxSubnets: 100_000,
    subnetTtlMs: 168 * 3_600_000,
    minSamples: 5,
  });
  // 100k distinct /24s, fed in polls of 10k connections, each subnet seen 6 times (so it is exportable).
  let id = 1;
  const t = performance.now();
  for (let round = 0; round < 6; round++) {
    for (let batch = 0; batch < 10; batch++) {
      const sockets: SocketRecord[] = [];
      for (let k = 0; k < 10_000; k++) {
        const s = batch * 10_000 + k;
        sockets.push({ id: id++, family: 4, state: TCP_STATE.ESTABLISHED, localAddr: '192.0.2.1', localPort: 443, remoteAddr: `${10 + (s >> 16)}.${(s >> 8) & 255}.${s & 255}.7`, remotePort: 40000, rttUs: 20_000 + (s % 1000) * 100, minRttUs: 20_000, lastAckRecvMs: 0 });
      }
      learner.ingest(sockets, round * 10_000 + batch * 1000);
    }
  }
  const feedMs = performance.now() - t;
  const t2 = performance.now();
  const top = learner.topSubnets(1000);
  const topMs = performance.now() - t2;
  gc();
  const after = process.memoryUsage().heapUsed;
  if (learner.table.size !== 100_000 || top.length !== 1000) throw new Error(`table has ${learner.table.size} subnets, top ${top.length}`);
  return { subnets: learner.table.size, heap_mb: (after - before) / 1048576, bytes_per_subnet: (after - before) / learner.table.size, feed_600k_sockets_ms: feedMs, top_1000_ms: topMs };
}

/** 100k distinct /24s as inbound sockets, `rounds` polls' worth (each subnet seen once per round). */
function* feed100k(rounds: number): Generator<SocketRecord[]> {
  let id = 1;
  for (let round = 0; round < rounds; round++) {
    for (let batch = 0; batch < 10; batch++) {
      const sockets: SocketRecord[] = [];
      for (let k = 0; k < 10_000; k++) {
        const s = batch * 10_000 + k;
        sockets.push({ id: id++, family: 4, state: TCP_STATE.ESTABLISHED, localAddr: '192.0.2.1', localPort: 443, remoteAddr: `${10 + (s >> 16)}.${(s >> 8) & 255}.${s & 255}.7`, remotePort: 40000, rttUs: 20_000 + (s % 1000) * 100, minRttUs: 20_000, lastAckRecvMs: 0 });
      }
      yield sockets;
    }
  }
}

const ALLOC_POLLS = 20;
const ALLOC_EXPORTS = 5;
/** Polls per Prometheus scrape of /metrics/subnets: a 15 s scrape interval over 250 ms polls. */
const POLLS_PER_SCRAPE = 60;

/**
 * Bytes the collector worker's heap allocates per poll at 100k subnets (bench/lib/allocation.ts): the
 * real Poller over a collector that returns no sockets (the table learned, its clients gone, as in the
 * resident-memory run), so what is measured is the per-poll work over the whole table.
 */
function allocationAt100kSubnets(): Record<string, number> {
  const cfg = AgentConfig.parse({ node: 'bench', service_ports: [443], include_loopback: true, min_connection_age: 0, min_samples: 5, max_subnets: 100_000 });
  const none: Collector = { name: 'none', collect: () => ({ sockets: [], complete: true }), close: () => {} };
  const poller = new Poller(cfg, none, () => 100_000);
  let t = 0;
  for (const sockets of feed100k(6)) poller.learner.ingest(sockets, (t += 1000));
  if (poller.learner.table.size !== 100_000) throw new Error(`table has ${poller.learner.table.size} subnets`);
  for (let i = 0; i < 5; i++) {
    poller.poll(); // warm-up: JIT
    poller.exportSubnets();
  }
  const polls = measureAllocation(() => {
    for (let i = 0; i < ALLOC_POLLS; i++) poller.poll();
  });
  // The export (plan + ledger) is made when /metrics/subnets is scraped, at most once per poll.
  const exports = measureAllocation(() => {
    for (let i = 0; i < ALLOC_EXPORTS; i++) {
      poller.poll();
      poller.exportSubnets();
    }
  });
  const perPoll = polls.bytes / ALLOC_POLLS;
  const perExport = Math.max(0, exports.bytes / ALLOC_EXPORTS - perPoll);
  const t0 = performance.now();
  poller.poll();
  poller.exportSubnets();
  const exportMs = performance.now() - t0;
  const mb = (x: number) => Math.round((x / 1048576) * 100) / 100;
  return {
    subnets: poller.learner.table.size,
    polls: ALLOC_POLLS,
    exports: ALLOC_EXPORTS,
    allocated_per_poll_mb: mb(perPoll),
    gcs_per_poll: polls.gcs / ALLOC_POLLS,
    allocated_per_export_mb: mb(perExport),
    poll_and_export_ms: Math.round(exportMs),
    // What the worker allocates per 250 ms poll averaged over a 15 s scrape interval (one export).
    allocated_per_poll_with_scrapes_mb: mb(perPoll + perExport / POLLS_PER_SCRAPE),
  };
}

export async function main(args: string[]): Promise<void> {
  // `npm run bench -- agent [N ...] [--memory-only]`: connection counts (default 10k and 50k).
  if (args.includes('--allocation-only')) {
    process.stdout.write(`${JSON.stringify(allocationAt100kSubnets())}\n`);
    return;
  }
  const memoryOnly = args.includes('--memory-only');
  const numbers = args.filter((a) => /^\d+$/.test(a)).map(Number);
  const sizes = memoryOnly ? [] : numbers.length ? numbers : [10_000, 50_000];
  const load = machineLoad();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-agent-bench-'));
  const results: Record<string, number>[] = [];
  let resident: Record<string, number>;
  try {
    resident = await residentMemory(dir, 100_000);
    process.stdout.write(`${JSON.stringify(resident)}\n`);
    for (const n of sizes) {
      // A fresh namespace per size: no TIME_WAIT sockets left over from the previous size.
      const ns = `slc-${process.pid}-bench-${n}`;
      execFileSync('ip', ['netns', 'add', ns]);
      try {
        execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
        const r = await measureAt(n, ns, dir);
        process.stdout.write(`${JSON.stringify(r)}\n`);
        results.push(r);
      } finally {
        execFileSync('ip', ['netns', 'del', ns]);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const mem = memoryAt100kSubnets();
  process.stdout.write(`${JSON.stringify(mem)}\n`);
  const alloc = allocationAt100kSubnets();
  process.stdout.write(`${JSON.stringify(alloc)}\n`);
  const ratios: Record<string, number> = {
    rss_idle_vs_node_exporter: resident.idle_agent_rss_mb! / resident.idle_node_exporter_rss_mb!,
    rss_100k_subnets_vs_node_exporter: resident.subnets_agent_rss_mb! / resident.subnets_node_exporter_rss_mb!,
    private_idle_vs_node_exporter: resident.idle_agent_anon_mb! / resident.idle_node_exporter_anon_mb!,
    private_100k_subnets_vs_node_exporter: resident.subnets_agent_anon_mb! / resident.subnets_node_exporter_anon_mb!,
  };
  for (const r of results) {
    const k = `${r.connections! / 1000}k`;
    ratios[`once_process_vs_ss_${k}`] = r.sluice_once_ms! / r.ss_ms!;
    ratios[`poll_vs_ss_process_${k}`] = r.sluice_poll_ms! / r.ss_ms!;
    ratios[`scrape_p99_vs_poll_${k}`] = r.scrape_p99_ms! / r.mean_poll_ms!;
    ratios[`rss_${k}_conns_vs_node_exporter`] = r.agent_rss_mb! / r.node_exporter_rss_mb!;
    ratios[`private_${k}_conns_vs_node_exporter`] = r.agent_anon_mb! / r.node_exporter_anon_mb!;
  }
  const fmt = (x: number) => x.toFixed(2);
  const rss =
    `RSS idle ${resident.idle_agent_rss_mb} MB (node_exporter ${resident.idle_node_exporter_rss_mb} MB; private ${resident.idle_agent_anon_mb} vs ${resident.idle_node_exporter_anon_mb} MB), ` +
    `${resident.subnets! / 1000}k subnets ${resident.subnets_agent_rss_mb} MB (peak ${resident.subnets_agent_peak_rss_mb}; node_exporter ${resident.subnets_node_exporter_rss_mb} MB; private ${resident.subnets_agent_anon_mb} vs ${resident.subnets_node_exporter_anon_mb} MB)` +
    results.map((r) => `, ${r.connections! / 1000}k live conns ${r.agent_rss_mb} MB (peak ${r.agent_peak_rss_mb}; node_exporter ${r.node_exporter_rss_mb} MB; private ${r.agent_anon_mb} vs ${r.node_exporter_anon_mb} MB)`).join('');
  const summary = results
    .map((r) => `${r.connections! / 1000}k conns (${r.sockets_in_table} sockets): sluice --once ${r.sluice_once_ms!.toFixed(0)} ms vs ss -tin ${r.ss_ms!.toFixed(0)} ms (x${fmt(r.sluice_once_ms! / r.ss_ms!)}), poll alone ${r.sluice_poll_ms!.toFixed(0)} ms (x${fmt(r.sluice_poll_ms! / r.ss_ms!)}; start-up is ${r.sluice_startup_ms!.toFixed(0)} ms), /metrics p99 ${r.scrape_p99_ms!.toFixed(1)} ms max ${r.scrape_max_ms!.toFixed(1)} ms during ${r.polls_during} polls of ${r.mean_poll_ms!.toFixed(0)} ms`)
    .join('; ');
  recordResult(
    'agent',
    { comparison: 'sluice agent kernel poll (netlink sock_diag via koffi) vs ss -tin on the same sockets; resident memory vs prometheus-node-exporter in the same namespace', ratios, details: { runs: RUNS, loadavg_at_start: load, resident_memory: resident, results, memory_100k_subnets: mem, allocation_100k_subnets: alloc } },
    `${rss}; ${summary ? `${summary}; ` : ''}100k subnets: ${mem.heap_mb!.toFixed(1)} MiB heap (${mem.bytes_per_subnet!.toFixed(0)} B/subnet), allocated per poll ${alloc.allocated_per_poll_mb} MiB + ${alloc.allocated_per_export_mb} MiB per /metrics/subnets export; load ${load}`,
  );
}

if (process.argv[2] === '--poll-in-process' && process.argv[1] === fileURLToPath(import.meta.url)) pollInProcess(process.argv[3]!);
