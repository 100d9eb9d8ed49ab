// The live scheduler loop on a real SQLite store and the real decision core, with a scripted metrics
// backend (the I/O boundary): each test decides exactly what the scheduler reads.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { openSqliteStore, type SqliteStore } from '../../api/store/sqlite.ts';
import type { LoadBalancer, Origin } from '../../model/index.ts';
import { decide } from '../../scheduler/core/index.ts';
import { emptyInputs, type InputReader, type LbInputs } from '../../scheduler/inputs/types.ts';
import { SchedulerLoop, type LoopOptions } from '../../scheduler/loop/loop.ts';
import { createSchedulerMetrics } from '../../scheduler/loop/metrics.ts';

export class ScriptedReader implements InputReader {
  next: () => LbInputs | Promise<LbInputs> = () => emptyInputs();
  async read(): Promise<LbInputs> {
    return this.next();
  }
}

export function edgeInputs(edge: string, demand: number, rtt: Record<string, number>): LbInputs {
  const i = emptyInputs();
  i.edgeDemand.set(edge, demand);
  i.edgeRtt.set(edge, new Map(Object.entries(rtt)));
  return i;
}

/** One load balancer with origins us (200 rps) and eu (1000 rps), and edge sfo near us. */
export interface LoopWorld {
  dir: string;
  store: SqliteStore;
  lb: LoadBalancer;
  us: Origin;
  eu: Origin;
  edgeId: string;
  registry: Registry;
  makeLoop(reader: InputReader, more?: Partial<LoopOptions>): SchedulerLoop;
  metricValue(name: string, labels: Record<string, string>): Promise<number | undefined>;
  close(): Promise<void>;
}

/** `store`: build the world in this store (e.g. an in-process control plane's; not closed by close()). */
export async function loopWorld(lbFields: Partial<LoadBalancer> = {}, given?: SqliteStore): Promise<LoopWorld> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-loop-'));
  const store = given ?? openSqliteStore(dir);
  const lb = await store.createLoadBalancer({ name: 'app', listeners: [{ vip: '192.0.2.10', port: 443, protocol: 'tcp' }], policy: 'latency', max_latency_ms: 500, min_samples: 5, max_shift: 0.02, deadband: 0.001, gain: 0.5, enabled: true, ...lbFields });
  const base = { port: 443, admin_state: 'active' as const, static_weight: 1, priority: 0 };
  const us = await store.createOrigin(lb.id, { ...base, name: 'us', region: 'us', addresses: ['198.51.100.1'], location: { lat: 37.4, lon: -122 }, target_rps: 200, max_rps: 200 });
  const eu = await store.createOrigin(lb.id, { ...base, name: 'eu', region: 'eu', addresses: ['198.51.100.2'], location: { lat: 50.1, lon: 8.7 }, target_rps: 1000, max_rps: 1000 });
  const edgeId = (await store.createEdge({ name: 'sfo', region: 'us-west', address: '203.0.113.5', location: { lat: 37.6, lon: -122.4 } })).id;
  const registry = new Registry();
  const metrics = createSchedulerMetrics(registry);
  return {
    dir,
    store,
    lb,
    us,
    eu,
    edgeId,
    registry,
    makeLoop: (reader, more = {}) =>
      new SchedulerLoop({
        store,
        reader,
        solve: async (p) => ({ decision: decide(p), solve_ms: 0 }),
        log: pino({ level: 'silent' }),
        metrics,
        intervalMs: 60_000,
        inputTimeoutMs: 1_000,
        leaseTtlMs: 5_000,
        holdCycles: 2,
        latencyTtlMs: 3_600_000,
        locate: () => undefined,
        holder: 'test-a',
        ...more,
      }),
    async metricValue(name, labels) {
      const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
      return (m?.values ?? []).find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val))?.value;
    },
    async close() {
      if (!given) await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
