// `npm run bench -- view-delta [--sizes 100k,1m] [--changed 0.02] [--real 10k --dns 10] [--rss 100k,1m] [--served-deltas 1m --deltas 5 --tail 3000]`: issue 15,
// the DNS view at scale. `--real`: also the real loop (bench/scale/real-path.ts: agents, Prometheus,
// scheduler, API, `--dns` sluice dns processes), publish -> every DNS server serving, bytes per server.
// `--rss`: one sluice dns serving a view of that size: RSS, and p50/p99 at 10k qps (dnsperf, ECS).
//
// One publish that changes 2 % of the learned subnets, as each side handles it, in one process per
// size (synthetic view: N /24s and /48s over 200 origins, weight maps drawn from a pool of 5,000 as
// the scheduler's rounding and source merging make them; 1 % coarse aggregates with /24s inside):
//
//   before (the peer)  GET /api/v1/dns/view: the control plane serialises the whole view; each DNS
//                      server downloads it, parses it (JSON + schema) and builds a new index in its
//                      worker and again in its UDP thread.
//   after              GET /api/v1/dns/view/changes: the control plane diffs the view against the one
//                      before (history) and sends the delta; the server parses it, checks the base,
//                      applies it to its view (primary: a copy) and updates the index in place in the
//                      worker and the UDP thread (each on its own copy).
//   resync             the full view in the compact encoding (a server that fell behind).
//
// Reported per size: bytes per server per publish, the control plane's render time, the DNS server's
// parse + index time (one thread; a server runs the index step twice), heap of one view and of one
// index. Ratios: before / after. The machine is shared: the load average is recorded.
import { loadavg } from 'node:os';
import { buildViewIndex, type Authority } from '../dns/answer/view-index.ts';
import { applyViewDelta, skeletonOf } from '../dns/server/engine.ts';
import { applyPackedChanges, packView, withTables } from '../dns/packed/packed-view.ts';
import { decodeViewChange } from '../dns/view-changes.ts';
import { parseView } from '../dns/view-source.ts';
import { DnsViewHistory } from '../api/views/dns-history.ts';
import { encodeDiff, toCompactView } from '../model/view-codec.ts';
import type { DnsView, OriginView, WeightMap } from '../model/views.ts';
import { parseCidr } from '../model/primitives.ts';
import { collectGarbage } from '../lib/collect-garbage.ts';
import { runToEnd } from '../lib/steps.ts';
import { seededRandom } from '../lib/prng.ts';
import { recordResult } from './lib/results.ts';
import { runRealPath } from './scale/real-path.ts';
import { childPids, rssBytes } from '../test/helpers/rss.ts';
import { cidrOf, learnedNetworks, makeView, mapPool, origins, startServedDns } from './lib/synthetic-view.ts';
import { DnsConfig } from '../dns/config.ts';
import { pino } from 'pino';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, freeServerPort } from '../test/helpers/ports.ts';
import { startSluice } from '../test/helpers/sluice-process.ts';
import { waitFor } from '../test/helpers/wait.ts';
import { startViewFeed } from './lib/view-feed.ts';

const AUTHORITY: Authority = { primaryNs: undefined, hostmaster: undefined, nameservers: [], soaTtl: 3600, nsTtl: 3600, negativeTtl: 30, refresh: 3600, retry: 600, expire: 1209600 };
export const SIZES: Record<string, number> = { '10k': 10_000, '100k': 100_000, '1m': 1_000_000 };
function ms(f: () => void): number {
  const t = performance.now();
  f();
  return Math.round((performance.now() - t) * 10) / 10;
}

/** Live JavaScript heap plus typed arrays' backing stores (the learned tables live there), after a full GC. */
function heapMb(): number {
  collectGarbage();
  const m = process.memoryUsage();
  return (m.heapUsed + m.arrayBuffers) / 1e6;
}

/** The next publish's subnets: `changed` of them get another weight map, 0.1 % leave, 0.1 % arrive. */
export function nextSubnets(s1: Record<string, WeightMap>, n: number, changed: number, rand: () => number, pool: WeightMap[]): Record<string, WeightMap> {
  const s2: Record<string, WeightMap> = { ...s1 };
  const keys = Object.keys(s2);
  // keys.length, not n: the aggregates repeat (cidrOf), so there are fewer distinct keys than n.
  for (let k = 0; k < n * changed; k++) s2[keys[Math.floor(rand() * keys.length)]!] = pool[Math.floor(rand() * pool.length)]!;
  for (let k = 0; k < n * 0.001; k++) delete s2[keys[Math.floor(rand() * keys.length)]!];
  for (let k = 0; k < n * 0.001; k++) s2[cidrOf(n + k)] = pool[k % pool.length]!;
  return s2;
}

async function one(label: string, n: number, changed: number) {
  const rand = seededRandom(15);
  const os = origins();
  const pool = mapPool(rand, os.map((o) => o.id));
  const h0 = heapMb();
  const v1 = makeView(n, rand, pool, os);
  const viewHeap = heapMb() - h0;
  // The next publish: `changed` of the subnets get another weight map, 0.1 % leave, 0.1 % arrive.
  const s2 = nextSubnets(v1.zones[0]!.records[0]!.subnets, n, changed, rand, pool);
  const v2: DnsView = { ...v1, version: 'v2', seq: 2, weights_version: 2, zones: [{ zone: 'example.com', records: [{ ...v1.zones[0]!.records[0]!, subnets: s2 }] }] };

  // Before: the whole view per publish.
  let fullJson = '';
  const renderFull = ms(() => (fullJson = JSON.stringify(v2)));
  let parsed: DnsView | null = null;
  const parseFull = ms(() => (parsed = parseView(JSON.parse(fullJson), 'bench')));
  const h1 = heapMb();
  let index1 = buildViewIndex(v1, AUTHORITY, 0);
  const indexHeap = heapMb() - h1;
  const buildIndex = ms(() => void buildViewIndex(parsed!, AUTHORITY, 0));
  parsed = null;
  fullJson = '';

  // After: the delta.
  const history = new DnsViewHistory();
  history.record(v1);
  let deltaJson = '';
  const renderDelta = ms(() => {
    history.record(v2);
    const since = history.since('v1', 'v2');
    if (since.kind !== 'delta') throw new Error('expected a delta');
    deltaJson = JSON.stringify({ kind: 'delta', from: 'v1', version: 'v2', seq: 2, weights_version: 2, records: encodeDiff(runToEnd(since.diff())) });
  });
  let received: ReturnType<typeof decodeViewChange> | null = null;
  // The primary: parse and check the delta, apply it to the view it holds (packed), in place.
  let primary = packView(v1);
  const own = structuredClone(v1);
  const parseDelta = ms(() => {
    received = decodeViewChange(JSON.parse(deltaJson), primary.view, 'bench');
    primary = applyPackedChanges(primary, received.delta!.changes, received.delta!.header);
  });
  // A worker's (or UDP thread's) own copy and index, updated in place.
  const config = DnsConfig.parse({ view_file: 'x.json' });
  const log = pino({ level: 'silent' });
  // The delta's way from the primary to a worker (cluster IPC: JSON) and on to its UDP thread
  // (postMessage: a structured clone), as command.ts and udp-batched/start.ts send it.
  const ipc = ms(() => void structuredClone(JSON.parse(JSON.stringify({ type: 'sluice-dns-view-delta', delta: withTables(received!.delta!, primary) }))));
  const updateIndex = ms(() => void (index1 = applyViewDelta(skeletonOf(own), index1, received!.delta!, config, log)!.index));
  if (index1.version !== 'v2') throw new Error('index not updated');

  // Resync: the compact full view.
  let compactJson = '';
  const renderCompact = ms(() => (compactJson = JSON.stringify({ kind: 'full', reason: 'unknown_base', version: 'v2', seq: 2, weights_version: 2, view: toCompactView(v2) })));
  const parseCompact = ms(() => void decodeViewChange(JSON.parse(compactJson), null, 'bench'));

  const r = {
    subnets: n,
    changed_share: changed,
    bytes_full: Buffer.byteLength(JSON.stringify(v2)),
    bytes_delta: Buffer.byteLength(deltaJson),
    bytes_compact_full: Buffer.byteLength(compactJson),
    api_render_full_ms: renderFull,
    api_render_delta_ms: renderDelta,
    api_render_compact_ms: renderCompact,
    dns_parse_full_ms: parseFull,
    dns_parse_delta_ms: parseDelta,
    dns_parse_compact_ms: parseCompact,
    dns_index_build_ms: buildIndex,
    dns_index_update_ms: updateIndex,
    dns_ipc_delta_ms: ipc,
    /** One DNS server per publish: parse once, index in the worker and in its UDP thread (before: the view's IPC not counted). */
    dns_server_before_ms: Math.round(parseFull + 2 * buildIndex),
    dns_server_after_ms: Math.round(parseDelta + ipc + 2 * updateIndex),
    heap_view_mb: Math.round(viewHeap),
    heap_index_mb: Math.round(indexHeap),
  };
  process.stdout.write(`${label}: ${JSON.stringify(r)}\n`);
  return r;
}

/** The real loop (bench/scale/real-path.ts) at `size` with `servers` sluice dns processes following the API. */
async function realPath(size: string, servers: number) {
  const sizes: Record<string, { subnets: number; edges: number; origins: number }> = { '10k': { subnets: 10_000, edges: 20, origins: 10 }, '50k': { subnets: 50_000, edges: 50, origins: 20 } };
  const s = sizes[size];
  if (!s) throw new Error(`--real: unknown size ${size} (${Object.keys(sizes).join(', ')})`);
  const r = await runRealPath({ ...s, budget: 1000, dnsServers: servers, queries: 2000, cycles: 4, log: (l) => process.stderr.write(`  ${l}\n`) });
  const steady = r.cycles.slice(1);
  const med = (f: (c: (typeof steady)[number]) => number) => {
    const xs = steady.map(f).sort((a, b) => a - b);
    return xs[Math.floor(xs.length / 2)]!;
  };
  return {
    size,
    dns_servers: servers,
    view_subnets: r.dns.view_subnets,
    propagate_ms_median: med((c) => c.propagate_ms),
    propagate_ms: r.cycles.map((c) => c.propagate_ms),
    view_bytes_full: r.cycles.map((c) => c.view_bytes),
    view_bytes_delta: r.cycles.map((c) => c.view_delta_bytes),
    views_by_kind: r.dns.views_by_kind,
    dns_rss_mb_each: r.dns.rss_mb_each,
    answers: r.answers,
  };
}

/**
 * One `sluice dns` (primary + one worker with its UDP thread, as deployed with a metrics listener) on
 * a view of `n` learned subnets from a file: its RSS once it serves, then dnsperf at 10k qps with ECS
 * (10.1.2.0/24, learned) for the answer latency.
 */
async function servedRss(n: number) {
  const served = await startServedDns(n);
  try {
    const perProcessMb = [served.pid, ...childPids(served.pid)].map((pid) => Math.round(rssBytes(pid) / 1e6));
    const m = await served.measure(5);
    return { subnets: n, indexed: served.indexed, ready_ms: served.readyMs, rss_mb: served.rssMb, rss_mb_per_process: perProcessMb, p50_ms: m.p50_ms, p99_ms: m.p99_ms, qps: m.qps, lost: m.lost };
  } finally {
    await served.stop();
  }
}

/** CPU ms (user + system, every thread) of one process so far, from /proc (clock ticks of 10 ms). */
/** The threads of a serving process, by what they do: its main thread, its batched UDP thread (named by it), the rest (V8's GC helpers, libuv). */
const THREAD_KINDS = ['main', 'udp', 'other'] as const;

/**
 * CPU ms (user + system) of one process per kind of thread, from each thread's schedstat (nanoseconds:
 * /proc/PID/stat counts 10 ms ticks, as coarse as a delta's whole cost).
 */
function threadCpuMs(pid: number): number[] {
  const out = [0, 0, 0];
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      const ns = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      out[Number(tid) === pid ? 0 : comm === 'sluice-dns-udp' ? 1 : 2]! += ns / 1e6;
    } catch {
      /* the thread ended meanwhile */
    }
  }
  return out;
}

/** VmRSS and VmHWM (the peak so far) of one process, MB. */
function rssOf(pid: number): { rss: number; peak: number } {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB$`, 'm').exec(s)?.[1] ?? 0);
    return { rss: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) };
  } catch {
    return { rss: 0, peak: 0 };
  }
}

const IDLE_MS = 6000;
const TAIL_MS = 3000;

/** The SOA serial example.com's server on `port` answers with (over UDP, from the serving thread). */
function soaSerial(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    const done = (f: () => void) => {
      clearTimeout(timer);
      sock.close();
      f();
    };
    const timer = setTimeout(() => done(() => reject(new Error('no SOA answer'))), 1000);
    // id 1, RD 0, one question: example.com SOA IN.
    const q = Buffer.from([0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7, ...Buffer.from('example'), 3, ...Buffer.from('com'), 0, 0, 6, 0, 1]);
    sock.on('message', (m) => {
      // Header, the question echoed, then the answer's SOA: name (a pointer), type, class, TTL, RDLENGTH, RDATA ending in 5 uint32s, serial first.
      const at = q.length;
      if (m.readUInt16BE(6) < 1 || (m[at]! & 0xc0) !== 0xc0) return done(() => reject(new Error('no SOA in the answer')));
      const rdEnd = at + 12 + m.readUInt16BE(at + 10);
      done(() => resolve(m.readUInt32BE(rdEnd - 20)));
    });
    sock.send(q, port, '127.0.0.1');
  });
}

/**
 * One real `sluice dns` (primary + one worker with its UDP thread, as deployed with a metrics
 * listener) following a loopback control plane (bench/lib/view-feed.ts: the API's bodies, no store)
 * on a view of `n` learned subnets: the first full view (its RSS peak per process), then `deltas`
 * publishes each changing `changed` of the subnets, each timed from the publish to the server
 * answering from it (its UDP thread's SOA serial, polled every 50 ms) and its CPU per process (all
 * threads, /proc) over that time plus 3 s of tail (`--tail` ms: a collection after it; V8's memory
 * reducer runs a full one ~8 s after activity), minus what the server
 * spends idle over as long (measured once before the deltas, 6 s). VIEW_DELTA_PROF=dir: --cpu-prof of every
 * process and thread of the server into dir (written when it stops); VIEW_DELTA_NODE_ARGS: more node flags (--trace-gc).
 */
async function servedDeltas(n: number, changed: number, deltas: number, tailMs = TAIL_MS) {
  const rand = seededRandom(15);
  const os = origins();
  const pool = mapPool(rand, os.map((o) => o.id));
  // Numeric versions: the SOA serial is the version then (how the bench sees which view is served).
  let view: DnsView = { ...makeView(n, rand, pool, os), version: '1' };
  const feed = await startViewFeed(view);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-view-deltas-'));
  const metricsPort = await freePort();
  const dnsPort = await freeServerPort();
  writeFileSync(join(dir, 'dns.yaml'), JSON.stringify({ listen: [`127.0.0.1:${dnsPort}`], api: { url: feed.url, wait: '60s' }, workers: 1, metrics: { listen: `127.0.0.1:${metricsPort}` } }));
  const prof = process.env.VIEW_DELTA_PROF;
  const p = startSluice(['dns', '--config', join(dir, 'dns.yaml')], { env: { SLUICE_LOG_LEVEL: 'warn' }, nodeArgs: [...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []), ...(process.env.VIEW_DELTA_NODE_ARGS?.split(' ').filter(Boolean) ?? [])] });
  // Asked over DNS (the zone's SOA serial is the numeric view version): a scrape of /metrics costs the
  // primary and the worker a few ms each, which at this polling rate was most of an idle window.
  const served = () => soaSerial(dnsPort);
  const until = (version: number, what: string, intervalMs: number) => waitFor(async () => (await served().catch(() => undefined)) === version, { timeoutMs: 600_000, intervalMs, what: `${what}; output: ${p.output().slice(-1000)}` });
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  try {
    const t0 = performance.now();
    await until(1, 'serving the first view', 500);
    const firstMs = Math.round(performance.now() - t0);
    const pids = () => [p.child.pid!, ...childPids(p.child.pid!)];
    await sleep(5000); // its collection after a full view, and the UDP thread's own
    const loaded = pids().map(rssOf);
    // Per process, per kind of thread (THREAD_KINDS), flattened: [primary main, udp, other, worker main, udp, other].
    const cpu = () => pids().flatMap(threadCpuMs);
    const perProcess = (flat: number[]) => flat.reduce((acc, v, i) => ((acc[Math.floor(i / THREAD_KINDS.length)] = (acc[Math.floor(i / THREAD_KINDS.length)] ?? 0) + v), acc), [] as number[]);
    // What the server spends doing nothing (timers, its own metrics), per ms, before the deltas: per
    // thread kind the lowest of three windows, since a collection V8 runs late after the first view
    // (its memory reducer) in one window made the idle rate 3-4x too high and the deltas' CPU ~30 ms low.
    let idleRate: number[] = [];
    for (let w = 0; w < 3; w++) {
      const c0 = cpu();
      await sleep(IDLE_MS / 3);
      const rate = cpu().map((c, i) => (c - c0[i]!) / (IDLE_MS / 3));
      idleRate = w === 0 ? rate : idleRate.map((r, i) => Math.min(r, rate[i]!));
    }
    const runs: { wall_ms: number; cpu_ms: number[]; threads_ms: Record<string, number>[] }[] = [];
    for (let k = 0; k < deltas; k++) {
      const s = nextSubnets(view.zones[0]!.records[0]!.subnets, n, changed, rand, pool);
      const v = k + 2;
      view = { ...view, version: String(v), seq: v, weights_version: v, zones: [{ zone: 'example.com', records: [{ ...view.zones[0]!.records[0]!, subnets: s }] }] };
      const release = feed.publish(view);
      const before = cpu();
      const t = performance.now();
      release();
      await until(v, `serving view ${v}`, 50);
      const wall = performance.now() - t;
      // The tail: whatever the delta leaves to do after it is served (a collection of its garbage).
      await sleep(tailMs);
      const span = performance.now() - t;
      const used = cpu().map((c, i) => c - before[i]! - idleRate[i]! * span);
      const threads = perProcess(used).map((_, p) => Object.fromEntries(THREAD_KINDS.map((k, t) => [k, Math.round(used[p * THREAD_KINDS.length + t]!)])));
      runs.push({ wall_ms: Math.round(wall), cpu_ms: perProcess(used).map((c) => Math.max(0, Math.round(c))), threads_ms: threads });
      process.stderr.write(`  delta ${v}: ${JSON.stringify(runs.at(-1))}\n`);
    }
    const end = pids().map(rssOf);
    const total = runs.map((r) => r.cpu_ms.reduce((a, b) => a + b, 0)).sort((a, b) => a - b);
    return {
      subnets: n,
      changed_share: changed,
      tail_ms: tailMs,
      delta_bytes: feed.bytes.delta,
      full_bytes: feed.bytes.full,
      first_view_ms: firstMs,
      idle_cpu_ms_per_s: perProcess(idleRate).map((r) => Math.round(r * 1000)),
      thread_kinds: THREAD_KINDS,
      rss_mb_loaded: loaded.map((x) => x.rss),
      rss_mb_peak: end.map((x) => x.peak),
      rss_mb_end: end.map((x) => x.rss),
      deltas: runs,
      cpu_ms_per_delta_median: total[Math.floor(total.length / 2)]!,
      cpu_ms_per_delta: total,
      // Per process (primary, worker), per kind of thread: the median over the deltas.
      threads_ms_median: runs[0]?.threads_ms.map((_, p) => Object.fromEntries(THREAD_KINDS.map((k) => [k, runs.map((r) => r.threads_ms[p]![k]!).sort((a, b) => a - b)[Math.floor(runs.length / 2)]!]))),
    };
  } finally {
    await p.stop(10_000);
    if (process.env.VIEW_DELTA_OUT) writeFileSync(process.env.VIEW_DELTA_OUT, p.output());
    await feed.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `--sizes` and `--changed` of a bench over view sizes (this one, view-render): `one` per size, in turn, with the load average before. */
export async function perSize<R>(args: string[], one: (label: string, n: number, changed: number) => Promise<R>) {
  const arg = (name: string, dflt: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1]! : dflt;
  };
  const sizes = arg('--sizes', '100k,1m').split(',').filter(Boolean);
  const changed = Number(arg('--changed', '0.02'));
  const load = loadavg()[0]!;
  const results: Record<string, R> = {};
  for (const s of sizes) results[s] = await one(s, SIZES[s] ?? Number(s), changed);
  return { arg, sizes, load, results };
}

export async function main(args: string[]): Promise<void> {
  const { arg, sizes, load, results } = await perSize(args, one);
  const realSize = arg('--real', '');
  const real = realSize ? await realPath(realSize, Number(arg('--dns', '10'))) : null;
  const rssSizes = arg('--rss', '').split(',').filter(Boolean);
  const served: Record<string, Awaited<ReturnType<typeof servedRss>>> = {};
  for (const size of rssSizes) served[size] = await servedRss(SIZES[size] ?? Number(size));
  const servedSize = arg('--served-deltas', '');
  const deltas = servedSize ? await servedDeltas(SIZES[servedSize] ?? Number(servedSize), Number(arg('--changed', '0.02')), Number(arg('--deltas', '5')), Number(arg('--tail', String(TAIL_MS)))) : null;
  if (deltas) process.stdout.write(`served deltas ${servedSize}: ${JSON.stringify(deltas)}\n`);
  if (sizes.length === 0) return;
  const big = results[sizes.at(-1)!]!;
  const ratio = (a: number, b: number) => Math.round((a / Math.max(b, 0.1)) * 10) / 10;
  recordResult(
    'view-delta',
    {
      comparison: 'one publish changing 2 % of the learned subnets: full view per server (GET /dns/view: serialise, download, parse, index twice) vs delta (GET /dns/view/changes: diff, download, apply, index updated in place twice)',
      ratios: { bytes_full_over_delta: ratio(big.bytes_full, big.bytes_delta), dns_server_before_over_after: ratio(big.dns_server_before_ms, big.dns_server_after_ms), bytes_full_over_compact: ratio(big.bytes_full, big.bytes_compact_full) },
      details: { sizes: results, real, served, served_deltas: deltas, loadavg_1m: load, loadavg_end: loadavg()[0] },
    },
    sizes
      .map((s) => {
        const x = results[s]!;
        return `${s}: ${(x.bytes_delta / 1e6).toFixed(2)} MB delta vs ${(x.bytes_full / 1e6).toFixed(1)} MB full per server (compact resync ${(x.bytes_compact_full / 1e6).toFixed(1)} MB); DNS server ${x.dns_server_after_ms} ms vs ${x.dns_server_before_ms} ms (parse ${x.dns_parse_delta_ms} vs ${x.dns_parse_full_ms}, IPC ${x.dns_ipc_delta_ms} vs not counted, index ${x.dns_index_update_ms} vs ${x.dns_index_build_ms} ×2); API ${x.api_render_delta_ms} vs ${x.api_render_full_ms} ms; heap view ${x.heap_view_mb} MB + index ${x.heap_index_mb} MB`;
      })
      .join('; ') +
      Object.entries(served).map(([k, x]) => `; one sluice dns serving ${k} (primary + worker + UDP thread, ${x.indexed} valid networks): RSS ${x.rss_mb} MB (${x.rss_mb_per_process.join(' + ')}), ready in ${x.ready_ms} ms, at 10k qps ECS p50 ${x.p50_ms} ms p99 ${x.p99_ms} ms (lost ${x.lost})`).join('') +
      (deltas ? `; one sluice dns following ${servedSize} deltas (${deltas.changed_share * 100} % changed, ${(deltas.delta_bytes / 1e6).toFixed(2)} MB each): CPU per delta, all processes and threads, ${deltas.cpu_ms_per_delta_median} ms median (${deltas.cpu_ms_per_delta.join('/')}; primary/worker ${deltas.deltas.map((d) => d.cpu_ms.join('+')).join(', ')}), publish -> served ${deltas.deltas.map((d) => d.wall_ms).join('/')} ms; first full view served in ${deltas.first_view_ms} ms, peak RSS primary ${deltas.rss_mb_peak[0]} + worker ${deltas.rss_mb_peak[1]} MB, after the deltas ${deltas.rss_mb_end.join(' + ')} MB` : '') +
      (real ? `; real loop ${real.size} (${real.view_subnets} view subnets): publish -> all ${real.dns_servers} DNS servers serving in ${real.propagate_ms_median} ms median (${real.propagate_ms.join('/')}), delta ${real.view_bytes_delta.map((b) => (b / 1e3).toFixed(0)).join('/')} kB vs full ${(real.view_bytes_full.at(-1)! / 1e6).toFixed(2)} MB per server, views ${JSON.stringify(real.views_by_kind)}, DNS RSS max ${Math.max(...real.dns_rss_mb_each)} MB` : '') +
      `; load ${load.toFixed(1)}`,
  );
}
