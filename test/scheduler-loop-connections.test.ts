// The live loop with connection turnover in its inputs: DNS subnets get their survival (from the
// origins' fitted connection lifetimes), their sticky DNS point, and the connection state the last
// decision left (carried across cycles); the decision record says which unit and conversion every
// input used, what the connection model used, and what was predicted for the cycle just measured.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteStore } from '../api/store/sqlite.ts';
import type { LoadBalancer, Origin } from '../model/index.ts';
import { decide, type SchedulingProblem } from '../scheduler/core/index.ts';
import { emptyInputs, type LbInputs } from '../scheduler/inputs/types.ts';
import { survivalOver } from '../scheduler/loop/connection-sources.ts';
import { dnsPick } from '../scheduler/loop/dns-pick.ts';
import { LEASE_NAME, SchedulerLoop } from '../scheduler/loop/loop.ts';
import { createSchedulerMetrics } from '../scheduler/loop/metrics.ts';

let dir: string;
let store: SqliteStore;
let lb: LoadBalancer;
let us: Origin;
let eu: Origin;
const subnets = Array.from({ length: 40 }, (_, i) => `10.1.${i}.0/24`);

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-loop-conn-'));
  store = openSqliteStore(dir);
  lb = await store.createLoadBalancer({ name: 'app', dns: { zone: 'lab.example', hostname: 'app.lab.example', ttl: 1, answers: 1 }, listeners: [], policy: 'latency', max_latency_ms: 500, min_samples: 1, max_shift: 0.02, deadband: 0.001, gain: 0.5, enabled: true });
  const base = { port: 80, admin_state: 'active' as const, static_weight: 1, priority: 0 };
  us = await store.createOrigin(lb.id, { ...base, name: 'us', region: 'us', addresses: ['198.51.100.1'], location: { lat: 37.4, lon: -122 }, target_rps: 200, max_rps: 200 });
  eu = await store.createOrigin(lb.id, { ...base, name: 'eu', region: 'eu', addresses: ['198.51.100.2'], location: { lat: 50.1, lon: 8.7 }, target_rps: 1000, max_rps: 1000 });
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** 40 keep-alive subnets of 7.5 requests/s, all on us, connections living 10 s on average. */
function inputs(): LbInputs {
  const i = emptyInputs('requests');
  subnets.forEach((s, k) => {
    i.subnetDemand.set(s, 7.5);
    // Slightly different RTTs: a strict order of who spills first.
    i.subnetRtt.set(s, new Map([['us', { ms: 20 + k / 100, samples: 50 }], ['eu', { ms: 140, samples: 50 }]]));
    i.connections.subnetPlacement.set(s, new Map([['us', 1]]));
  });
  i.originLoad.set('us', 300);
  i.connections.originLifetimeS.set('us', 10);
  i.connections.originLifetimeS.set('eu', 10);
  i.conversions.subnet_demand = 'connections × requests per connection at each origin: us 1/connection + 2.3/connection-second (measured)';
  return i;
}

function loopOf(holder: string, problems: SchedulingProblem[], registry = new Registry()): SchedulerLoop {
  return new SchedulerLoop({
    store,
    reader: { read: async () => inputs() },
    solve: async (p) => {
      problems.push(structuredClone(p));
      return { decision: decide(p), solve_ms: 0 };
    },
    log: pino({ level: 'silent' }),
    metrics: createSchedulerMetrics(registry),
    intervalMs: 2000,
    inputTimeoutMs: 1000,
    leaseTtlMs: 60_000,
    holdCycles: 2,
    latencyTtlMs: 3_600_000,
    locate: () => undefined,
    holder,
  });
}

describe('SchedulerLoop with connection turnover', () => {
  it('forgets the connection state it carried when another replica led in between (a new lease epoch)', async () => {
    const a: SchedulingProblem[] = [];
    const b: SchedulingProblem[] = [];
    const loopA = loopOf('a', a);
    await loopA.cycle();
    await loopA.cycle();
    const carried = a[1]!.sources.find((s) => s.id === `subnet:${subnets[39]}`)!;
    expect(carried.connections!.effective![eu.id]).toBeCloseTo(0.02, 9); // a's own walk, carried
    // a loses the lease (released here, as a pause past the TTL would); b leads for a cycle, then hands back.
    await store.releaseLease(LEASE_NAME, 'a');
    const loopB = loopOf('b', b);
    expect((await loopB.cycle()).leader).toBe(true);
    await loopB.stop();
    expect((await loopA.cycle()).leader).toBe(true);
    // a starts again from what the agents measure, not from the state it carried before b's epoch.
    const after = a[2]!.sources.find((s) => s.id === `subnet:${subnets[39]}`)!;
    expect(after.connections!.effective).toEqual({ [us.id]: 1 });
    const [latest] = (await store.listDecisions({ load_balancer_id: lb.id, limit: 1 })).items;
    expect(latest!.inputs.predicted_load_rps_for_this_cycle).toBeNull();
    await loopA.stop();
  });

  it('gives DNS subnets survival, their DNS point and the carried connection state; records units and the prediction', async () => {
    const problems: SchedulingProblem[] = [];
    const registry = new Registry();
    const loop = loopOf('a', problems, registry);
    expect((await loop.cycle()).results[0]!.outcome).toBe('published');
    const first = problems[0]!;
    const s0 = first.sources.find((s) => s.id === `subnet:${subnets[0]}`)!;
    const S = survivalOver(2, 10);
    expect(s0.connections!.survival[us.id]).toBeCloseTo(Math.exp(-0.2), 12);
    expect(s0.connections!.mean_survival![us.id]).toBeCloseTo(S.mean, 12);
    expect(s0.connections!.effective).toEqual({ [us.id]: 1 });
    expect(s0.pick).toBe(dnsPick(subnets[0]!, 'app.lab.example'));

    // Cycle 1 walks at max_shift: the subnets the plan sends to eu keep their load on us for now.
    await loop.cycle();
    const second = problems[1]!;
    const last = second.sources.find((s) => s.id === `subnet:${subnets[39]}`)!;
    expect(last.connections!.effective![us.id]).toBeCloseTo(0.98, 9);
    expect(last.connections!.effective![eu.id]).toBeCloseTo(0.02, 9);

    const [latest, earlier] = (await store.listDecisions({ load_balancer_id: lb.id, limit: 2 })).items;
    expect(latest!.inputs.units).toMatchObject({ unit: 'requests', subnet_demand: expect.stringContaining('requests per connection') });
    expect(latest!.inputs.connections).toMatchObject({ cycle_s: 2, sources_with_state: 40, sources_answered_whole: 40, origins: { us: { mean_lifetime_s: 10 } } });
    // What the first decision predicted for cycle 2 is on record beside what cycle 2 measured.
    expect(latest!.inputs.predicted_load_rps_for_this_cycle).toEqual({ us: earlier!.predicted_load_rps[us.id], eu: earlier!.predicted_load_rps[eu.id] });
    expect(latest!.inputs.measured_load_rps).toEqual({ us: 300 });
    // Pinned load is exported: most of us's load stays on its connections over a 2 s cycle.
    const pinned = (await registry.getMetricsAsJSON()).find((m) => m.name === 'sluice_scheduler_pinned_load_rps')!.values.find((v) => v.labels.origin === 'us')!.value;
    expect(pinned).toBeGreaterThan(0.8 * 300 * S.mean);
    await loop.stop();
  });
});
