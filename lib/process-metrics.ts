// The standard process_* and nodejs_* series (CPU, resident memory, heap, event-loop lag, open file
// descriptors, GC) from prom-client's default collectors, without a prefix: dashboards and alerts
// written for any Node service work on every sluice component unchanged. One call per registry.
import { collectDefaultMetrics, type Registry } from 'prom-client';

export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
}
