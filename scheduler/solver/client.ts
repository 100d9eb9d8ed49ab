// Async client for the decision worker: `await solver.decide(problem)` runs decide() in a worker thread.
// One worker, requests answered in order; if the worker dies, pending requests reject and the next
// request starts a fresh worker (the live loop then holds its last weights for that cycle).
import type { Worker } from 'node:worker_threads';
import { startWorker } from '../../lib/worker.ts';
import type { SchedulingDecision, SchedulingProblem } from '../core/types.ts';
import { packProblem, unpackDecision, type PackedDecision } from './packing.ts';

export interface TimedDecision {
  decision: SchedulingDecision;
  /** Wall time of decide() inside the worker (without packing and transfer). */
  solve_ms: number;
  /** The worker's V8 heap plus the typed arrays it holds, after the decision (MB). */
  memory_mb?: number;
  /** decide()'s stages inside the worker, wall ms (core/decide-stages.ts). */
  stages_ms?: Record<string, number>;
}

type Reply = { id: number; decision: PackedDecision; solve_ms: number; memory_mb: number; stages_ms: Record<string, number> } | { id: number; error: string };

export class DecisionWorker {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: TimedDecision) => void; reject: (e: Error) => void; sourceIds: string[] }>();

  private ensure(): Worker {
    if (this.worker) return this.worker;
    const w = startWorker(new URL('./worker.ts', import.meta.url));
    w.on('message', (reply: Reply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if ('error' in reply) p.reject(new Error(`solver worker: ${reply.error}`));
      else unpackDecision(reply.decision, p.sourceIds).then((decision) => p.resolve({ decision, solve_ms: reply.solve_ms, memory_mb: reply.memory_mb, stages_ms: reply.stages_ms }), p.reject);
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

  async decide(problem: SchedulingProblem): Promise<TimedDecision> {
    let message;
    try {
      message = await packProblem(problem);
    } catch (err) {
      throw new Error(`solver worker: cannot pack the problem: ${(err as Error).message}`);
    }
    // The worker is (re)started after packing: one that died meanwhile is replaced, not posted to.
    const w = this.ensure();
    const id = this.nextId++;
    return new Promise<TimedDecision>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, sourceIds: message.packed.sourceIds });
      w.postMessage({ id, problem: message.packed }, message.transfer);
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}
