// A synthetic DNS view of n learned subnets (IPv4 /24s and IPv6 /48s, with coarse aggregates holding
// others; weight maps drawn from a pool over 200 origins) and one `sluice dns` serving it from a file:
// for the benchmarks that measure a DNS server at view sizes up to 1M (view-delta, dns-view-size).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DnsView, OriginView, WeightMap } from '../../model/views.ts';
import { parseCidr } from '../../model/primitives.ts';
import { seededRandom } from '../../lib/prng.ts';
import { freePort, freeServerPort } from '../../test/helpers/ports.ts';
import { treeRssBytes } from '../../test/helpers/rss.ts';
import { startSluice, type SluiceProcess } from '../../test/helpers/sluice-process.ts';
import { waitFor } from '../../test/helpers/wait.ts';
import { dnsperf, type Measurement } from './dnsperf.ts';

const ORIGINS = 200;
const MAP_POOL = 5000;

export function origins(): OriginView[] {
  return Array.from({ length: ORIGINS }, (_, i) => ({
    id: `or_${i.toString().padStart(4, '0')}`,
    name: `origin-${i}`,
    region: `r${i % 20}`,
    addresses: [`10.200.${i >> 8}.${i & 255}`],
    port: 443,
    location: { lat: (i % 180) - 90, lon: ((i * 7) % 360) - 180 },
    admin_state: 'active' as const,
    healthy: true,
    static_weight: 1,
    priority: 0,
    health_check: null,
  }));
}

export function mapPool(rand: () => number, ids: string[]): WeightMap[] {
  return Array.from({ length: MAP_POOL }, () => {
    const k = 1 + Math.floor(rand() * 3);
    const m: WeightMap = {};
    let left = 20;
    for (let j = 0; j < k; j++) {
      const id = ids[Math.floor(rand() * ids.length)]!;
      const share = j === k - 1 ? left : 1 + Math.floor(rand() * (left - (k - j - 1)));
      m[id] = (m[id] ?? 0) + share / 20;
      left -= share;
      if (left <= 0) break;
    }
    return m;
  });
}

export function cidrOf(i: number): string {
  // Alternate /24s (v4) and /48s (v6); every 100th a coarse aggregate (a /16, or every other one a /32)
  // that holds others. (Until 2026-11-29 the /48s and /32s had host bits set — 2001:db8:X:Y::/48 — so
  // every IPv6 subnet was skipped as invalid and a "1M" view indexed ~0.5M networks.)
  const hi = (0xd00 + (i >> 16)).toString(16);
  if (i % 100 === 99) return i % 200 === 199 ? `2001:${hi}::/32` : `${10 + ((i >> 16) & 63)}.${(i >> 8) & 255}.0.0/16`;
  return i % 2 ? `${10 + ((i >> 16) & 63)}.${(i >> 8) & 255}.${i & 255}.0/24` : `2001:${hi}:${(i & 0xffff).toString(16)}::/48`;
}

export function makeView(n: number, rand: () => number, pool: WeightMap[], os: OriginView[]): DnsView {
  const subnets: Record<string, WeightMap> = {};
  for (let i = 0; i < n; i++) subnets[cidrOf(i)] = pool[Math.floor(rand() * pool.length)]!;
  return { version: 'v1', seq: 1, weights_version: 1, zones: [{ zone: 'example.com', records: [{ load_balancer_id: 'lb_1', hostname: 'app.example.com', ttl: 20, answers: 1, policy: 'latency', max_latency_ms: 300, origins: os, subnets }] }] };
}

/** Networks of the view an index holds (valid CIDRs, distinct): what the server really serves. */
export function learnedNetworks(view: DnsView): number {
  return Object.keys(view.zones[0]!.records[0]!.subnets).filter((c) => parseCidr(c) !== null).length;
}

export interface ServedDns {
  pid: number;
  port: number;
  /** Valid networks of the view (what the index holds). */
  indexed: number;
  readyMs: number;
  /** RSS of the whole tree (primary, worker and its UDP thread) once serving. */
  rssMb: number;
  /** dnsperf at 10k qps with ECS 10.1.2.0/24 (a learned subnet) for `seconds`. */
  measure(seconds: number): Promise<Measurement>;
  stop(): Promise<void>;
}

/**
 * One `sluice dns` (primary + one worker with its UDP thread, as deployed with a metrics listener) on a
 * seeded view of `n` learned subnets from a file, once it serves.
 */
export async function startServedDns(n: number): Promise<ServedDns> {
  const rand = seededRandom(15);
  const os = origins();
  const view = makeView(n, rand, mapPool(rand, os.map((o) => o.id)), os);
  view.zones[0]!.records[0]!.subnets['10.1.2.0/24'] = { [os[0]!.id]: 0.5, [os[1]!.id]: 0.5 };
  const dir = mkdtempSync(join(tmpdir(), 'sluice-view-served-'));
  let proc: SluiceProcess | null = null;
  try {
    writeFileSync(join(dir, 'view.json'), JSON.stringify(view));
    const port = await freeServerPort();
    const metricsPort = await freePort();
    writeFileSync(join(dir, 'dns.yaml'), `listen: ["127.0.0.1:${port}"]\nview_file: view.json\nworkers: 1\nmetrics: { listen: "127.0.0.1:${metricsPort}" }\n`);
    const t = performance.now();
    const p = (proc = startSluice(['dns', '--config', join(dir, 'dns.yaml')], { env: { SLUICE_LOG_LEVEL: 'warn' } }));
    await waitFor(() => p.output().includes('sluice dns ready'), { timeoutMs: 600_000, intervalMs: 500, what: `sluice dns ready; output: ${p.output().slice(-1000)}` });
    const readyMs = Math.round(performance.now() - t);
    await new Promise((r) => setTimeout(r, 3000)); // the UDP thread's index (built beside the worker's)
    const pid = p.child.pid!;
    const queries = join(dir, 'queries.txt');
    writeFileSync(queries, 'app.example.com A\n'.repeat(1000));
    return {
      pid,
      port,
      indexed: learnedNetworks(view),
      readyMs,
      rssMb: Math.round(treeRssBytes(pid) / 1e6),
      measure: (seconds) => dnsperf({ port, pid }, queries, seconds, { ecs: true, rate: 10_000 }),
      async stop() {
        await p.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await proc?.stop();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
