// Worker thread entry: runs the decision core off the caller's event loop. A 100k-source solve takes a
// few hundred ms; the live loop (HTTP API, health checks, metrics) must not stall for it.
// Protocol: { id, problem: PackedProblem } in; { id, decision: PackedDecision, solve_ms, memory_mb, stages_ms } or { id, error }
// out, typed arrays transferred (packing.ts). The core runs on the flat forms directly (decideDense).
import { parentPort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import { decideDense } from '../core/decide.ts';
import { lastStages } from '../core/decide-stages.ts';
import { packDecision, type PackedProblem } from './packing.ts';

export interface WorkerRequest {
  id: number;
  problem: PackedProblem;
}

parentPort?.on('message', (msg: WorkerRequest) => {
  try {
    const start = performance.now();
    const decision = decideDense(msg.problem);
    const solve_ms = performance.now() - start;
    // The worker's own memory after the decision: its V8 heap plus the typed arrays it holds (the
    // problem, the cost matrix, scratch and heap arrays kept for the next cycle).
    const heap = getHeapStatistics();
    const memory_mb = Math.round((heap.used_heap_size + heap.external_memory) / 1048576);
    const { packed, transfer } = packDecision(decision);
    parentPort!.postMessage({ id: msg.id, decision: packed, solve_ms, memory_mb, stages_ms: lastStages() }, transfer);
  } catch (err) {
    parentPort!.postMessage({ id: msg.id, error: err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err) });
  }
});
