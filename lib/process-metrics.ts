// The standard process_* and nodejs_* series (CPU, resident memory, heap, event-loop lag, open file
// descriptors, GC) from prom-client's default collectors, without a prefix: dashboards and alerts
// written for any Node service work on every sluice component unchanged. Idempotent per registry,
// so a process whose registry is filled by several modules (sluice dns in one process) gets one set.
// prom-client gives each series an aggregator, so `sluice dns` merging its workers' registries sums
// CPU and memory across processes. Loaded through lib/prom.ts (not prom-client's index: ~8 MB less
// resident in the agent).
import type { Registry } from 'prom-client';
import { collectDefaultMetrics } from './prom.ts';

export function collectProcessMetrics(registry: Registry): void {
  if (registry.getSingleMetric('process_cpu_seconds_total')) return;
  collectDefaultMetrics({ register: registry });
}
