// Worker thread entry: runs the decision core off the caller's event loop. A 100k-source solve takes a
// few hundred ms; the live loop (HTTP API, health checks, metrics) must not stall for it.
// Protocol: { id, problem: PackedProblem } in; { id, decision: PackedDecision, solve_ms } or { id, error }
// out, typed arrays transferred (packing.ts). The core runs on the flat forms directly (decideDense).
import { parentPort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { decideDense } from '../core/decide.ts';
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
    const { packed, transfer } = packDecision(decision);
    parentPort!.postMessage({ id: msg.id, decision: packed, solve_ms }, transfer);
  } catch (err) {
    parentPort!.postMessage({ id: msg.id, error: err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err) });
  }
});
