// `npm run bench -- view-render [--sizes 100k,1m] [--changed 0.02]`: issue 15, the control plane's DNS
// view render as the event loop sees it. The control plane runs the scheduler loop and the API in one
// process, so an API stall is the loop's stall (and its lease renewal's). Same synthetic views and
// publish as view-delta (N /24s and /48s, 5,000 distinct weight maps, 2 % changed).
//
//   before (the peer)  each piece as it ran until 2026-11-29, synchronously: the store's JSON.parse of
//                      the weights body (readWorld), build + content hash (JSON.stringify of the whole
//                      view), diff against the previous view (history), encode the delta, and for the
//                      full answers the whole view's JSON (GET /dns/view) and the compact view's (resync).
//                      Each piece is one stall of the loop as long as the piece.
//   after              the same renders through the route's cache (api/routes/views.ts viewCache) with
//                      the pieces in steps (lib/steps.ts runPaced, 20 ms slices), a setImmediate ticker
//                      beside them recording the longest gap between two turns of the loop (the stall).
//
// The "after" renders are fed the store's snapshot with the weights body as stored (text), as readWorld
// now returns it: the cache parses it in steps too (lib/json-steps.ts parseJsonObjectSteps).
// CPU time (process.cpuUsage) beside wall time: the machine is shared (load average recorded).
import { loadavg } from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import { viewCache } from '../api/routes/views.ts';
import type { Store, StoreSnapshot } from '../api/store/store.ts';
import { buildDnsView, contentVersion, type WorldSnapshot } from '../api/views/build.ts';
import { DnsViewHistory } from '../api/views/dns-history.ts';
import { diffViews, encodeDiff, toCompactView } from '../model/view-codec.ts';
import type { LoadBalancer, LoadBalancerWeights, Origin, OriginView, WeightMap } from '../model/index.ts';
import { seededRandom } from '../lib/prng.ts';
import { recordResult } from './lib/results.ts';
// The view-delta bench's views (same cidrs, same draws from the same seed).
import { cidrOf, mapPool, origins } from './lib/synthetic-view.ts';
import { nextSubnets, perSize } from './view-delta.bench.ts';

const LB = { id: 'lb_1', name: 'app', enabled: true, listeners: [], policy: 'latency', dns: { zone: 'example.com', hostname: 'app.example.com', ttl: 20, answers: 1 }, max_latency_ms: 300 } as unknown as LoadBalancer;

/** The store's snapshot: the weights row's body as stored (JSON text), parsed by the route's cache. */
function storedWorld(seq: number, os: OriginView[], body: string): StoreSnapshot {
  const stored: Origin[] = os.map(({ healthy: _, ...o }) => ({ ...o, load_balancer_id: LB.id }) as unknown as Origin);
  return { seq, loadBalancers: [LB], origins: stored, health: [], edgeHealth: [], weights: [{ load_balancer_id: LB.id, version: seq, published_at: '', body }] };
}

/** The snapshot parsed in one piece, as readWorld did until 2026-11-29. */
function parsedWorld(w: StoreSnapshot): WorldSnapshot {
  return { ...w, weights: new Map(w.weights.map(({ body, ...row }) => [row.load_balancer_id, { ...row, ...(JSON.parse(body!) as Pick<LoadBalancerWeights, 'edges' | 'subnets'>) }])) };
}

/** Wall and CPU ms of one synchronous piece (its wall time is the loop's stall). */
function timed<T>(f: () => T): { value: T; wall_ms: number; cpu_ms: number } {
  const c = process.cpuUsage();
  const t = performance.now();
  const value = f();
  const wall = performance.now() - t;
  const cpu = process.cpuUsage(c);
  return { value, wall_ms: round(wall), cpu_ms: round((cpu.user + cpu.system) / 1000) };
}

const round = (x: number) => Math.round(x * 10) / 10;

/** The longest gap between two turns of the event loop while `f` runs (a setImmediate ticker beside it). */
export async function stalls<T>(f: () => Promise<T>): Promise<{ value: T; wall_ms: number; cpu_ms: number; max_stall_ms: number; max_stall_cpu_ms: number; turns: number; stalls_over_50_ms: number[]; max_gc_ms: number }> {
  let last = performance.now();
  let max = 0;
  let turns = 0;
  let running = true;
  const long: number[] = [];
  // Garbage collection pauses, to tell them from work that was not paced (a stall is either).
  let maxGc = 0;
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) maxGc = Math.max(maxGc, e.duration);
  });
  gc.observe({ entryTypes: ['gc'] });
  // The process's CPU time during each gap too: on this shared machine a gap's wall time includes the
  // time the thread waited for a core; its CPU time is the stall a quiet machine would see (roughly:
  // the process's other threads, GC helpers, count too).
  let lastCpu = process.cpuUsage();
  let maxCpu = 0;
  const tick = () => {
    const now = performance.now();
    const cpu = process.cpuUsage(lastCpu);
    lastCpu = process.cpuUsage();
    maxCpu = Math.max(maxCpu, (cpu.user + cpu.system) / 1000);
    if (now - last > 50) long.push(round(now - last));
    max = Math.max(max, now - last);
    last = now;
    turns++;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  const c = process.cpuUsage();
  const t = performance.now();
  const value = await f();
  const wall = performance.now() - t;
  const cpu = process.cpuUsage(c);
  running = false;
  max = Math.max(max, performance.now() - last);
  await new Promise((r) => setImmediate(r));
  gc.disconnect();
  return { value, wall_ms: round(wall), cpu_ms: round((cpu.user + cpu.system) / 1000), max_stall_ms: round(max), max_stall_cpu_ms: round(maxCpu), turns, stalls_over_50_ms: long, max_gc_ms: round(maxGc) };
}

async function one(label: string, n: number, changed: number) {
  const rand = seededRandom(15);
  const os = origins();
  const pool = mapPool(rand, os.map((o) => o.id));
  const s1: Record<string, WeightMap> = {};
  for (let i = 0; i < n; i++) s1[cidrOf(i)] = pool[Math.floor(rand() * pool.length)]!;
  const s2 = nextSubnets(s1, n, changed, rand, pool);
  // As the store holds them: the weights' JSON body, parsed per readWorld (one map object per subnet).
  const body1 = JSON.stringify({ edges: {}, subnets: s1 });
  const body2 = JSON.stringify({ edges: {}, subnets: s2 });
  const w1 = storedWorld(1, os, body1);
  const w2 = storedWorld(2, os, body2);
  // Before: each piece in one go.
  const v1 = buildDnsView(parsedWorld(w1));
  const parse = timed(() => parsedWorld(w2));
  const build = timed(() => buildDnsView(parse.value));
  const v2 = build.value;
  const { version: _v, seq: _s, ...v2body } = v2;
  const hash = timed(() => contentVersion(v2body));
  const diff = timed(() => diffViews(v1, v2)!);
  const encode = timed(() => JSON.stringify({ kind: 'delta', records: encodeDiff(diff.value) }));
  const fullJson = timed(() => JSON.stringify(v2));
  const compactJson = timed(() => JSON.stringify(toCompactView(v2)));
  const before = { readworld_parse: parse, build_and_hash: build, of_which_hash: hash, diff, encode_delta: encode, full_json: fullJson, compact_json: compactJson };
  const strip = (x: { wall_ms: number; cpu_ms: number }) => ({ wall_ms: x.wall_ms, cpu_ms: x.cpu_ms });

  // After: the route's cache, paced, fed the two worlds in turn.
  let current = w1;
  const store = { changeSeq: async () => current.seq, readWorld: async () => current } as unknown as Store;
  const views = viewCache(store, new DnsViewHistory());
  const first = await stalls(async () => (await views.dnsChanges(null)).json.length);
  current = w2;
  const delta = await stalls(async () => (await views.dnsChanges(v1.version)).json);
  if (!delta.value.startsWith('{"kind":"delta"')) throw new Error(`expected a delta, got ${delta.value.slice(0, 80)}`);
  const rendered = await views.dnsView();
  if (rendered.version !== v2.version) throw new Error(`paced version ${rendered.version} != ${v2.version}`);
  const full = await stalls(async () => (await views.dnsViewJson()).json.length);
  const resync = await stalls(async () => (await views.dnsChanges('unknown')).json.length);
  const after = { first_render_and_resync: first, publish_delta: { ...delta, value: delta.value.length }, full_json: full, resync_compact: resync };

  const r = {
    subnets: n,
    before: Object.fromEntries(Object.entries(before).map(([k, v]) => [k, strip(v)])),
    before_longest_stall_ms: Math.max(parse.wall_ms, build.wall_ms, diff.wall_ms, encode.wall_ms, fullJson.wall_ms, compactJson.wall_ms),
    before_publish_delta_ms: round(parse.wall_ms + build.wall_ms + diff.wall_ms + encode.wall_ms),
    after,
    after_longest_stall_ms: Math.max(...Object.values(after).map((x) => x.max_stall_ms)),
    versions_equal: rendered.version === v2.version,
  };
  process.stdout.write(`${label}: ${JSON.stringify(r)}\n`);
  return r;
}

export async function main(args: string[]): Promise<void> {
  const { sizes, load, results } = await perSize(args, one);
  const big = results[sizes.at(-1)!]!;
  const ratio = (a: number, b: number) => Math.round((a / Math.max(b, 0.1)) * 10) / 10;
  recordResult(
    'view-render',
    {
      comparison: "the control plane's DNS view render per publish (2 % changed): each piece synchronous (before: build + hash, diff, encode; full and compact JSON) vs paced in 20 ms slices through the route's cache (after): the longest event-loop stall",
      ratios: { longest_stall_before_over_after: ratio(big.before_longest_stall_ms, big.after_longest_stall_ms), publish_delta_stall_before_over_after: ratio(big.before_publish_delta_ms, big.after.publish_delta.max_stall_ms) },
      details: { sizes: results, loadavg_1m: load, loadavg_end: loadavg()[0] },
    },
    sizes
      .map((s) => {
        const x = results[s]!;
        const b = x.before as Record<string, { wall_ms: number; cpu_ms: number }>;
        const p = (k: string) => `${k} ${b[k]!.wall_ms} ms`;
        const a = x.after;
        return `${s}: before, one stall per piece: ${['readworld_parse', 'build_and_hash', 'of_which_hash', 'diff', 'encode_delta', 'full_json', 'compact_json'].map(p).join(', ')}; after (paced): publish delta ${a.publish_delta.wall_ms} ms wall / ${a.publish_delta.cpu_ms} ms CPU, longest stall ${a.publish_delta.max_stall_ms} ms wall, ${a.publish_delta.max_stall_cpu_ms} ms CPU (longest GC pause ${a.publish_delta.max_gc_ms} ms); full JSON longest stall ${a.full_json.max_stall_ms} ms wall / ${a.full_json.max_stall_cpu_ms} ms CPU; resync ${a.resync_compact.max_stall_ms} / ${a.resync_compact.max_stall_cpu_ms} ms; first render ${a.first_render_and_resync.max_stall_ms} / ${a.first_render_and_resync.max_stall_cpu_ms} ms (readWorld's parse now paced, counted in each)`;
      })
      .join('; ') + `; load ${load.toFixed(1)}`,
  );
}
