// Recording rules on a real Prometheus (Debian package): the rules `sluice prometheus-rules` prints
// pass `promtool check rules`, Prometheus loads and evaluates them over a simulated fleet's agents and
// edges (every metric family the default queries read), and the scheduler's inputs assembled from the
// recorded series equal those from the raw queries — in each capacity unit, and through a global
// Prometheus federating only the recorded series. Query time and response
// bytes of both are printed (the scale numbers are in bench/README.md).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PromqlInputReader } from '../scheduler/inputs/promql.ts';
import { rulesFile } from '../scheduler/inputs/recording-rules.ts';
import { InputsUnavailable, type ReadContext } from '../scheduler/inputs/types.ts';
import { unavailable } from './helpers/env.ts';
import { makeFleet, serveFleet, type FleetExporter } from './helpers/fleet-exporter.ts';
import { fleetContext } from './helpers/fleet-store.ts';
import { inputDifferences } from './helpers/inputs-compare.ts';
import { startPrometheus, type RunningPrometheus } from './helpers/prometheus.ts';
import { waitFor } from './helpers/wait.ts';

const skip = unavailable({ tools: { prometheus: 'prometheus', promtool: 'prometheus' } });
const WINDOW_S = 10;
const STALE_S = 30;

describe.skipIf(skip)('recording rules on a real Prometheus', () => {
  const fleet = makeFleet(4, 3, 300);
  let exporter: FleetExporter;
  let prom: RunningPrometheus;
  let ctx: ReadContext;
  let closeStore: () => Promise<void>;
  const rules = rulesFile({ windowSeconds: WINDOW_S, staleSeconds: STALE_S, intervalSeconds: 1 });
  const noCount = { reject: () => undefined };
  const reader = (recorded: boolean, windowSeconds = WINDOW_S, at?: Date) => new PromqlInputReader({ url: prom.url, timeoutMs: 10_000, windowSeconds, staleSeconds: STALE_S, recorded, queries: {}, perLoadBalancer: {}, ...(at ? { evaluationTime: at } : {}) }, noCount);

  beforeAll(async () => {
    exporter = await serveFleet(fleet, { stamps: 'ahead' });
    prom = await startPrometheus(exporter.jobs(), { rules });
    ({ ctx, close: closeStore } = await fleetContext(fleet));
  }, 60_000);

  afterAll(async () => {
    await prom?.stop();
    await exporter?.close();
    await closeStore?.();
  });

  it('prints a rules file promtool accepts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-rules-'));
    try {
      writeFileSync(join(dir, 'rules.yml'), rules);
      const r = spawnSync('promtool', ['check', 'rules', join(dir, 'rules.yml')], { encoding: 'utf8' });
      expect(r.status, r.stdout + r.stderr).toBe(0);
      expect(r.stdout).toMatch(/SUCCESS: 19 rules found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('assembles the same inputs from the recorded series as from the raw queries', async () => {
    // A full rate window of scrapes behind every series, and the rules evaluated over it.
    await waitFor(async () => {
      const full = await prom.query(`min(count_over_time(sluice_agent_connections_total[${WINDOW_S}s]))`);
      const recorded = await prom.query(`count(subnet_node:sluice_agent_subnet_connections:rate${WINDOW_S}s)`);
      return Number(full[0]?.value[1] ?? 0) >= WINDOW_S - 1 && Number(recorded[0]?.value[1] ?? 0) === 400;
    }, { timeoutMs: 60_000, intervalMs: 500, what: 'a full window scraped and the rules evaluated' });

    // Both read at the instant of the last rule evaluation: rate() over a window only a few scrapes wide
    // extrapolates differently a second apart (by up to a tenth on a loaded machine), and the claim is
    // that the recorded series hold what the raw queries compute, not that two moments agree. The
    // samples are stamped ahead of the clock, so the query reads the very samples the evaluation read.
    const at = new Date(Number((await prom.query(`max(timestamp(edge_listener_load_balancer:sluice_edge_requests:rate${WINDOW_S}s))`))[0]!.value[1]) * 1000);
    for (const unit of ['requests', 'connections', 'bytes'] as const) {
      const c = { ...ctx, lb: { ...ctx.lb, capacity_unit: unit } };
      const raw = await reader(false, WINDOW_S, at).read(c);
      const rec = await reader(true, WINDOW_S, at).read(c);
      // Every input is there (not two empty answers agreeing).
      expect(rec.subnetDemand.size, unit).toBe(300);
      expect(rec.subnetRtt.size, unit).toBe(300);
      expect(rec.edgeDemand.size, unit).toBe(3);
      expect(rec.edgeRtt.size, unit).toBe(3);
      expect(rec.originLoad.size, unit).toBe(4);
      expect(rec.connections.subnetSurvivors.size, unit).toBe(300);
      expect(rec.connections.edgeSurvivors.size, unit).toBe(3);
      expect(rec.connections.originPolledAt.size, unit).toBe(4);
      expect(rec.connections.edgeLifetimeS.size, unit).toBe(3);
      expect(inputDifferences(raw, rec), unit).toEqual([]);
    }

    // What each way costs Prometheus and the wire: every rendered query, timed and sized.
    const cost = async (recorded: boolean) => {
      const queries = Object.values(reader(recorded).queriesFor(ctx)).filter((q): q is string => q !== null);
      const t = performance.now();
      let bytes = 0;
      for (const q of queries) bytes += (await (await fetch(`${prom.url}/api/v1/query?query=${encodeURIComponent(q)}`)).text()).length;
      return { queries: queries.length, ms: Math.round(performance.now() - t), bytes };
    };
    console.log(`recording rules, 4 origins x 300 subnets: raw ${JSON.stringify(await cost(false))}, recorded ${JSON.stringify(await cost(true))}`);
  }, 120_000);

  it('reads the recorded series through a global Prometheus federating them from the regional one', async () => {
    // The regional Prometheus (the one above) evaluates the rules; a global one federates only the
    // recorded series, keeping their labels (and adding none the recorded queries group by).
    const global = await startPrometheus([{ job: 'federate', targets: [new URL(prom.url).host], metricsPath: '/federate', params: { 'match[]': ['{__name__=~".+:sluice_.+"}'] }, honorLabels: true }]);
    try {
      await waitFor(async () => Number((await global.query(`count(subnet_node:sluice_agent_subnet_connections:rate${WINDOW_S}s)`))[0]?.value[1] ?? 0) === 400, { timeoutMs: 30_000, intervalMs: 500, what: 'the recorded series federated' });
      expect(Number((await global.query('count({__name__=~"sluice_.+"})'))[0]?.value[1] ?? 0)).toBe(0); // no raw series went over
      // Federation carries the samples' own timestamps: at the latest the global holds, both agree exactly.
      const at = new Date(Number((await global.query(`max(timestamp(edge_listener_load_balancer:sluice_edge_requests:rate${WINDOW_S}s))`))[0]!.value[1]) * 1000);
      const federated = await new PromqlInputReader({ url: global.url, timeoutMs: 10_000, windowSeconds: WINDOW_S, staleSeconds: STALE_S, recorded: true, queries: {}, perLoadBalancer: {}, evaluationTime: at }, noCount).read(ctx);
      const regionalRaw = await reader(false, WINDOW_S, at).read(ctx);
      expect(federated.subnetDemand.size).toBe(300);
      expect(federated.connections.edgeSurvivors.size).toBe(3);
      expect(inputDifferences(regionalRaw, federated)).toEqual([]);
    } finally {
      await global.stop();
    }
  }, 60_000);

  it('holds with a message naming the command when the rules were generated for another window', async () => {
    const err = await reader(true, 20).read(ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputsUnavailable);
    expect(err).toMatchObject({ kind: 'no_data', message: expect.stringContaining('sluice prometheus-rules --window 20s --stale 30s') });
  });
});
