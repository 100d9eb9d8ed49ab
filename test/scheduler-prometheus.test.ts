// The scheduler reading a real Prometheus (Debian package, started here). The scrape target is an
// exporter served by this test, in the agents' and edge-syncs' metric format, so the test controls
// every value: a good rate, then NaN, then silence (stale), then Prometheus itself gone.
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteStore } from '../api/store/sqlite.ts';
import { decide } from '../scheduler/core/index.ts';
import type { RejectionCounter } from '../scheduler/inputs/guard.ts';
import { PromqlInputReader } from '../scheduler/inputs/promql.ts';
import { SchedulerLoop } from '../scheduler/loop/loop.ts';
import { createSchedulerMetrics } from '../scheduler/loop/metrics.ts';
import { unavailable } from './helpers/env.ts';
import { startPrometheus, type RunningPrometheus } from './helpers/prometheus.ts';
import { waitFor } from './helpers/wait.ts';

const skip = unavailable({ tools: { prometheus: 'prometheus' } });

describe.skipIf(skip)('scheduler on a real Prometheus', () => {
  let exporter: Server;
  let exporterPort: number;
  let prom: RunningPrometheus;
  let store: SqliteStore;
  let dir: string;
  const started = Date.now();
  let rttUsText = '0.020';
  let usUp = 1;

  beforeAll(async () => {
    exporter = createServer((req, res) => {
      // 300 requests per second, as a counter with history (a fresh counter near zero makes rate()
      // clamp its extrapolation).
      const count = 1_000_000 + Math.floor(((Date.now() - started) / 1000) * 300);
      const body = [
        '# TYPE sluice_edge_requests_total counter',
        `sluice_edge_requests_total{edge="sfo",load_balancer="app",listener="192.0.2.10:443"} ${count}`,
        '# TYPE sluice_agent_upstream_rtt_seconds gauge',
        `sluice_agent_upstream_rtt_seconds{node="sfo",upstream="198.51.100.1:443"} ${rttUsText}`,
        `sluice_agent_upstream_rtt_seconds{node="sfo",upstream="198.51.100.2:443"} 0.140`,
        '# TYPE sluice_origin_up gauge',
        `sluice_origin_up{node="us"} ${usUp}`,
        `sluice_origin_up{node="eu"} 1`,
        '',
      ].join('\n');
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(req.url === '/metrics' ? body : '');
    });
    await new Promise<void>((r) => exporter.listen(0, '127.0.0.1', r));
    exporterPort = (exporter.address() as { port: number }).port;
    prom = await startPrometheus([{ job: 'edges', targets: [`127.0.0.1:${exporterPort}`] }]);
    dir = mkdtempSync(join(tmpdir(), 'sluice-sched-prom-'));
    store = openSqliteStore(dir);
  }, 60_000);

  afterAll(async () => {
    exporter?.close();
    await prom?.stop();
    await store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('publishes from real PromQL, drops NaN and counts it, holds when stale, holds when Prometheus is down', async () => {
    const lb = await store.createLoadBalancer({ name: 'app', listeners: [{ vip: '192.0.2.10', port: 443, protocol: 'tcp' }], policy: 'latency', max_latency_ms: 500, min_samples: 5, max_shift: 1, deadband: 0, gain: 0.5, enabled: true });
    const base = { port: 443, admin_state: 'active' as const, static_weight: 1, priority: 0 };
    const us = await store.createOrigin(lb.id, { ...base, name: 'us', region: 'us', addresses: ['198.51.100.1'], location: { lat: 37.4, lon: -122 }, target_rps: 200, max_rps: 200 });
    const eu = await store.createOrigin(lb.id, { ...base, name: 'eu', region: 'eu', addresses: ['198.51.100.2'], location: { lat: 50.1, lon: 8.7 }, target_rps: 1000, max_rps: 1000 });
    const edge = await store.createEdge({ name: 'sfo', region: 'us-west', address: '203.0.113.5', location: { lat: 37.6, lon: -122.4 } });

    const registry = new Registry();
    const metrics = createSchedulerMetrics(registry);
    const counter: RejectionCounter = { reject: (input, reason) => metrics.rejected.inc({ input, reason }) };
    // rate() over a window a few scrapes wide under-reads (it extrapolates to the window edges): with
    // 1 s scrapes the test overrides the demand query for this load balancer with irate(), which also
    // exercises the per-load-balancer override.
    const reader = new PromqlInputReader(
      { url: prom.url, timeoutMs: 2000, windowSeconds: 5, staleSeconds: 4, queries: {}, perLoadBalancer: {
          app: {
            edge_demand: 'sum by (edge) (irate(sluice_edge_requests_total{load_balancer="$lb"}[$window]))',
            // Health from Prometheus (e.g. an exporter's or blackbox's up), on top of the active checks.
            origin_health: 'last_over_time(sluice_origin_up[$stale])',
          },
        },
      },
      counter,
    );
    const loop = new SchedulerLoop({ store, reader, solve: async (p) => ({ decision: decide(p), solve_ms: 0 }), log: pino({ level: 'silent' }), metrics, intervalMs: 60_000, inputTimeoutMs: 5000, leaseTtlMs: 60_000, holdCycles: 0, latencyTtlMs: 3_600_000, locate: () => undefined });
    const ctx = { lb, origins: [us, eu], edges: [edge] };

    // Rates need two scrapes inside the window.
    const inputs = await waitFor(async () => {
      const i = await reader.read(ctx);
      return (i.edgeDemand.get('sfo') ?? 0) > 0 && i.edgeRtt.get('sfo')?.size === 2 ? i : null;
    }, { timeoutMs: 20_000, what: 'edge demand through PromQL' });
    expect(inputs.edgeDemand.get('sfo')!).toBeGreaterThan(240);
    expect(inputs.edgeDemand.get('sfo')!).toBeLessThan(360);
    expect(inputs.edgeRtt.get('sfo')!.get('us')).toBeCloseTo(20, 6);

    expect((await loop.cycle()).results[0]!.outcome).toBe('published');
    const w = (await store.getWeights(lb.id))!;
    const demand = inputs.edgeDemand.get('sfo')!;
    // Undamped: the US takes exactly its capacity of the measured demand.
    expect(w.edges[edge.id]![us.id]! * demand).toBeGreaterThan(190);
    expect(w.edges[edge.id]![us.id]! * demand).toBeLessThan(210);

    // Prometheus says the US origin is down: the next cycle takes its share to 0 (undamped) and says so.
    usUp = 0;
    await waitFor(async () => {
      await loop.cycle();
      return ((await store.getWeights(lb.id))!.edges[edge.id]![us.id] ?? 0) === 0;
    }, { timeoutMs: 15_000, intervalMs: 300, what: 'US share to drop on Prometheus health' });
    expect((await store.listDecisions({ limit: 5 })).items.some((d) => d.reason === 'health')).toBe(true);
    usUp = 1;

    // NaN from the exporter: the value is dropped and counted, never planned with.
    rttUsText = 'NaN';
    await waitFor(async () => {
      await reader.read(ctx);
      const m = (await registry.getMetricsAsJSON()).find((x) => x.name === 'sluice_scheduler_input_rejected_total');
      return m?.values.some((v) => v.labels.input === 'edge_rtt' && v.labels.reason === 'nan' && v.value > 0);
    }, { timeoutMs: 15_000, what: 'NaN to be rejected' });

    // The exporter goes silent: once Prometheus marks the series stale they are absent, and the
    // weights in force hold (cycles until then may still publish from the last samples).
    exporter.closeAllConnections();
    await new Promise<void>((r) => exporter.close(() => r()));
    await waitFor(async () => (await loop.cycle()).results[0]!.outcome === 'held', { timeoutMs: 30_000, intervalMs: 500, what: 'stale inputs to hold' });
    const before = await store.getWeights(lb.id);
    expect(before).not.toBeNull();
    expect((await loop.cycle()).results[0]!.outcome).toBe('held');
    expect(await store.getWeights(lb.id)).toEqual(before);
    expect((await store.listDecisions({ limit: 1 })).items[0]).toMatchObject({ reason: 'hold' });

    // Prometheus down: held, counted as backend_down.
    await prom.stop();
    const report = await loop.cycle();
    expect(report.results[0]).toMatchObject({ outcome: 'held', detail: expect.stringContaining('Prometheus at') });
    expect(await store.getWeights(lb.id)).toEqual(before);
    const held = (await registry.getMetricsAsJSON()).find((x) => x.name === 'sluice_scheduler_held_cycles_total')!;
    expect(held.values.find((v) => v.labels.reason === 'backend_down')?.value).toBe(1);
    expect(held.values.find((v) => v.labels.reason === 'no_data')?.value).toBeGreaterThanOrEqual(1);
  });
});
