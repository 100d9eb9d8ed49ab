// Scenario "passive latency learning" (seeds/000's walkthrough): clients in east-us and southeast-asia
// open connections to origins in west-europe and southeast-asia. The origins' agents learn each client
// subnet's RTT from the kernel; the control plane's latency table must show them (within ±10 % of the
// emulated RTT), and `dig` from each client region must answer its lowest-latency origin. Then the
// control plane (and DNS) restart with an empty store: the first answers come from the geolocation
// fallback, then learned routing returns.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { waitFor } from '../../helpers/wait.ts';
import { rttTable, writeLoadChart, type Recorder } from '../measure.ts';
import { rttBetween } from '../scenario.ts';
import { PORTS, type World } from '../world.ts';

const Params = z.strictObject({
  /** client namespace label -> the origin its DNS answers must be, once learned */
  clients: z.record(z.string(), z.strictObject({ expect: z.string(), conns: z.number().int().min(1).default(2) })),
  /** the client region whose subnet's RTTs are checked against the emulated ones (±tolerance) */
  checked: z.string(),
  tolerance: z.number().default(0.1),
  restart: z.boolean().default(true),
  probe_rate: z.number().default(20),
});

interface LatencyRow {
  subnet: string;
  origin_id: string;
  rtt_ms: number;
  samples: number;
}

export function reasonCounts(metricsText: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of metricsText.matchAll(/^sluice_dns_queries_total\{([^}]*)\} ([0-9.e+]+)$/gm)) {
    const reason = /reason="([^"]*)"/.exec(m[1]!)?.[1] ?? '?';
    out[reason] = (out[reason] ?? 0) + Number(m[2]);
  }
  return out;
}

export async function dig(world: World, label: string, name: string): Promise<string[]> {
  const r = await world.line.exec(label, 'dig', [`@${world.coreAddr}`, '-p', String(PORTS.dns), name, 'A', '+short', '+time=2', '+tries=2'], 10_000);
  if (r.code !== 0) throw new Error(`dig from ${label}: exit ${r.code}: ${r.stdout}${r.stderr}`);
  return r.stdout.split('\n').map((l) => l.trim()).filter((l) => /^\d+\.\d+\.\d+\.\d+$/.test(l));
}

export function subnetOf(address: string): string {
  return `${address.split('.').slice(0, 3).join('.')}.0/24`;
}

export async function latencyLearning(world: World, rec: Recorder, outDir: string): Promise<void> {
  const p = Params.parse(world.spec.params);
  const spec = world.spec;
  const hostname = spec.load_balancer.dns!.hostname;
  const originAddr = new Map(spec.origins.map((o) => [o.name, world.addr(o.namespace)]));
  const nameByAddr = new Map(spec.origins.map((o) => [world.addr(o.namespace), o.name]));
  const targets = spec.origins.map((o) => ({ host: world.addr(o.namespace), port: o.port }));
  for (const [label, c] of Object.entries(p.clients)) {
    world.startClient(`pp-${label}`, label, { mode: 'pingpong', targets, conns: c.conns, think_ms: 50, conn_ms: 3000, duration_ms: 180_000, max_requests: 200_000 });
  }
  rec.event('clients open connections to every origin');

  const subnets = Object.keys(p.clients).map((label) => subnetOf(world.addr(label)));
  const latency = async () => (await world.api.get<{ items: LatencyRow[] }>('/api/v1/latency?limit=500')).items;
  const rows = await waitFor(
    async () => {
      const items = await latency();
      const ok = subnets.every((s) => spec.origins.every((o) => items.some((r) => r.subnet === s && r.origin_id === world.ids!.origins[o.name] && r.samples >= 5)));
      return ok ? items : null;
    },
    { timeoutMs: 60_000, intervalMs: 500, what: 'every client subnet learned towards every origin' },
  );
  rec.event('latency table complete');
  const byId = new Map(Object.entries(world.ids!.origins).map(([name, id]) => [id, name]));
  const table = rows
    .filter((r) => subnets.includes(r.subnet))
    .map((r) => {
      const label = Object.keys(p.clients).find((l) => subnetOf(world.addr(l)) === r.subnet)!;
      const origin = spec.origins.find((o) => world.ids!.origins[o.name] === r.origin_id)!;
      return { from: `${label} ${r.subnet}`, to: byId.get(r.origin_id) ?? r.origin_id, configured_ms: rttBetween(spec, label, origin.namespace), measured_ms: r.rtt_ms, source: `control plane /api/v1/latency (${r.samples} samples)` };
    });
  writeFileSync(join(outDir, 'rtt.md'), rttTable(table));
  for (const r of table) rec.number(`rtt_ms ${r.from} -> ${r.to}`, r.measured_ms);
  const checkedSubnet = subnetOf(world.addr(p.checked));
  for (const r of table.filter((x) => x.from.endsWith(checkedSubnet))) {
    const err = Math.abs(r.measured_ms! - r.configured_ms) / r.configured_ms;
    rec.check(`latency: ${r.from} -> ${r.to} within ±${p.tolerance * 100} %`, err <= p.tolerance, `${r.measured_ms!.toFixed(1)} ms learned, ${r.configured_ms} ms emulated (${(err * 100).toFixed(1)} %)`);
  }

  // Learned routing: dig from each client region answers its lowest-latency origin.
  const learnedAnswers = async () => {
    const got: Record<string, string[]> = {};
    for (const label of Object.keys(p.clients)) got[label] = await dig(world, label, hostname);
    return got;
  };
  /** Every client region's first answer is its lowest-latency origin. */
  const routedNearest = (got: Record<string, string[]>) => Object.entries(p.clients).every(([label, c]) => got[label]?.[0] === originAddr.get(c.expect));
  const before = reasonCounts(await world.dnsMetrics());
  const answers = await waitFor(
    async () => {
      const weights = await world.api.get<{ subnets: Record<string, Record<string, number>> }>(`/api/v1/load-balancers/${world.ids!.lb.id}/weights`).catch(() => null);
      if (!weights || !subnets.every((s) => weights.subnets[s])) return null;
      const got = await learnedAnswers();
      return routedNearest(got) ? got : null;
    },
    { timeoutMs: 30_000, intervalMs: 500, what: 'learned DNS answers' },
  ).catch(async () => learnedAnswers());
  const after = reasonCounts(await world.dnsMetrics());
  for (const [label, c] of Object.entries(p.clients)) {
    const got = answers[label]?.[0];
    rec.check(`dns: dig from ${label} answers ${c.expect}`, got === originAddr.get(c.expect), `answered ${got ?? 'nothing'} (${got ? nameByAddr.get(got) : '—'})`);
  }
  rec.check('dns: those answers were learned_latency', (after.learned_latency ?? 0) - (before.learned_latency ?? 0) >= Object.keys(p.clients).length, `learned_latency +${(after.learned_latency ?? 0) - (before.learned_latency ?? 0)}, cidr_mapping +${(after.cidr_mapping ?? 0) - (before.cidr_mapping ?? 0)}, geo_fallback +${(after.geo_fallback ?? 0) - (before.geo_fallback ?? 0)}`);

  if (p.restart) {
    // The whole "Overwatch" restarts: control plane with a new, empty data directory and sluice dns. A
    // probe in the checked region queries 20 times a second throughout; the DNS server's reason
    // counters are sampled every 100 ms to see which answers came first.
    const probe = world.startClient('probe', p.checked, { mode: 'dns', dns: { host: world.coreAddr, port: PORTS.dns }, hostname, sources: [world.addr(p.checked)], port: spec.origins[0]!.port, rate: p.probe_rate, duration_ms: 60_000, max_requests: 5000 });
    const tRestart = rec.event('restart: control plane (empty store) and sluice dns');
    await world.stopProcess('dns');
    await world.stopProcess('control-plane');
    await world.startControlPlane();
    const empty = await latency();
    rec.check('restart: the new control plane starts with an empty latency table', empty.length === 0, `${empty.length} rows`);
    await world.restartDns();
    const samples: { t: number; counts: Record<string, number> }[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        try {
          samples.push({ t: Date.now(), counts: reasonCounts(await world.dnsMetrics()) });
        } catch {
          // DNS metrics briefly unavailable
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    world.ids = await world.createResources();
    const tCreated = rec.event('resources re-created');
    const firstAnswer = await dig(world, p.checked, hostname);
    await waitFor(
      async () => {
        const w = await world.api.get<{ subnets: Record<string, Record<string, number>> }>(`/api/v1/load-balancers/${world.ids!.lb.id}/weights`).catch(() => null);
        return w && subnets.every((s) => w.subnets[s]) ? true : null;
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'learned weights after the restart' },
    );
    const tLearned = rec.event('learned weights published again');
    // The first learned weights need not name the nearest origin yet: a new source whose agents see
    // its connections on several origins (these clients connect to every origin) walks from where its
    // load is, at max_shift per cycle (the connection-aware damping, scheduler/core/connections.ts),
    // and its answer flips once the walk passes its subnet's point. So: poll, within the damping law's
    // longest walk (a whole share at max_shift) plus slack, and report how long it took.
    const walkMs = (Math.ceil(1 / spec.load_balancer.max_shift) + 3) * spec.timing.scheduler_interval;
    const laterAnswers = await waitFor(
      async () => {
        const got = await learnedAnswers();
        return routedNearest(got) ? got : null;
      },
      { timeoutMs: walkMs, intervalMs: 250, what: 'learned answers after the restart' },
    ).catch(async () => learnedAnswers());
    const tRouted = Date.now();
    rec.number('seconds_learned_to_routed', (tRouted - tLearned) / 1000);
    sampling = false;
    await sampler;
    // One sample after the answers above (the sampler may have stopped within 100 ms of them): the
    // learned answers they were must be in the counts.
    samples.push({ t: Date.now(), counts: reasonCounts(await world.dnsMetrics()) });
    await world.stopProcess('client-probe');
    void probe;
    // Which reason moved first after the resources existed?
    const geo = (c: Record<string, number>) => (c.geo_fallback ?? 0) + (c.cidr_mapping ?? 0);
    const base = samples.find((s) => s.t >= tCreated - 50) ?? samples[0];
    let firstKind: string | null = null;
    let firstAt: number | null = null;
    for (let i = 1; i < samples.length && base; i++) {
      const prev = samples[i - 1]!;
      const cur = samples[i]!;
      if (cur.t < base.t) continue;
      const dGeo = geo(cur.counts) - geo(prev.counts);
      const dLearned = (cur.counts.learned_latency ?? 0) - (prev.counts.learned_latency ?? 0);
      if (dGeo > 0 || dLearned > 0) {
        firstKind = dGeo > 0 ? (cur.counts.cidr_mapping ?? 0) > (prev.counts.cidr_mapping ?? 0) ? 'cidr_mapping' : 'geo_fallback' : 'learned_latency';
        firstAt = cur.t;
        break;
      }
    }
    const last = samples[samples.length - 1]?.counts ?? {};
    const geoCount = base ? geo(last) - geo(base.counts) : 0;
    const learnedCount = base ? (last.learned_latency ?? 0) - (base.counts.learned_latency ?? 0) : 0;
    rec.number('seconds_restart_to_recreated', (tCreated - tRestart) / 1000);
    rec.number('seconds_recreated_to_learned', (tLearned - tCreated) / 1000);
    rec.number('answers_geo_after_restart', geoCount);
    rec.number('answers_learned_after_restart', learnedCount);
    rec.check(
      'cold start: the first answers after the restart come from the geolocation fallback',
      (firstKind === 'cidr_mapping' || firstKind === 'geo_fallback') && geoCount > 0,
      `first steering reason ${firstKind ?? 'none'} ${firstAt ? `${((firstAt - tCreated) / 1000).toFixed(2)} s after re-creation` : ''}; ${geoCount} geo (CIDR mapping) answers, then ${learnedCount} learned; first dig answered ${firstAnswer.join(',') || 'nothing'} (${nameByAddr.get(firstAnswer[0] ?? '') ?? '—'})`,
    );
    rec.check('cold start: learned routing returns', learnedCount > 0 && routedNearest(laterAnswers), `learned weights ${((tLearned - tCreated) / 1000).toFixed(1)} s after re-creation; ${Object.entries(laterAnswers).map(([l, a]) => `${l} -> ${nameByAddr.get(a[0] ?? '') ?? 'nothing'}`).join(', ')} ${((tRouted - tLearned) / 1000).toFixed(1)} s later (allowed ${(walkMs / 1000).toFixed(0)} s: a whole share at max_shift ${spec.load_balancer.max_shift} + 3 cycles)`);
  }
  for (const label of Object.keys(p.clients)) await world.stopProcess(`client-pp-${label}`);
  writeLoadChart(world, rec, outDir, 'load.svg', 'Passive latency learning: requests served per origin', 'ping-pong clients in every region; the restart marks the control plane and DNS coming back with an empty store');
}
