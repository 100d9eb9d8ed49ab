// edge-sync's /metrics (prom-client, own registry). Names are fixed by the metric contract between
// agent, edge-sync and scheduler; extra series are additions, never renames.
import type { Server } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { createHttpServer, type TlsServing } from '../lib/tls-server.ts';
import { registerTlsMetrics } from '../lib/tls-metrics.ts';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { collectProcessMetrics } from '../lib/process-metrics.ts';
import type { DemandStats } from './dataplane.ts';

/**
 * Turns a data plane's cumulative counters (which restart at 0 on an HAProxy reload, nginx restart,
 * IPVS flush) into increments for our own monotonic counters. The first value seen for a key is a
 * baseline (sluice's counter starts at 0 then, so a restart of sluice never shows as a burst).
 */
export class CounterTracker {
  private readonly last = new Map<string, number>();

  delta(key: string, value: number): number {
    if (!Number.isFinite(value) || value < 0) return 0;
    const prev = this.last.get(key);
    this.last.set(key, value);
    if (prev === undefined) return 0;
    return value >= prev ? value - prev : value;
  }
}

export class EdgeMetrics {
  readonly registry = new Registry();
  /** metrics.tls: the certificate's expiry and reloads. */
  readonly tls = registerTlsMetrics(this.registry, 'edge');
  readonly requests = new Counter({ name: 'sluice_edge_requests_total', help: 'requests (HTTP) or connections (TCP) accepted per listener, from the data plane\'s own statistics', labelNames: ['edge', 'load_balancer', 'listener'], registers: [this.registry] });
  readonly originRequests = new Counter({ name: 'sluice_edge_origin_requests_total', help: 'requests (HTTP) or connections (TCP) sent to each origin', labelNames: ['edge', 'load_balancer', 'origin'], registers: [this.registry] });
  readonly applies = new Counter({ name: 'sluice_edge_applies_total', help: 'apply attempts by result (ok|error)', labelNames: ['edge', 'result'], registers: [this.registry] });
  readonly applyErrors = new Counter({ name: 'sluice_edge_apply_errors_total', help: 'failed applies per data plane', labelNames: ['edge', 'dataplane'], registers: [this.registry] });
  readonly applyDuration = new Histogram({
    name: 'sluice_edge_apply_duration_seconds',
    help: 'time to carry out one plan on a data plane (runtime API commands, ipvsadm -R, file rewrite and check), failed ones included',
    labelNames: ['edge', 'dataplane'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly configVersion = new Gauge({ name: 'sluice_edge_config_version', help: 'weights_version of the EdgeConfig in force', labelNames: ['edge'], registers: [this.registry] });
  readonly weight = new Gauge({ name: 'sluice_edge_weight', help: 'share in force per origin (0..1; 0 when quiesced as unhealthy/disabled)', labelNames: ['edge', 'load_balancer', 'origin'], registers: [this.registry] });
  // Additions beyond the contract.
  readonly changes = new Counter({ name: 'sluice_edge_changes_total', help: 'individual changes made (weights, servers, pools, files)', labelNames: ['edge', 'dataplane'], registers: [this.registry] });
  readonly apiErrors = new Counter({ name: 'sluice_edge_api_errors_total', help: 'control-plane requests that failed, by kind: unreachable, http, auth, invalid, stale, tls (the weights in force stay)', labelNames: ['edge', 'kind'], registers: [this.registry] });
  readonly apiFailovers = new Counter({ name: 'sluice_edge_api_failovers_total', help: 'moves to the next control-plane replica after a failure', labelNames: ['edge'], registers: [this.registry] });
  readonly viewSeq = new Gauge({ name: 'sluice_edge_view_seq', help: "highest store change sequence a control-plane replica confirmed the config in force at; behind the replicas' sluice_api_change_seq for long = a split view", labelNames: ['edge'], registers: [this.registry] });
  readonly held = new Gauge({ name: 'sluice_edge_held_listeners', help: 'listeners left as they are (every share 0, no origins...)', labelNames: ['edge', 'dataplane'], registers: [this.registry] });
  readonly statsErrors = new Counter({ name: 'sluice_edge_stats_errors_total', help: 'failed reads of data-plane statistics', labelNames: ['edge', 'dataplane'], registers: [this.registry] });
  readonly dataplaneRequests = new Counter({ name: 'sluice_edge_dataplane_requests_total', help: 'data-plane-wide requests where only a total exists (nginx stub_status)', labelNames: ['edge', 'dataplane'], registers: [this.registry] });
  readonly lastApply = new Gauge({ name: 'sluice_edge_last_apply_timestamp_seconds', help: 'when the data planes last matched the control plane', labelNames: ['edge'], registers: [this.registry] });
  // This edge as a health vantage point (issue 13).
  readonly originUp = new Gauge({ name: 'sluice_edge_origin_up', help: "this edge's verdict on an origin (1 up, 0 down): its data plane's own checks (HAProxy), or edge-sync's where the data plane keeps none", labelNames: ['edge', 'load_balancer', 'origin'], registers: [this.registry] });
  readonly originCheckLatency = new Gauge({ name: 'sluice_edge_origin_check_latency_seconds', help: 'how long the last passing check of the origin from this edge took', labelNames: ['edge', 'load_balancer', 'origin'], registers: [this.registry] });
  readonly healthReports = new Counter({ name: 'sluice_edge_health_reports_total', help: 'health reports sent to the control plane, by result (ok: a replica accepted it; refused: 401/403, the token may not report; error: no replica could be reached)', labelNames: ['edge', 'result'], registers: [this.registry] });
  readonly localFallback = new Gauge({ name: 'sluice_edge_local_fallback_origins', help: 'origins this edge drops from its own weights because it sees them down and cannot tell the control plane (local fallback)', labelNames: ['edge'], registers: [this.registry] });
  readonly failOpen = new Gauge({ name: 'sluice_edge_fail_open_listeners', help: 'listeners whose every origin is down by quorum: served by all of them (fail open) rather than by none', labelNames: ['edge', 'dataplane'], registers: [this.registry] });
  private readonly tracker = new CounterTracker();

  constructor(private edgeLabel: string) {
    collectProcessMetrics(this.registry);
  }

  get edge(): string {
    return this.edgeLabel;
  }

  setEdge(edge: string): void {
    this.edgeLabel = edge;
  }

  /** Folds one read of a data plane's cumulative counters into the exported counters. */
  recordDemand(dataplane: string, stats: DemandStats): void {
    const edge = this.edgeLabel;
    for (const l of stats.listeners) {
      const d = this.tracker.delta(`${dataplane}\0L\0${l.loadBalancer}\0${l.listener}`, l.value);
      this.requests.inc({ edge, load_balancer: l.loadBalancer, listener: l.listener }, d);
    }
    for (const o of stats.origins) {
      const d = this.tracker.delta(`${dataplane}\0O\0${o.loadBalancer}\0${o.origin}\0${o.key}`, o.value);
      this.originRequests.inc({ edge, load_balancer: o.loadBalancer, origin: o.origin }, d);
    }
    if (stats.total !== undefined) this.dataplaneRequests.inc({ edge, dataplane }, this.tracker.delta(`${dataplane}\0T`, stats.total));
  }

  /** Replaces the weight series with the shares now in force (series of vanished origins are removed). */
  setWeights(rows: { loadBalancer: string; origin: string; share: number }[]): void {
    this.weight.reset();
    for (const r of rows) this.weight.set({ edge: this.edgeLabel, load_balancer: r.loadBalancer, origin: r.origin }, r.share);
  }
}

/** /metrics and /healthz, over HTTPS when `tls` is given (metrics.tls). */
export async function serveMetrics(registry: Registry, host: string, port: number, health: () => unknown, tls?: TlsServing): Promise<Server | HttpsServer> {
  const server = createHttpServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      registry
        .metrics()
        .then((body) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(body);
        })
        .catch((err: Error) => {
          res.writeHead(500);
          res.end(err.message);
        });
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(health()));
      return;
    }
    res.writeHead(404);
    res.end('not found: try /metrics or /healthz\n');
  }, tls);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
