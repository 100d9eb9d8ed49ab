// The scheduler reading two real Prometheus servers as shards (prometheus.shards): "west" scrapes half
// the fleet's agents and edges, "east" the other half, and both scrape origin-2 (an overlap, as an HA
// pair or two regions' scrape configs would). A third Prometheus scraping everything is the reference:
// the merged inputs equal its inputs, the overlap is taken once and counted. Then east goes down: with
// no shard_hold the cycle holds and the weights in force stay (as with one Prometheus down); with a
// shard_hold east's last good answers stand in until it runs out, then the read fails too.
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SqliteStore } from '../api/store/sqlite.ts';
import { decide } from '../scheduler/core/index.ts';
import { PromqlInputReader } from '../scheduler/inputs/promql.ts';
import type { ShardEvents } from '../scheduler/inputs/shards.ts';
import { InputsUnavailable, type ReadContext } from '../scheduler/inputs/types.ts';
import { SchedulerLoop } from '../scheduler/loop/loop.ts';
import { createSchedulerMetrics } from '../scheduler/loop/metrics.ts';
import { unavailable } from './helpers/env.ts';
import { makeFleet, serveFleet, type FleetExporter } from './helpers/fleet-exporter.ts';
import { fleetContext } from './helpers/fleet-store.ts';
import { inputDifferences } from './helpers/inputs-compare.ts';
import { startPrometheus, type RunningPrometheus } from './helpers/prometheus.ts';
import { waitFor } from './helpers/wait.ts';

const skip = unavailable({ tools: { prometheus: 'prometheus' } });
const WINDOW_S = 20;

describe.skipIf(skip)('scheduler on two Prometheus shards', () => {
  const fleet = makeFleet(4, 4, 200);
  let exporter: FleetExporter;
  let west: RunningPrometheus;
  let east: RunningPrometheus;
  let all: RunningPrometheus;
  let ctx: ReadContext;
  let store: SqliteStore;
  let closeStore: () => Promise<void>;
  const events: { failed: { shard: string; kind: string; standIn: string }[]; duplicates: Map<string, number> } = { failed: [], duplicates: new Map() };
  const recordEvents: ShardEvents = {
    shardFailed: (shard, kind, _detail, standIn) => void events.failed.push({ shard, kind, standIn }),
    duplicateSeries: (input, n) => void events.duplicates.set(input, (events.duplicates.get(input) ?? 0) + n),
  };
  const options = { timeoutMs: 5_000, windowSeconds: WINDOW_S, staleSeconds: 60, queries: {}, perLoadBalancer: {} };
  const sharded = (extra: { shardHoldMs?: number; evaluationTime?: Date } = {}) =>
    new PromqlInputReader({ ...options, ...extra, shards: [{ name: 'west', url: west.url }, { name: 'east', url: east.url }], shardEvents: recordEvents }, { reject: () => undefined });

  beforeAll(async () => {
    exporter = await serveFleet(fleet, { stamps: 'whole-second' });
    [west, east, all] = await Promise.all([
      startPrometheus(exporter.jobs({ origins: ['origin-0', 'origin-1', 'origin-2'], edges: ['edge-0', 'edge-1'] })),
      startPrometheus(exporter.jobs({ origins: ['origin-2', 'origin-3'], edges: ['edge-2', 'edge-3'] })),
      startPrometheus(exporter.jobs()),
    ]);
    ({ ctx, store, close: closeStore } = await fleetContext(fleet));
  }, 60_000);

  afterAll(async () => {
    for (const p of [west, east, all]) await p?.stop();
    await exporter?.close();
    await closeStore?.();
  });

  it('merges the shards into what one Prometheus scraping everything reads; the overlap counted once', async () => {
    // Read at an instant at which every target on every server has a sample at every whole second of
    // the window (sluice_agent_connections_total: every origin and edge exports it, and a scrape takes a
    // target's families together) (the exporter stamps its samples on whole seconds; Prometheus 2's range [t − 20 s, t]
    // is closed: 21 samples). Three servers scrape at their own instants, and where one missed scrapes
    // at a window's edge (a loaded machine), rate() extrapolates only part of the way there: a rate
    // several % low on that server alone. With every second sampled, rate() is exact on all three.
    const at = await waitFor(
      async () => {
        const newest = Math.floor(Date.now() / 1000) - 2;
        for (let t = newest; t > newest - 15; t--) {
          const counts = await Promise.all([west, east, all].map((p) => p.query(`min(count_over_time(sluice_agent_connections_total[${WINDOW_S}s] @ ${t}))`)));
          if (counts.every((r) => Number(r[0]?.value[1] ?? 0) >= WINDOW_S + 1)) return new Date(t * 1000);
        }
        return null;
      },
      { timeoutMs: 90_000, intervalMs: 1000, what: 'an instant with every second of its window scraped on every Prometheus' },
    );
    const merged = await sharded({ evaluationTime: at }).read(ctx);
    const reference = await new PromqlInputReader({ ...options, url: all.url, evaluationTime: at }, { reject: () => undefined }).read(ctx);
    expect(merged.subnetDemand.size).toBe(200);
    expect(merged.edgeDemand.size).toBe(4);
    expect(merged.originLoad.size).toBe(4);
    expect(merged.connections.edgeSurvivors.size).toBe(4);
    // Three servers scraped at their own instants: rates agree to the exporter's timing jitter.
    expect(inputDifferences(merged, reference, 2e-3)).toEqual([]);
    // origin-2's series came from both shards: each kept once. Its subnets: i % 4 == 2, or i % 3 == 0 and (i + 1) % 4 == 2.
    const origin2 = fleet.subnets.filter((_, i) => i % 4 === 2 || (i % 3 === 0 && (i + 1) % 4 === 2)).length;
    expect(events.duplicates.get('subnet_demand')).toBe(origin2);
    expect(events.duplicates.get('subnet_rtt')).toBe(origin2);
    expect(events.duplicates.get('origin_polled')).toBe(1);
    expect(events.duplicates.has('edge_demand')).toBe(false);
    expect(events.failed).toEqual([]);
  }, 150_000);

  it('a shard down: the cycle holds with the weights in force, or its last good answers stand in for shard_hold', async () => {
    const registry = new Registry();
    const metrics = createSchedulerMetrics(registry);
    const loop = new SchedulerLoop({ store, reader: sharded(), solve: async (p) => ({ decision: decide(p), solve_ms: 0 }), log: pino({ level: 'silent' }), metrics, intervalMs: 60_000, inputTimeoutMs: 10_000, leaseTtlMs: 60_000, holdCycles: 0, latencyTtlMs: 3_600_000, locate: () => undefined });
    expect((await loop.cycle()).results[0]!.outcome).toBe('published');
    const inForce = await store.getWeights(ctx.lb.id);
    const holding = sharded({ shardHoldMs: 4_000 });
    const before = await holding.read(ctx);

    await east.stop();
    events.failed = [];
    const report = await loop.cycle();
    expect(report.results[0]).toMatchObject({ outcome: 'held', detail: expect.stringContaining('shard east') });
    expect(await store.getWeights(ctx.lb.id)).toEqual(inForce);
    const held = (await registry.getMetricsAsJSON()).find((m) => m.name === 'sluice_scheduler_held_cycles_total')!;
    expect(held.values.find((v) => v.labels.reason === 'backend_down')?.value).toBe(1);
    // Logged and counted once per read, not once per query.
    expect(events.failed).toEqual([{ shard: 'east', kind: 'backend_down', standIn: 'none' }]);

    // Within shard_hold: east's last good answers stand in (its origins' subnets are still there).
    events.failed = [];
    const standIn = await holding.read(ctx);
    expect(events.failed).toEqual([{ shard: 'east', kind: 'backend_down', standIn: 'last_good' }]);
    expect(standIn.subnetDemand.size).toBe(200);
    expect(standIn.connections.edgeSurvivors.get('edge-3')).toEqual(before.connections.edgeSurvivors.get('edge-3'));
    expect(standIn.subnetRtt.get('10.0.7.0/24')).toEqual(before.subnetRtt.get('10.0.7.0/24')); // seen at origin-3 only
    expect(standIn.subnetRtt.get('10.0.7.0/24')?.has('origin-3')).toBe(true);
    // Past it: the read fails as with no hold.
    const err = await waitFor(async () => holding.read(ctx).then(() => null, (e: unknown) => e), { timeoutMs: 20_000, intervalMs: 500, what: 'shard_hold to run out' });
    expect(err).toBeInstanceOf(InputsUnavailable);
    expect(err).toMatchObject({ kind: 'backend_down', message: expect.stringMatching(/shard east: .*no good answer within shard_hold 4s/) });
  }, 60_000);
});
