// The live loop on a real SQLite store and the real decision core; only the metrics backend is
// scripted (the I/O boundary), so each test decides exactly what the scheduler reads.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore, type SqliteStore } from '../api/store/sqlite.ts';
import type { LoadBalancer, Origin } from '../model/index.ts';
import { edgeInputs, ScriptedReader } from './helpers/scheduler-loop.ts';
import { waitFor } from './helpers/wait.ts';
import { decide } from '../scheduler/core/index.ts';
import { emptyInputs, InputsUnavailable, type InputReader } from '../scheduler/inputs/types.ts';
import { SchedulerLoop, type LoopOptions } from '../scheduler/loop/loop.ts';
import { createSchedulerMetrics } from '../scheduler/loop/metrics.ts';

const silent = pino({ level: 'silent' });

let dir: string;
let store: SqliteStore;
let lb: LoadBalancer;
let us: Origin;
let eu: Origin;
let edgeId: string;
let registry: Registry;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-loop-'));
  store = openSqliteStore(dir);
  lb = await store.createLoadBalancer({ name: 'app', listeners: [{ vip: '192.0.2.10', port: 443, protocol: 'tcp' }], policy: 'latency', max_latency_ms: 500, min_samples: 5, max_shift: 0.02, deadband: 0.001, gain: 0.5, enabled: true });
  const base = { port: 443, admin_state: 'active' as const, static_weight: 1, priority: 0 };
  us = await store.createOrigin(lb.id, { ...base, name: 'us', region: 'us', addresses: ['198.51.100.1'], location: { lat: 37.4, lon: -122 }, target_rps: 200, max_rps: 200 });
  eu = await store.createOrigin(lb.id, { ...base, name: 'eu', region: 'eu', addresses: ['198.51.100.2'], location: { lat: 50.1, lon: 8.7 }, target_rps: 1000, max_rps: 1000 });
  edgeId = (await store.createEdge({ name: 'sfo', region: 'us-west', address: '203.0.113.5', location: { lat: 37.6, lon: -122.4 } })).id;
  registry = new Registry();
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function makeLoop(reader: InputReader, holder = 'test-a', metricsRegistry = registry, leaseTtlMs = 5_000, more: Partial<LoopOptions> = {}) {
  return new SchedulerLoop({
    store,
    reader,
    solve: async (p) => ({ decision: decide(p), solve_ms: 0 }),
    log: silent,
    metrics: createSchedulerMetrics(metricsRegistry),
    intervalMs: 60_000,
    inputTimeoutMs: 1_000,
    leaseTtlMs,
    holdCycles: 2,
    latencyTtlMs: 3_600_000,
    locate: () => undefined,
    holder,
    ...more,
  });
}

async function metricValue(name: string, labels: Record<string, string>): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = (m?.values ?? []).find((x) => Object.entries(labels).every(([k, val]) => x.labels[k] === val));
  return v?.value ?? 0;
}

describe('SchedulerLoop', () => {
  it('publishes damped weights each cycle and converges to the capacity split (write-up experiment)', async () => {
    const reader = new ScriptedReader();
    reader.next = () => edgeInputs('sfo', 300, { us: 20, eu: 140 });
    const loop = makeLoop(reader);
    const first = await loop.cycle();
    expect(first.results[0]!.outcome).toBe('published');
    // A new source gets the plan at once: 200 of 300 to the US.
    let w = (await store.getWeights(lb.id))!;
    expect(w.edges[edgeId]![us.id]).toBeCloseTo(2 / 3, 4);
    expect(w.edges[edgeId]![eu.id]).toBeCloseTo(1 / 3, 4);

    // Demand rises to 400: the US share may only fall by max_shift per cycle.
    reader.next = () => edgeInputs('sfo', 400, { us: 20, eu: 140 });
    const versions: number[] = [];
    let previous = w.edges[edgeId]![us.id]!;
    for (let cycle = 0; cycle < 30; cycle++) {
      await loop.cycle();
      w = (await store.getWeights(lb.id))!;
      const share = w.edges[edgeId]![us.id] ?? 0;
      expect(previous - share).toBeLessThanOrEqual(0.02 + 1e-6);
      previous = share;
      versions.push(w.version);
    }
    // Settles on the capacity split, short of it by no more than the deadband (smaller moves are skipped).
    expect(Math.abs(previous - 0.5)).toBeLessThanOrEqual(lb.deadband + 1e-6);
    // Once converged, cycles stop publishing new versions (weights unchanged).
    expect(versions.at(-1)).toBe(versions.at(-5));
    expect(await metricValue('sluice_scheduler_origin_capacity_rps', { origin: 'us', bound: 'max' })).toBe(200);
    expect(await metricValue('sluice_scheduler_predicted_load_rps', { origin: 'us' })).toBeCloseTo(200, 0);
    const decisions = (await store.listDecisions({ limit: 100, load_balancer_id: lb.id })).items;
    expect(decisions[0]!.predicted_load_rps[us.id]).toBeCloseTo(200, 0);
  });

  it('reports each stage of a cycle and gives the event loop a turn between stages', async () => {
    const reader = new ScriptedReader();
    reader.next = () => edgeInputs('sfo', 300, { us: 20, eu: 140 });
    const stages: string[] = [];
    let turns = 0;
    let watching = true;
    const watch = (): void => {
      turns++;
      if (watching) setImmediate(watch);
    };
    const loop = makeLoop(reader, 'test-a', registry, 5_000, { onStage: (stage) => stages.push(`${stage}@${turns}`) });
    setImmediate(watch);
    expect((await loop.cycle()).results[0]!.outcome).toBe('published');
    watching = false;
    const names = stages.map((s) => s.split('@')[0]);
    expect(names).toEqual(['inputs', 'weights_in_force', 'problem', 'summary', 'latency', 'solve', 'split', 'publish']);
    // The watcher ran between every two stages: each stage ended in a turn of its own.
    const at = stages.map((s) => Number(s.split('@')[1]));
    for (let i = 1; i < at.length; i++) expect(at[i]!).toBeGreaterThan(at[i - 1]!);
    const hist = (await registry.getMetricsAsJSON()).find((m) => m.name === 'sluice_scheduler_stage_duration_seconds')!;
    expect(hist.values.find((v) => (v as { metricName?: string }).metricName === 'sluice_scheduler_stage_duration_seconds_count' && v.labels.stage === 'publish')?.value).toBe(1);
  });

  it('tells the decision worker the problem\'s size (prepare) once the problem is built, before it asks for the decision', async () => {
    const reader = new ScriptedReader();
    reader.next = () => edgeInputs('sfo', 300, { us: 20, eu: 140 });
    const calls: string[] = [];
    const loop = makeLoop(reader, 'test-a', registry, 5_000, {
      prepare: (rows, cols, policy) => calls.push(`prepare ${rows}x${cols} ${policy}`),
      solve: async (p) => {
        calls.push(`solve ${p.sources.length}x${p.origins.length}`);
        return { decision: decide(p), solve_ms: 0 };
      },
      onStage: (stage) => calls.push(stage),
    });
    expect((await loop.cycle()).results[0]!.outcome).toBe('published');
    expect(calls.slice(0, 7)).toEqual(['inputs', 'weights_in_force', 'problem', 'prepare 1x2 latency', 'summary', 'latency', 'solve 1x2']);
  });

  it('decides from the weights it published without reading them back, until another writer publishes', async () => {
    const reader = new ScriptedReader();
    reader.next = () => edgeInputs('sfo', 300, { us: 20, eu: 140 });
    let bodyReads = 0;
    const counting = new Proxy(store, {
      get(target, key) {
        if (key === 'getWeights') return (...a: Parameters<SqliteStore['getWeights']>) => (bodyReads++, target.getWeights(...a));
        const v = Reflect.get(target, key) as unknown;
        return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(target) : v;
      },
    });
    const loop = makeLoop(reader, 'test-a', registry, 5_000, { store: counting });
    expect((await loop.cycle()).results[0]!.outcome).toBe('published');
    expect(bodyReads).toBe(1); // nothing published yet: read (null)
    reader.next = () => edgeInputs('sfo', 400, { us: 20, eu: 140 });
    expect((await loop.cycle()).results[0]!.outcome).toBe('published');
    expect(bodyReads).toBe(1); // its own publish is still the version in force: kept, not read back
    const ours = (await store.getWeights(lb.id))!;
    expect(ours.edges[edgeId]![us.id]).toBeCloseTo(2 / 3 - 0.02, 4);
    // Another writer (a replica that led meanwhile, the API) publishes: the next cycle reads those and damps from them.
    await store.publishWeights(lb.id, { edges: { [edgeId]: { [us.id]: 0.9, [eu.id]: 0.1 } } }, { load_balancer_id: lb.id, reason: 'override' });
    expect((await loop.cycle()).results[0]!.outcome).toBe('published');
    expect(bodyReads).toBe(2);
    expect((await store.getWeights(lb.id))!.edges[edgeId]![us.id]).toBeCloseTo(0.9 - 0.02, 4);
  });

  it('holds the weights in force when inputs are unavailable, records why and counts it', async () => {
    const reader = new ScriptedReader();
    reader.next = () => edgeInputs('sfo', 300, { us: 20, eu: 140 });
    const loop = makeLoop(reader);
    await loop.cycle();
    const before = await store.getWeights(lb.id);
    reader.next = () => {
      throw new InputsUnavailable('backend_down', 'Prometheus at http://127.0.0.1:1 failed: ECONNREFUSED');
    };
    const report = await loop.cycle();
    expect(report.results[0]).toMatchObject({ outcome: 'held' });
    expect(await store.getWeights(lb.id)).toEqual(before);
    const last = (await store.listDecisions({ limit: 1 })).items[0]!;
    expect(last).toMatchObject({ reason: 'hold', detail: expect.stringContaining('ECONNREFUSED') });
    expect(await metricValue('sluice_scheduler_held_cycles_total', { reason: 'backend_down' })).toBe(1);

    // All series absent (stale or gone): hold too, never an all-zero answer.
    reader.next = () => emptyInputs();
    await loop.cycle();
    expect(await store.getWeights(lb.id)).toEqual(before);
    expect(await metricValue('sluice_scheduler_held_cycles_total', { reason: 'no_data' })).toBe(1);
  });

  it('a slow backend is cut off at input_timeout and the cycle holds', async () => {
    const reader: InputReader = { read: () => new Promise(() => undefined) };
    const loop = makeLoop(reader);
    const started = Date.now();
    const report = await loop.cycle();
    expect(Date.now() - started).toBeLessThan(3000);
    expect(report.results[0]).toMatchObject({ outcome: 'held', detail: expect.stringContaining('not read within') });
  });

  it('an origin failing its health check gets share 0 in the cycle its failure triggers, undamped', async () => {
    const reader = new ScriptedReader();
    reader.next = () => edgeInputs('sfo', 150, { us: 20, eu: 140 });
    const loop = makeLoop(reader);
    await loop.cycle();
    expect((await store.getWeights(lb.id))!.edges[edgeId]![us.id]).toBeCloseTo(1, 6);
    loop.start();
    try {
      await store.setOriginHealth(us.id, false, 'connect refused');
      const w = await waitFor(async () => {
        const cur = await store.getWeights(lb.id);
        return cur && (cur.edges[edgeId]![us.id] ?? 0) === 0 ? cur : null;
      }, { timeoutMs: 5000, what: 'US share to drop to 0' });
      expect(w.edges[edgeId]![eu.id]).toBe(1);
      const d = (await store.listDecisions({ limit: 1 })).items[0]!;
      expect(d.reason).toBe('health');
    } finally {
      await loop.stop();
    }
  });

  it('an origin one edge cannot reach (edge-local decision) leaves that edge at once, the other edge keeps it', async () => {
    const lax = await store.createEdge({ name: 'lax', region: 'us-west', address: '203.0.113.6', location: { lat: 33.9, lon: -118.4 } });
    const reader = new ScriptedReader();
    reader.next = () => {
      const i = edgeInputs('sfo', 100, { us: 20, eu: 140 });
      i.edgeDemand.set('lax', 50);
      i.edgeRtt.set('lax', new Map(Object.entries({ us: 25, eu: 150 })));
      return i;
    };
    const loop = makeLoop(reader);
    await loop.cycle();
    expect((await store.getWeights(lb.id))!.edges[edgeId]![us.id]).toBeCloseTo(1, 6);
    loop.start();
    try {
      await store.recordHealthDecision({ load_balancer_id: lb.id, origin_id: us.id, edge_id: edgeId, healthy: false, reason: 'unreachable_from_edge', detail: 'edge:sfo sees it down while the quorum does not', votes: [] });
      const w = await waitFor(async () => {
        const cur = await store.getWeights(lb.id);
        return cur && (cur.edges[edgeId]![us.id] ?? 0) === 0 ? cur : null;
      }, { timeoutMs: 5000, what: "US share of edge sfo to drop to 0" });
      expect(w.edges[edgeId]).toEqual({ [eu.id]: 1 });
      expect(w.edges[lax.id]).toEqual({ [us.id]: 1 });
      const d = (await store.listDecisions({ limit: 5 })).items.find((x) => x.weights_version !== null)!;
      expect(d.reason).toBe('health');
      expect(d.inputs.unreachable_from_edges).toEqual({ [`edge:${edgeId}`]: [us.id] });
    } finally {
      await loop.stop();
    }
  });

  it('only the lease holder publishes; the other takes over when it stops', async () => {
    const reader = new ScriptedReader();
    reader.next = () => edgeInputs('sfo', 100, { us: 20, eu: 140 });
    const a = makeLoop(reader, 'a');
    const b = makeLoop(reader, 'b', new Registry());
    expect((await a.cycle()).leader).toBe(true);
    expect((await b.cycle()).leader).toBe(false);
    await a.stop();
    expect((await b.cycle()).leader).toBe(true);
  });

  it('a cycle slower than the lease TTL keeps the lease: it is renewed on its own timer, so no standby takes over', async () => {
    const slow = new ScriptedReader();
    let stalled = false;
    slow.next = async () => {
      // Three TTLs, within input_timeout: a busy Prometheus, a loaded machine.
      await new Promise((r) => setTimeout(r, 1800));
      stalled = true;
      return edgeInputs('sfo', 100, { us: 20, eu: 140 });
    };
    const more = { inputTimeoutMs: 5_000, renewEveryMs: 100 };
    const a = makeLoop(slow, 'a', registry, 600, more);
    const bRegistry = new Registry();
    const b = makeLoop(new ScriptedReader(), 'b', bRegistry, 600, more);
    a.start();
    try {
      // b starts once a's first grant would have lapsed without renewal, while a's cycle is still reading.
      await new Promise((r) => setTimeout(r, 900));
      expect(stalled).toBe(false);
      b.start();
      await waitFor(() => stalled, { timeoutMs: 3000, what: "a's slow read" });
      const published = await waitFor(async () => (await store.getWeights(lb.id))?.version, { timeoutMs: 3000, what: "a's publish" });
      expect(published).toBeGreaterThan(0);
      const decisions = (await store.listDecisions({ limit: 10 })).items;
      expect(decisions.map((d) => d.leader_epoch)).toEqual(decisions.map(() => 1));
      const bLeader = (await bRegistry.getMetricsAsJSON()).find((m) => m.name === 'sluice_scheduler_leader')!.values[0]!.value;
      expect(bLeader).toBe(0);
      expect(await metricValue('sluice_scheduler_fenced_writes_total', {})).toBe(0);
    } finally {
      await b.stop();
      await a.stop();
    }
  });

  it('a leader whose lease lapses mid-cycle (paused) and is taken over cannot publish: fenced, logged, counted', async () => {
    const reader = new ScriptedReader();
    reader.next = () => edgeInputs('sfo', 100, { us: 20, eu: 140 });
    const a = makeLoop(reader, 'a', registry, 300);
    const first = await a.cycle();
    expect(first).toMatchObject({ leader: true, epoch: 1 });
    const published = (await store.getWeights(lb.id))!.version;
    // The next read stalls (a GC pause, SIGSTOP) until another replica has taken the lease over.
    let takenOver = false;
    reader.next = async () => {
      const b = await waitFor(() => store.acquireLease('scheduler', 'b', 60_000), { timeoutMs: 3000, what: 'lease takeover' });
      takenOver = b.epoch === 2;
      return edgeInputs('sfo', 100, { us: 90, eu: 10 });
    };
    const report = await a.cycle();
    expect(takenOver).toBe(true);
    expect(report).toMatchObject({ leader: false, epoch: 1, fenced: true });
    expect((await store.getWeights(lb.id))!.version).toBe(published);
    expect((await store.listDecisions({ limit: 10 })).items.every((d) => d.leader_epoch === 1)).toBe(true);
    expect(await metricValue('sluice_scheduler_fenced_writes_total', {})).toBe(1);
    expect(await metricValue('sluice_scheduler_leader', {})).toBe(0);
  });

  it('a paused leader whose renewal sees the takeover before its cycle writes still cannot publish: the cycle keeps its own fence', async () => {
    // The SIGSTOP case of test/control-plane-ha.test.ts: on resume the renewal timer can run first and
    // find the lease taken (clearing the replica's fence) while the cycle it interrupted is about to
    // write. That write must carry the cycle's epoch and be refused, not go out without a fence.
    const reader = new ScriptedReader();
    reader.next = () => edgeInputs('sfo', 100, { us: 20, eu: 140 });
    let frozen = false;
    let thaw!: () => void;
    const thawed = new Promise<void>((r) => (thaw = r));
    const paused = new Proxy(store, {
      get(target, key) {
        if (key === 'acquireLease') return async (...a: Parameters<SqliteStore['acquireLease']>) => (frozen && a[1] === 'a' ? thawed.then(() => target.acquireLease(...a)) : target.acquireLease(...a));
        const v = Reflect.get(target, key) as unknown;
        return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(target) : v;
      },
    });
    const a = makeLoop(reader, 'a', registry, 300, { store: paused, renewEveryMs: 50 });
    expect(await a.cycle()).toMatchObject({ leader: true, epoch: 1 });
    const published = (await store.getWeights(lb.id))!.version;
    let takenOver = false;
    reader.next = async () => {
      frozen = true; // from here a's renewals hang, as in a paused process
      const b = await waitFor(() => store.acquireLease('scheduler', 'b', 60_000), { timeoutMs: 3000, what: 'lease takeover' });
      takenOver = b.epoch === 2;
      thaw(); // resumed: the pending renewal finds the lease taken before this cycle writes
      await waitFor(async () => (await metricValue('sluice_scheduler_leader', {})) === 0, { timeoutMs: 3000, what: "a's renewal to see the takeover" });
      return edgeInputs('sfo', 100, { us: 90, eu: 10 });
    };
    a.start();
    try {
      await waitFor(async () => (await metricValue('sluice_scheduler_fenced_writes_total', {})) === 1, { timeoutMs: 5000, what: 'the fenced write' });
      expect(takenOver).toBe(true);
      expect((await store.getWeights(lb.id))!.version).toBe(published);
      expect((await store.listDecisions({ limit: 10 })).items.every((d) => d.leader_epoch === 1)).toBe(true);
    } finally {
      await a.stop();
    }
  });

  it('a source missing from the inputs keeps its weights for hold_cycles, then is dropped', async () => {
    const reader = new ScriptedReader();
    const edge2 = (await store.createEdge({ name: 'nyc', region: 'us-east', address: '203.0.113.6', location: { lat: 40.7, lon: -74 } })).id;
    reader.next = () => {
      const i = edgeInputs('sfo', 100, { us: 20, eu: 140 });
      i.edgeDemand.set('nyc', 50);
      i.edgeRtt.set('nyc', new Map([['us', 70], ['eu', 80]]));
      return i;
    };
    const loop = makeLoop(reader);
    await loop.cycle();
    expect(Object.keys((await store.getWeights(lb.id))!.edges).sort()).toEqual([edgeId, edge2].sort());
    reader.next = () => edgeInputs('sfo', 120, { us: 20, eu: 140 });
    for (let i = 0; i < 2; i++) {
      await loop.cycle();
      expect((await store.getWeights(lb.id))!.edges[edge2]).toBeDefined();
    }
    await loop.cycle();
    await loop.cycle();
    expect((await store.getWeights(lb.id))!.edges[edge2]).toBeUndefined();
  });
});
