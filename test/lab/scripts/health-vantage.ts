// Scenario "health seen from several places" (issue 13): two edges, each with its own clients, both
// preferring the "main" origin; a control plane in the core namespace. Three vantage points vote on
// every origin — the control plane's checks and each edge's HAProxy — and three things happen in turn,
// on one world (so the setup is paid once):
//
//  1. control-plane partition: every packet between the core namespace and `main` is dropped. The
//     control plane's checks fail; both edges still reach it. Measured at the origin: its served rate
//     does not fall; no global failover is recorded.
//  2. edge partition: every packet between edge a and `main` is dropped. Edge a's own checks fail and it
//     reports so; from one cycle after that edge-local decision, edge a sends `main` nothing (its
//     HAProxy's own session counter for that server stops) and its clients see no error for a request
//     sent after the detection window, while edge b keeps using `main` (measured at the origin, per
//     sending address).
//  3. real failure: `main` breaks (503 to everything). From one cycle after the quorum detects it, it
//     receives nothing, and no client request sent after that fails.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { waitFor } from '../../helpers/wait.ts';
import { cyclePeriod, decisions, writeLoadChart, type Decision, type Recorder } from '../measure.ts';
import { parseStatCsv } from '../../../edge-sync/haproxy/parse.ts';
import { haproxyCommand, rateOf, readBins, settledNow, type Bin, type World } from '../world.ts';

const Params = z.strictObject({
  /** The origin both edges prefer, and the one they fall back to. */
  main: z.string(),
  other: z.string(),
  /** edge name -> the namespace of its clients. */
  clients: z.record(z.string(), z.string()),
  rate_per_edge: z.number().positive().default(40),
  partition_s: z.number().min(2).default(8),
  after_failure_s: z.number().min(2).default(5),
});

interface Vantage {
  vantage: string;
  healthy: boolean;
  fresh: boolean;
}
interface HealthBody {
  items: { origin_id: string; healthy: boolean; since: string; reason: string; votes: Vantage[] }[];
  origins: { origin_id: string; healthy: boolean; quorum: { fresh: number; down: number; required: number }; vantages: (Vantage & { agrees: boolean })[] }[];
  edges: { edge_id: string; origin_id: string; reachable: boolean; since: string; reason: string }[];
}

/** Requests an origin received (served or rejected) from one sending address per second over [from, to). */
function peerRate(bins: Bin[], peer: string, from: number, to: number): number {
  const a = Math.ceil(from / 250) * 250;
  const b = Math.floor(to / 250) * 250;
  if (b <= a) return 0;
  let n = 0;
  for (const x of bins) if (x.t >= a && x.t < b) n += ((x.peers as Record<string, number> | undefined)?.[peer] ?? 0) + ((x.peers as Record<string, number> | undefined)?.[`::ffff:${peer}`] ?? 0);
  return (n * 1000) / (b - a);
}

/** Client requests sent at or after `from` that failed (whenever they failed). */
function errorsSentFrom(bins: Bin[], from: number): number {
  let n = 0;
  for (const x of bins) for (const [t, k] of Object.entries((x.err_by_sent as Record<string, number> | undefined) ?? {})) if (Number(t) >= from) n += k;
  return n;
}

export async function healthVantage(world: World, rec: Recorder, outDir: string): Promise<void> {
  const p = Params.parse(world.spec.params);
  const spec = world.spec;
  const ids = world.ids!;
  const main = spec.origins.find((o) => o.name === p.main)!;
  const other = spec.origins.find((o) => o.name === p.other)!;
  const mainId = ids.origins[main.name]!;
  const listener = spec.load_balancer.listeners[0]!;
  const [edgeA, edgeB] = spec.edges as [(typeof spec.edges)[0], (typeof spec.edges)[0]];
  const addrA = world.addr(edgeA.namespace);
  const addrB = world.addr(edgeB.namespace);
  const health = () => world.api.get<HealthBody>('/api/v1/health');
  const mainVotes = async () => (await health()).origins.find((o) => o.origin_id === mainId)!;
  const mainBins = () => world.originStats(main.name);

  // Clients of each edge, open loop at a fixed rate, to that edge's listener.
  const clients = Object.fromEntries(
    spec.edges.map((e) => [
      e.name,
      world.startClient(e.name, p.clients[e.name]!, { mode: 'open', url: `http://${world.edgeBindAddress(e, listener.vip)}:${listener.port}/`, rate: p.rate_per_edge, duration_ms: 300_000, max_requests: 200_000, timeout_ms: 4000 }),
    ]),
  );
  rec.event(`clients offer ${p.rate_per_edge} rps through each of ${spec.edges.map((e) => e.name).join(', ')}`);

  // Warm-up: both edges send everything to main (measured at main, per sending edge), and main has a
  // fresh vote from each of the three vantage points.
  await waitFor(
    async () => {
      const now = settledNow();
      const fromA = peerRate(mainBins(), addrA, now - 2000, now);
      const fromB = peerRate(mainBins(), addrB, now - 2000, now);
      const v = await mainVotes();
      return fromA >= 0.9 * p.rate_per_edge && fromB >= 0.9 * p.rate_per_edge && v.quorum.fresh === 3 && v.vantages.every((x) => x.fresh && x.healthy);
    },
    { timeoutMs: 90_000, intervalMs: 250, what: `warm-up: both edges on ${main.name}, three fresh votes` },
  );
  const warm = await mainVotes();
  rec.event(`warm: both edges on ${main.name}; votes ${warm.vantages.map((v) => v.vantage).join(', ')}`);
  rec.number('vantage_points', warm.quorum.fresh);
  const ds0 = await decisions(world);
  const period = cyclePeriod(ds0, spec.timing.scheduler_interval);
  rec.number('cycle_period_ms', period);

  // ---- 1. control-plane partition ----
  await new Promise((r) => setTimeout(r, 3000)); // a steady baseline to compare with
  const before1 = settledNow();
  const servedBefore = rateOf(mainBins(), 'served', before1 - 3000, before1);
  const t1 = await world.partition([[spec.core, main.namespace]]);
  rec.event(`partition: ${spec.core} <-x-> ${main.name}`, t1);
  const cpDown = await waitFor(
    async () => {
      const v = await mainVotes();
      const cp = v.vantages.find((x) => !x.vantage.startsWith('edge:'));
      return cp && !cp.healthy && cp.fresh ? v : null;
    },
    { timeoutMs: 15_000, intervalMs: 100, what: `the control plane's own checks to see ${main.name} down` },
  );
  const tCpDown = Date.now();
  rec.event(`the control plane sees ${main.name} down (${cpDown.quorum.down} of ${cpDown.quorum.fresh} down, ${cpDown.quorum.required} needed)`, tCpDown);
  const disagrees = await waitFor(async () => {
    const lines = await cpMetric(world, 'sluice_health_vantage_disagrees{');
    const mine = lines.filter((l) => l.includes(`origin="${main.name}"`));
    return mine.some((l) => / 1$/.test(l)) ? mine : null;
  }, { timeoutMs: 5000, intervalMs: 100, what: 'the disagreement in the metrics' }).catch(() => [] as string[]);
  await new Promise((r) => setTimeout(r, p.partition_s * 1000));
  const end1 = settledNow();
  const during = await mainVotes();
  await world.partition([]);
  rec.event('healed', Date.now());
  const servedDuring = rateOf(mainBins(), 'served', tCpDown, end1);
  const offeredDuring = Object.values(clients).reduce((sum, c) => sum + rateOf(readBins(c.stats), 'sent', tCpDown, end1), 0);
  rec.number(`${main.name}_rps_before_cp_partition`, servedBefore);
  rec.number(`${main.name}_rps_during_cp_partition`, servedDuring);
  rec.check(`control-plane partition: ${main.name} keeps its traffic (served rps does not fall, measured at the origin)`, servedDuring >= 0.95 * servedBefore && servedDuring >= 0.95 * offeredDuring && servedBefore > 0, `${servedDuring.toFixed(1)} rps of ${offeredDuring.toFixed(1)} offered while the control plane could not reach it (${((end1 - tCpDown) / 1000).toFixed(1)} s) vs ${servedBefore.toFixed(1)} rps before`);
  const globalDown1 = (await healthDecisions(world)).filter((d) => d.t >= t1 && d.origin === mainId && d.scope === 'global' && !d.healthy);
  rec.check(
    'control-plane partition: no global failover recorded; the votes say why',
    globalDown1.length === 0 && during.healthy && during.quorum.down === 1 && during.quorum.required === 2,
    `${globalDown1.length} global health decision(s) for ${main.name}; votes during the partition: ${during.vantages.map((v) => `${v.vantage}=${v.healthy ? 'up' : 'down'}`).join(', ')} (${during.quorum.down} down of ${during.quorum.fresh}, ${during.quorum.required} needed)`,
  );
  const disagreeing = disagrees.filter((l) => / 1$/.test(l)).map((l) => /vantage="([^"]+)"/.exec(l)?.[1]);
  rec.check('control-plane partition: the disagreeing vantage point shows in the metrics', disagreeing.length === 1 && !disagreeing[0]!.startsWith('edge:'), disagrees.join('; ') || 'no sluice_health_vantage_disagrees series');
  await waitFor(async () => (await mainVotes()).vantages.every((x) => x.healthy && x.fresh), { timeoutMs: 20_000, intervalMs: 200, what: 'every vantage sees main up again' });

  // ---- 2. edge partition ----
  const serverRow = async () => {
    const rows = parseStatCsv(await haproxyCommand(join(world.dir, `haproxy-${edgeA.name}.sock`), 'show stat'));
    return rows.find((r) => r.pxname === `${spec.load_balancer.name}_${listener.port}` && r.svname === main.name);
  };
  const before2 = settledNow();
  const fromBBefore = peerRate(mainBins(), addrB, before2 - 4000, before2);
  const t2 = await world.partition([[edgeA.namespace, main.namespace]]);
  rec.event(`partition: ${edgeA.name} <-x-> ${main.name}`, t2);
  const excluded = await waitFor(
    async () => (await health()).edges.find((e) => e.edge_id === ids.edges[edgeA.name] && e.origin_id === mainId && !e.reachable),
    { timeoutMs: 15_000, intervalMs: 100, what: `the edge-local exclusion of ${main.name} for ${edgeA.name}` },
  );
  const tDetect = Date.parse(excluded.since);
  rec.event(`${edgeA.name} cannot reach ${main.name}: excluded for ${edgeA.name} only`, tDetect);
  rec.number('seconds_edge_partition_to_detection', (tDetect - t2) / 1000);
  const settleAt = tDetect + period;
  await waitFor(() => Date.now() >= settleAt + 250, { timeoutMs: 10_000, intervalMs: 50 });
  const stotAtSettle = Number((await serverRow())?.stot ?? Number.NaN);
  await new Promise((r) => setTimeout(r, p.partition_s * 1000));
  const stotAtEnd = Number((await serverRow())?.stot ?? Number.NaN);
  const weightAtEnd = Number((await serverRow())?.weight ?? Number.NaN);
  const end2 = settledNow();
  const fromBDuring = peerRate(mainBins(), addrB, settleAt, end2);
  const otherFromA = peerRate(world.originStats(other.name), addrA, settleAt, end2);
  const h2 = await health();
  await world.partition([]);
  rec.event('healed', Date.now());
  await waitFor(() => readBins(clients[edgeA.name]!.stats).some((b) => b.t >= end2 + 4500), { timeoutMs: 10_000, intervalMs: 100, what: 'the clients’ bins past their request timeout' }).catch(() => undefined);
  const clientBinsA = readBins(clients[edgeA.name]!.stats);
  const errorsAfter = errorsSentFrom(clientBinsA.filter((b) => b.t < end2 + 4500), settleAt) - errorsSentFrom(clientBinsA.filter((b) => b.t < end2 + 4500), end2);
  const errorsWindow = errorsSentFrom(clientBinsA, t2) - errorsSentFrom(clientBinsA, settleAt);
  rec.number(`${edgeA.name}_sessions_to_${main.name}_after_detection`, stotAtEnd - stotAtSettle);
  rec.number(`${edgeA.name}_client_errors_sent_in_detection_window`, errorsWindow);
  rec.number(`${edgeA.name}_client_errors_sent_after_detection`, errorsAfter);
  rec.number(`${main.name}_rps_from_${edgeB.name}_before`, fromBBefore);
  rec.number(`${main.name}_rps_from_${edgeB.name}_during`, fromBDuring);
  rec.check(
    `edge partition: from one cycle after detection ${edgeA.name} sends ${main.name} nothing (its HAProxy's own session counter)`,
    Number.isFinite(stotAtEnd) && stotAtEnd === stotAtSettle && weightAtEnd === 0,
    `${stotAtEnd - stotAtSettle} new sessions to ${edgeA.name}/${main.name} in ${((end2 - settleAt) / 1000).toFixed(1)} s after detection + ${period} ms; its weight there ${weightAtEnd}; ${other.name} got ${otherFromA.toFixed(1)} rps from ${edgeA.name}`,
  );
  rec.check(
    `edge partition: ${edgeA.name}'s clients see no error beyond the detection window`,
    errorsAfter === 0 && readBins(clients[edgeA.name]!.stats).some((b) => b.t >= settleAt && (b.ok as number) > 0),
    `${errorsAfter} failed requests sent after detection + one cycle; ${errorsWindow} sent within the ${((settleAt - t2) / 1000).toFixed(1)} s from the partition to then`,
  );
  rec.check(
    `edge partition: ${edgeB.name} keeps using ${main.name} (measured at the origin, by sender)`,
    fromBDuring >= 0.9 * fromBBefore && fromBBefore > 0,
    `${main.name} served ${fromBDuring.toFixed(1)} rps from ${edgeB.name} during the partition vs ${fromBBefore.toFixed(1)} before`,
  );
  rec.check(
    'edge partition: the quorum keeps the origin healthy for everyone else',
    h2.items.every((i) => i.origin_id !== mainId || i.healthy) && (await healthDecisions(world)).filter((d) => d.t >= t2 && d.origin === mainId && d.scope === 'global').length === 0,
    `global: ${main.name} ${h2.origins.find((o) => o.origin_id === mainId)!.healthy ? 'healthy' : 'UNHEALTHY'}; edge-local: ${h2.edges.filter((e) => !e.reachable).map((e) => `${e.edge_id}/${e.origin_id} (${e.reason})`).join(', ')}`,
  );
  await waitFor(async () => (await health()).edges.every((e) => e.reachable), { timeoutMs: 30_000, intervalMs: 200, what: `${edgeA.name}'s exclusion lifted after the hold-down` });
  rec.event(`${edgeA.name}'s exclusion lifted`);

  // ---- 3. real failure ----
  const tBreak = world.setOriginMode(main.name, 'down');
  rec.event(`${main.name} breaks (503 to everything)`, tBreak);
  const down = await waitFor(
    async () => (await health()).items.find((i) => i.origin_id === mainId && !i.healthy),
    { timeoutMs: 15_000, intervalMs: 100, what: `${main.name} unhealthy by quorum` },
  );
  const tQuorum = Date.parse(down.since);
  rec.event(`${main.name} unhealthy by quorum (${down.votes.filter((v) => v.fresh && !v.healthy).length} of ${down.votes.filter((v) => v.fresh).length} fresh votes down)`, tQuorum);
  rec.number('seconds_break_to_quorum', (tQuorum - tBreak) / 1000);
  await new Promise((r) => setTimeout(r, p.after_failure_s * 1000));
  const tEnd = settledNow();
  await waitFor(() => [mainBins(), ...Object.values(clients).map((c) => readBins(c.stats))].every((bins) => bins.some((x) => x.t >= tEnd + 4250)), { timeoutMs: 10_000, intervalMs: 100, what: 'the last bins of the failure window' }).catch(() => undefined);
  const after = Math.ceil((tQuorum + period) / 250) * 250;
  const bins = mainBins().filter((b) => b.t >= after && b.t < tEnd);
  const got = bins.reduce((s, b) => s + ((b.served as number) ?? 0) + ((b.rejected as number) ?? 0), 0);
  const lastHit = mainBins().filter((b) => b.t >= tBreak && (((b.served as number) ?? 0) > 0 || ((b.rejected as number) ?? 0) > 0)).map((b) => b.t + 250).pop();
  rec.number('seconds_quorum_to_last_request', lastHit ? (lastHit - tQuorum) / 1000 : null);
  rec.check(`real failure: ${main.name} receives nothing from one cycle after the quorum detects it`, got === 0 && bins.length > 0, `${got} requests in ${(bins.length / 4).toFixed(1)} s after detection + ${period} ms; the last reached it ${lastHit ? ((lastHit - tQuorum) / 1000).toFixed(2) : '—'} s after detection`);
  const errs = Object.values(clients).reduce((s, c) => {
    const cb = readBins(c.stats).filter((b) => b.t < tEnd + 4250);
    return s + errorsSentFrom(cb, after) - errorsSentFrom(cb, tEnd);
  }, 0);
  const otherRate = rateOf(world.originStats(other.name), 'served', after + 500, tEnd);
  const offered = Object.values(clients).reduce((s, c) => s + rateOf(readBins(c.stats), 'sent', after + 500, tEnd), 0);
  rec.number('client_errors_sent_after_quorum', errs);
  rec.check(`real failure: ${other.name} serves everything, no client error after detection`, errs === 0 && otherRate >= 0.95 * offered, `${other.name} ${otherRate.toFixed(1)} of ${offered.toFixed(1)} rps offered; ${errs} failed requests sent after detection + one cycle`);

  for (const c of Object.keys(clients)) await world.stopProcess(`client-${c}`);
  const ds = await decisions(world);
  writeFileSync(join(outDir, 'decisions.json'), `${JSON.stringify(ds.map((d) => ({ t: rec.rel(Date.parse(d.created_at)), reason: d.reason, version: d.weights_version, detail: d.detail.slice(0, 300) })), null, 1)}\n`);
  writeLoadChart(world, rec, outDir, 'load.svg', 'Health seen from several places: control-plane partition, edge partition, real failure', `measured at the origins; ${p.rate_per_edge} rps through each of two edges; quorum of the control plane and both edges`, undefined);
}

/** The health records of the decision log (global and edge-local transitions). */
async function healthDecisions(world: World): Promise<{ t: number; origin: string; scope: string; healthy: boolean }[]> {
  return (await decisions(world))
    .filter((d: Decision) => d.reason === 'health' && d.inputs.health)
    .map((d) => {
      const h = d.inputs.health as { origin_id: string; scope: string; healthy: boolean };
      return { t: Date.parse(d.created_at), origin: h.origin_id, scope: h.scope, healthy: h.healthy };
    });
}

/** Lines of the control plane's /metrics that start with `prefix`. */
async function cpMetric(world: World, prefix: string): Promise<string[]> {
  const text = await world.api.text('/metrics');
  return text.split('\n').filter((l) => l.startsWith(prefix));
}
