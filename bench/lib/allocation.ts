// Bytes a piece of code allocates on the V8 heap, garbage included: what the heap holds after it, minus
// before, plus everything each garbage collection in between freed (v8.GCProfiler reports the heap's used
// size before and after every GC). Less noisy than resident memory, which depends on when V8 decides to
// collect and whether it gives pages back; this is the rate the collector has to keep up with.
import { GCProfiler, getHeapStatistics } from 'node:v8';

export interface Allocation {
  /** Bytes allocated while `fn` ran. */
  bytes: number;
  /** Garbage collections while it ran (scavenges and mark-compacts). */
  gcs: number;
}

export function measureAllocation(fn: () => void): Allocation {
  const profiler = new GCProfiler();
  profiler.start();
  const before = getHeapStatistics().used_heap_size;
  fn();
  const after = getHeapStatistics().used_heap_size;
  const stats = profiler.stop()?.statistics ?? [];
  let freed = 0;
  for (const s of stats) freed += s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize;
  return { bytes: after - before + freed, gcs: stats.length };
}
