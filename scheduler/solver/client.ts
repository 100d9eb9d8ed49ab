// Async client for the decision worker: `await solver.decide(problem)` runs decide() in a worker thread.
// One worker, requests answered in order; if the worker dies, pending requests reject and the next
// request starts a fresh worker (the live loop then holds its last weights for that cycle).
import type { Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import type { PacedMeter } from '../../lib/steps.ts';
import { startWorker } from '../../lib/worker.ts';
import type { Policy, SchedulingDecision, SchedulingProblem } from '../core/types.ts';
import { packProblem, unpackDecision, type PackedDecision } from './packing.ts';

export interface TimedDecision {
  decision: SchedulingDecision;
  /** Wall time of decide() inside the worker (without packing and transfer). */
  solve_ms: number;
  /** The worker's V8 heap plus the typed arrays it holds, after the decision (MB). */
  memory_mb?: number;
  /** decide()'s stages inside the worker, wall ms (core/decide-stages.ts). */
  stages_ms?: Record<string, number>;
  /** Where the round trip went, thread by thread (benchmarks; see RoundTrip). */
  round_trip?: RoundTrip;
}

/** What the worker measures of one request, on its own thread. Times `*_at` are epoch ms. */
export interface WorkerTiming {
  received_at: number;
  replied_at: number;
  /** The worker thread's CPU time in decide() (absent where the thread clock cannot be read). */
  cpu_ms?: number;
  /** decide()'s stages, the worker thread's CPU ms each. */
  stages_cpu_ms: Record<string, number>;
  /** The worker's GC pauses during decide() (v8.GCProfiler), total / longest / count / by kind. */
  gc_ms: number;
  gc_max_ms: number;
  gc_count: number;
  gc_by_type_ms: Record<string, number>;
  /** The worker's V8 heap in use after the decision (MB; typed arrays not counted). */
  heap_mb: number;
}

/**
 * One decide() round trip split by phase, wall ms, with the CPU of the thread doing each: packing the
 * problem (caller's thread, paced: `pack_cpu_ms` is the CPU inside its slices only), to the worker
 * (post → the worker's handler starts: transfer plus any wait for the worker's thread), decide (the
 * worker), back (the worker's post → the caller's handler runs: transfer plus the caller's queue),
 * unpacking the decision's records (caller's thread, paced).
 */
export interface RoundTrip {
  pack_ms: number;
  pack_cpu_ms: number;
  to_worker_ms: number;
  decide_ms: number;
  back_ms: number;
  unpack_ms: number;
  unpack_cpu_ms: number;
  worker: WorkerTiming;
}

type Reply = { id: number; decision: PackedDecision; solve_ms: number; memory_mb: number; stages_ms: Record<string, number>; timing: WorkerTiming } | { id: number; error: string };

type Pending = {
  resolve: (v: TimedDecision) => void;
  reject: (e: Error) => void;
  sourceIds: string[];
  pack_ms: number;
  pack_cpu_ms: number;
  posted_at: number;
};

const epochMs = (): number => performance.timeOrigin + performance.now();

export class DecisionWorker {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const w = startWorker(new URL('./worker.ts', import.meta.url));
    w.on('message', (reply: Reply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if ('error' in reply) p.reject(new Error(`solver worker: ${reply.error}`));
      else this.unpack(reply, p).then(p.resolve, p.reject);
    });
    const fail = (err: Error): void => {
      if (this.worker === w) this.worker = undefined;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`solver worker exited with code ${code}`)));
    this.worker = w;
    return w;
  }

  private async unpack(reply: Extract<Reply, { decision: PackedDecision }>, p: Pending): Promise<TimedDecision> {
    const arrived = epochMs();
    const meter: PacedMeter = { cpu_ms: 0, slices: 0 };
    const decision = await unpackDecision(reply.decision, p.sourceIds, meter);
    const t = reply.timing;
    const round_trip: RoundTrip = {
      pack_ms: p.pack_ms,
      pack_cpu_ms: p.pack_cpu_ms,
      to_worker_ms: Math.round(t.received_at - p.posted_at),
      decide_ms: Math.round(reply.solve_ms),
      back_ms: Math.round(arrived - t.replied_at),
      unpack_ms: Math.round(epochMs() - arrived),
      unpack_cpu_ms: Math.round(meter.cpu_ms),
      worker: t,
    };
    return { decision, solve_ms: reply.solve_ms, memory_mb: reply.memory_mb, stages_ms: reply.stages_ms, round_trip };
  }

  /**
   * Boots the worker thread now rather than on the first decide(): loading the decision core takes
   * 0.1-0.4 s compiled and ~1.3 s under tsx at load 10, which the first cycle's solve otherwise waits
   * for (measured at 1M: `to_worker_ms` 1,315 of that solve's 5.5 s). Idempotent.
   */
  start(): this {
    this.ensure();
    return this;
  }

  /**
   * Tells the worker the size of the problem about to come (core/prepare.ts): it maps the decision's
   * large arrays while the caller finishes the problem, instead of faulting them in inside the first
   * decide() of that size. No reply; a decide() posted meanwhile waits behind it in the worker's queue.
   */
  prepare(rows: number, cols: number, policy: Policy): void {
    this.ensure().postMessage({ prepare: { rows, cols, policy } });
  }

  async decide(problem: SchedulingProblem): Promise<TimedDecision> {
    let message;
    const packStart = performance.now();
    const meter: PacedMeter = { cpu_ms: 0, slices: 0 };
    try {
      message = await packProblem(problem, meter);
    } catch (err) {
      throw new Error(`solver worker: cannot pack the problem: ${(err as Error).message}`);
    }
    // The worker is (re)started after packing: one that died meanwhile is replaced, not posted to.
    const w = this.ensure();
    const id = this.nextId++;
    const pack_ms = Math.round(performance.now() - packStart);
    return new Promise<TimedDecision>((resolve, reject) => {
      const posted_at = epochMs();
      this.pending.set(id, { resolve, reject, sourceIds: message.packed.sourceIds, pack_ms, pack_cpu_ms: Math.round(meter.cpu_ms), posted_at });
      w.postMessage({ id, problem: message.packed, posted_at }, message.transfer);
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}
