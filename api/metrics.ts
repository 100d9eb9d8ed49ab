// The control plane's own metrics. A registry per server instance, so tests can run several.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { collectProcessMetrics } from '../lib/process-metrics.ts';
import { registerTlsMetrics, type TlsMetrics } from '../lib/tls-metrics.ts';

export interface ApiMetrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
  duration: Histogram<'method' | 'route'>;
  longPollWaiters: Gauge;
  /** Waiting long-polls woken by a store change (each then re-checks its view). */
  longPollWakeups: Counter;
  /** Long-polls refused because their client address already held long_poll_per_client. */
  longPollRefused: Counter;
  /** Active health checks by result: pass, fail, or error (the check itself threw; counted as a fail). */
  healthChecks: Counter<'result'>;
  /** Where the long-poll gauge reads its value; the server points it at its change hub. */
  waitersSource: { current: () => number };
  /** The API's TLS certificate: expiry and reloads (no series without TLS). */
  tls: TlsMetrics;
}

export function createApiMetrics(): ApiMetrics {
  const registry = new Registry();
  const waitersSource = { current: () => 0 };
  collectProcessMetrics(registry);
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
    longPollWakeups: new Counter({ name: 'sluice_api_long_poll_wakeups_total', help: 'held long-polls woken by a store change (a change that leaves a view as it was keeps it waiting)', registers: [registry] }),
    longPollRefused: new Counter({ name: 'sluice_api_long_polls_refused_total', help: 'long-polls answered 429 because their client address already held api.long_poll_per_client', registers: [registry] }),
    healthChecks: new Counter({ name: 'sluice_api_health_checks_total', help: 'active health checks by result: pass, fail, error (the check could not run; counted as a fail)', labelNames: ['result'], registers: [registry] }),
    waitersSource,
    tls: registerTlsMetrics(registry, 'api'),
  };
}
