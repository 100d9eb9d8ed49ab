// The decision core in a worker thread (how the live loop runs it): same answer as in-process, the
// caller's event loop stays free while a large problem is solved, and a bad problem is an error, not a
// dead worker.
import { afterAll, describe, expect, it } from 'vitest';
import { decide } from '../scheduler/core/decide.ts';
import type { SchedulingProblem } from '../scheduler/core/types.ts';
import { DecisionWorker } from '../scheduler/solver/client.ts';

const worker = new DecisionWorker();
afterAll(() => worker.close());

function bigProblem(n: number, K: number): SchedulingProblem {
  let s = 12345;
  const r = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const origins = Array.from({ length: K }, (_, j) => ({ id: `o${j}`, target_rps: 0, max_rps: 0, healthy: true, admin_state: 'active' as const, static_weight: 1, priority: 0 }));
  const sources = Array.from({ length: n }, (_, i) => ({ id: `10.${(i >> 8) & 255}.${i & 255}.0/24`, demand_rps: r() * 10, rtt_ms: Object.fromEntries(origins.map((o) => [o.id, 5 + r() * 295])) }));
  const D = sources.reduce((a, x) => a + x.demand_rps, 0);
  for (const o of origins) o.target_rps = o.max_rps = (D * 1.1) / K;
  return { policy: 'latency', max_shift: 0.02, deadband: 0.005, max_latency_ms: 500, origins, sources, current: {} };
}

describe('solver worker', () => {
  it('returns exactly what decide() returns in-process', async () => {
    const p = bigProblem(500, 6);
    const { decision, solve_ms, memory_mb, stages_ms } = await worker.decide(p);
    expect(solve_ms).toBeGreaterThan(0);
    expect(memory_mb).toBeGreaterThan(0); // the worker's own heap + typed arrays, reported with every decision
    // decide()'s stages, timed inside the worker: each present, none longer than the whole decision.
    for (const stage of ['costs', 'merge', 'capacity', 'solve', 'damping', 'prediction', 'objectives', 'output']) {
      expect(stages_ms?.[stage], stage).toBeGreaterThanOrEqual(0);
      expect(stages_ms![stage]!, stage).toBeLessThanOrEqual(solve_ms + 1);
    }
    expect(decision).toEqual(decide(p));
  });

  it('splits the round trip by phase and thread: the worker\'s CPU, GC and stages, packing and unpacking', async () => {
    const p = bigProblem(3000, 8);
    const t = performance.now();
    const { round_trip: rt, solve_ms, stages_ms } = await worker.decide(p);
    const wall = performance.now() - t;
    expect(rt).toBeDefined();
    // Every phase measured, none negative, together no longer than the whole call (1 ms rounding each).
    const phases = [rt!.pack_ms, rt!.to_worker_ms, rt!.decide_ms, rt!.back_ms, rt!.unpack_ms];
    for (const ms of phases) expect(ms).toBeGreaterThanOrEqual(0);
    expect(phases.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(wall + phases.length);
    expect(rt!.decide_ms).toBe(Math.round(solve_ms));
    // The worker thread's own CPU clock: it did the decide, so it used some, and no more than it could
    // in the wall time (one thread, 1 ms of rounding and clock granularity).
    expect(rt!.worker.cpu_ms).toBeGreaterThan(0);
    expect(rt!.worker.cpu_ms!).toBeLessThanOrEqual(solve_ms + 2);
    // Its stages' CPU are the same stages as their wall times.
    expect(Object.keys(rt!.worker.stages_cpu_ms)).toEqual(Object.keys(stages_ms!));
    expect(rt!.worker.gc_count).toBeGreaterThanOrEqual(0);
    expect(rt!.worker.gc_ms).toBeLessThanOrEqual(solve_ms + 1);
    expect(rt!.pack_cpu_ms).toBeLessThanOrEqual(rt!.pack_ms + 2);
  });

  it('with connection state and sources answered whole: the same answer too (the extra arrays cross the thread)', async () => {
    const p = bigProblem(300, 4);
    p.sources.forEach((src, i) => {
      src.connections = { effective: { o0: 0.5, o1: 0.5 }, survival: { o0: 0.6, o1: 0.6, o2: 0.6, o3: 0.6 }, mean_survival: { o0: 0.8, o1: 0.8, o2: 0.8, o3: 0.8 } };
      if (i % 2 === 0) src.pick = (i % 97) / 97;
    });
    const { decision } = await worker.decide(p);
    expect(decision.connections).toBeDefined();
    expect(decision).toEqual(decide(p));
  });

  it('carries per-source excluded origins across the thread boundary', async () => {
    const p = bigProblem(200, 4);
    p.sources[0]!.excluded = ['o0', 'o1'];
    p.sources[7]!.excluded = ['o3'];
    const { decision } = await worker.decide(p);
    expect(decision).toEqual(decide(p));
    expect(decision.weights[p.sources[0]!.id]!.o0 ?? 0).toBe(0);
    expect(decision.weights[p.sources[7]!.id]!.o3 ?? 0).toBe(0);
  });

  it('keeps the caller\'s event loop free during a 20k-source solve', async () => {
    const p = bigProblem(20_000, 20);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const { decision, solve_ms } = await worker.decide(p);
    clearInterval(timer);
    expect(decision.status).toBe('ok');
    expect(Object.keys(decision.weights)).toHaveLength(20_000);
    // The timer kept firing while the worker solved (not one long block of the main thread).
    expect(ticks).toBeGreaterThan(Math.floor(solve_ms / 5 / 4));
  });

  it('a malformed problem rejects with the error and the worker stays usable', async () => {
    const broken = { ...bigProblem(3, 2), origins: undefined } as unknown as SchedulingProblem;
    await expect(worker.decide(broken)).rejects.toThrow(/solver worker:/);
    const ok = await worker.decide(bigProblem(3, 2));
    expect(ok.decision.status).toBe('ok');
  });
});
