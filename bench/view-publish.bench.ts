// `npm run bench -- view-publish [--sizes 100k,1m] [--changed 0.02]`: issue 15, one publish through the
// control plane as it runs: the scheduler's publishWeights into a real SQLite store (file, WAL, its
// publish worker) and then the DNS view's delta rendered by the route's cache (api/routes/views.ts
// viewCache: readWorld, build + version, history diff, delta encoded), on
//   leader    the replica that published (the store's own publish is known to it), and
//   follower  a second store on the same file (an HA replica that did not publish: it reads the body).
// Same synthetic subnets as view-delta/view-render (N /24s and /48s, 5,000 distinct weight maps, 2 %
// changed, 0.1 % added and removed); the published tables are fresh objects per subnet, as the
// scheduler's splitWeightsSteps builds them. CPU time (process.cpuUsage) beside wall time, the longest
// event-loop stall, and the load average: the machine is shared.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { viewCache } from '../api/routes/views.ts';
import { openSqliteStore } from '../api/store/sqlite.ts';
import type { WeightMap } from '../model/index.ts';
import { seededRandom } from '../lib/prng.ts';
import { recordResult } from './lib/results.ts';
import { cidrOf, mapPool } from './lib/synthetic-view.ts';
import { nextSubnets, perSize } from './view-delta.bench.ts';
import { stalls } from './view-render.bench.ts';

/** As the scheduler publishes them: one fresh map per subnet. */
const fresh = (s: Record<string, WeightMap>) => {
  const out: Record<string, WeightMap> = {};
  for (const k in s) out[k] = { ...s[k]! };
  return out;
};

async function one(label: string, n: number, changed: number) {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-view-publish-'));
  const leader = openSqliteStore(dir);
  const follower = openSqliteStore(dir);
  try {
    const lb = await leader.createLoadBalancer({ name: 'app', dns: { zone: 'example.com', hostname: 'app.example.com', ttl: 20, answers: 1 }, listeners: [], policy: 'latency', max_latency_ms: 300, min_samples: 5, max_shift: 1, deadband: 0, gain: 0.5, enabled: true });
    const ids: string[] = [];
    for (let i = 0; i < 200; i++) ids.push((await leader.createOrigin(lb.id, { name: `origin-${i}`, region: `r${i % 20}`, addresses: [`10.200.${i >> 8}.${i & 255}`], port: 443, admin_state: 'active', static_weight: 1, priority: 0, location: { lat: (i % 180) - 90, lon: ((i * 7) % 360) - 180 }, target_rps: 1000, max_rps: 1200 })).id);
    const rand = seededRandom(15);
    const pool = mapPool(rand, ids);
    const s1: Record<string, WeightMap> = {};
    for (let i = 0; i < n; i++) s1[cidrOf(i)] = pool[Math.floor(rand() * pool.length)]!;
    const s2 = fresh(nextSubnets(s1, n, changed, rand, pool));
    const decision = { load_balancer_id: lb.id, reason: 'optimize' as const };
    await leader.publishWeights(lb.id, { subnets: fresh(s1) }, decision);
    const leaderViews = viewCache(leader);
    const followerViews = viewCache(follower);
    const first = await stalls(async () => (await leaderViews.dnsChanges(null)).json.length);
    const followerFirst = await stalls(async () => (await followerViews.dnsChanges(null)).json.length);
    const v1 = (await leaderViews.dnsView()).version;
    if ((await followerViews.dnsView()).version !== v1) throw new Error('leader and follower render different versions of the same content');

    const publish = await stalls(() => leader.publishWeights(lb.id, { subnets: s2 }, decision));
    const render = await stalls(async () => (await leaderViews.dnsChanges(v1)).json);
    if (!render.value.startsWith('{"kind":"delta"')) throw new Error(`leader: expected a delta, got ${render.value.slice(0, 80)}`);
    const followerRender = await stalls(async () => (await followerViews.dnsChanges(v1)).json);
    if (!followerRender.value.startsWith('{"kind":"delta"')) throw new Error(`follower: expected a delta, got ${followerRender.value.slice(0, 80)}`);
    const v2 = (await leaderViews.dnsView()).version;
    const versionsEqual = v2 === (await followerViews.dnsView()).version && render.value === followerRender.value;
    if (!versionsEqual) throw new Error('leader and follower rendered different deltas or versions');
    const strip = <T extends { value: unknown }>({ value: _, ...x }: T): Omit<T, 'value'> => x;
    const r = {
      subnets: n,
      publish: strip(publish),
      leader_render: strip(render),
      follower_render: strip(followerRender),
      publish_to_delta_leader: { wall_ms: round(publish.wall_ms + render.wall_ms), cpu_ms: round(publish.cpu_ms + render.cpu_ms) },
      delta_bytes: render.value.length,
      first_render: { leader: strip(first), follower: strip(followerFirst) },
      versions_equal: versionsEqual,
    };
    process.stdout.write(`${label}: ${JSON.stringify(r)}\n`);
    return r;
  } finally {
    await leader.close();
    await follower.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const round = (x: number) => Math.round(x * 10) / 10;

export async function main(args: string[]): Promise<void> {
  const { sizes, load, results } = await perSize(args, one);
  const big = results[sizes.at(-1)!]!;
  const ratio = (a: number, b: number) => Math.round((a / Math.max(b, 0.1)) * 10) / 10;
  recordResult(
    'view-publish',
    {
      comparison: "one publish (2 % changed) through a real SQLite store and the route's cache: the DNS view delta rendered by the replica that published (leader) vs by a replica that did not (follower, reads and parses the body)",
      ratios: { render_cpu_follower_over_leader: ratio(big.follower_render.cpu_ms, big.leader_render.cpu_ms) },
      details: { sizes: results, loadavg_1m: load, loadavg_end: loadavg()[0] },
    },
    sizes
      .map((s) => {
        const x = results[s]!;
        const f = (y: { wall_ms: number; cpu_ms: number }) => `${y.wall_ms} ms wall / ${y.cpu_ms} ms CPU`;
        return `${s}: publish (store commit) ${f(x.publish)}; delta rendered: leader ${f(x.leader_render)} (longest stall ${x.leader_render.max_stall_ms} ms), follower ${f(x.follower_render)}; publish -> delta on the leader ${f(x.publish_to_delta_leader)}; delta ${(x.delta_bytes / 1e6).toFixed(2)} MB`;
      })
      .join('; ') + `; load ${load.toFixed(1)}`,
  );
}
