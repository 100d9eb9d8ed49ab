// The control plane's own metrics. A registry per server instance, so tests can run several.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface ApiMetrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
  duration: Histogram<'method' | 'route'>;
  longPollWaiters: Gauge;
  /** Where the long-poll gauge reads its value; the server points it at its change hub. */
  waitersSource: { current: () => number };
}

export function createApiMetrics(): ApiMetrics {
  const registry = new Registry();
  const waitersSource = { current: () => 0 };
  collectDefaultMetrics({ register: registry, prefix: 'sluice_api_' });
  return {
    registry,
    requests: new Counter({ name: 'sluice_api_requests_total', help: 'HTTP requests by method, route and status', labelNames: ['method', 'route', 'status'], registers: [registry] }),
    duration: new Histogram({
      name: 'sluice_api_request_duration_seconds',
      help: 'HTTP request duration (long-polls included: they are held on purpose)',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60],
      registers: [registry],
    }),
    longPollWaiters: new Gauge({
      name: 'sluice_api_long_poll_waiters',
      help: 'requests held waiting for a view to change',
      registers: [registry],
      collect() {
        this.set(waitersSource.current());
      },
    }),
    waitersSource,
  };
}
