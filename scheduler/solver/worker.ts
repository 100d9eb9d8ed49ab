// Worker thread entry: runs the decision core off the caller's event loop. A 100k-source solve takes a
// few hundred ms; the live loop (HTTP API, health checks, metrics) must not stall for it.
// Protocol: { id, problem: PackedProblem, posted_at } in; { id, decision: PackedDecision, solve_ms,
// memory_mb, stages_ms, timing } or { id, error } out, typed arrays transferred (packing.ts). The core runs
// on the flat forms directly (decideDense). `posted_at` / `timing` are epoch ms (performance.timeOrigin
// + now(), comparable across threads): they split the round trip into transfer, queue and decide.
import { parentPort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { GCProfiler, getHeapStatistics } from 'node:v8';
import { threadCpuMs } from '../../lib/thread-cpu.ts';
import { decideDense } from '../core/decide.ts';
import { lastStages, lastStagesCpu } from '../core/decide-stages.ts';
import { prepareScratch } from '../core/prepare.ts';
import type { Policy } from '../core/types.ts';
import { packDecision, type PackedProblem } from './packing.ts';
import type { WorkerTiming } from './client.ts';

export interface WorkerRequest {
  id: number;
  problem: PackedProblem;
  /** Epoch ms at which the caller posted the request. */
  posted_at?: number;
}

/** The size of the decision the caller is about to ask for (core/prepare.ts); no reply. */
export interface PrepareRequest {
  prepare: { rows: number; cols: number; policy: Policy };
}

const epochMs = (): number => performance.timeOrigin + performance.now();

/** This thread's GC pauses during one decision: v8.GCProfiler answers synchronously (perf_hooks' 'gc'
 * entries would arrive only after the synchronous decide() has replied). `cost` is in µs. */
function gcSummary(p: GCProfiler): Pick<WorkerTiming, 'gc_ms' | 'gc_max_ms' | 'gc_count' | 'gc_by_type_ms'> {
  const stats = (p.stop() as { statistics?: { gcType: string; cost: number }[] } | undefined)?.statistics ?? [];
  let total = 0;
  let max = 0;
  const byType: Record<string, number> = {};
  for (const s of stats) {
    total += s.cost;
    max = Math.max(max, s.cost);
    byType[s.gcType] = (byType[s.gcType] ?? 0) + s.cost / 1000;
  }
  for (const k of Object.keys(byType)) byType[k] = Math.round(byType[k]!);
  return { gc_ms: Math.round(total / 1000), gc_max_ms: Math.round(max / 1000), gc_count: stats.length, gc_by_type_ms: byType };
}

parentPort?.on('message', (msg: WorkerRequest | PrepareRequest) => {
  if ('prepare' in msg) {
    // Best effort: a failure here (out of memory) surfaces, if at all, in the decision that follows.
    try {
      prepareScratch(msg.prepare.rows, msg.prepare.cols, msg.prepare.policy);
    } catch {
      // nothing to report: decide() allocates what it needs itself
    }
    return;
  }
  try {
    const received = epochMs();
    const gcProfiler = new GCProfiler();
    gcProfiler.start();
    const cpu0 = threadCpuMs();
    const start = performance.now();
    const decision = decideDense(msg.problem);
    const solve_ms = performance.now() - start;
    const cpu1 = threadCpuMs();
    const gc = gcSummary(gcProfiler);
    // The worker's own memory after the decision: its V8 heap plus the typed arrays it holds (the
    // problem, the cost matrix, scratch and heap arrays kept for the next cycle).
    const heap = getHeapStatistics();
    const memory_mb = Math.round((heap.used_heap_size + heap.external_memory) / 1048576);
    const { packed, transfer } = packDecision(decision);
    const timing: WorkerTiming = {
      received_at: received,
      ...gc,
      heap_mb: Math.round(heap.used_heap_size / 1048576),
      ...(cpu0 !== undefined && cpu1 !== undefined ? { cpu_ms: Math.round(cpu1 - cpu0) } : {}),
      stages_cpu_ms: lastStagesCpu(),
      replied_at: epochMs(),
    };
    parentPort!.postMessage({ id: msg.id, decision: packed, solve_ms, memory_mb, stages_ms: lastStages(), timing }, transfer);
  } catch (err) {
    parentPort!.postMessage({ id: msg.id, error: err instanceof Error ? `${err.message}\n${err.stack ?? ''}` : String(err) });
  }
});
