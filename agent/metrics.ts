// Prometheus exposition. Two endpoints: the main registry (prom-client) stays small whatever the
// traffic; the per-subnet one holds at most `subnet_series_budget` subnets (the busiest), written from
// the latest export at each scrape (subnet-exposition.ts: the running agent's collector worker writes
// it, this class keeps the bytes), so that a subnet leaving the top N (or expiring) loses its series at
// once.
import { getHeapStatistics } from 'node:v8';
import { registerTlsMetrics } from '../lib/tls-metrics.ts';
import { collectProcessMetrics } from '../lib/process-metrics.ts';
import { Counter, Gauge, Histogram, Registry } from '../lib/prom.ts';
import type { PollReport, SubnetExport } from './poller.ts';
import { CONTENT_TYPE, renderSubnetExposition, SUBNET_FAMILIES, type SubnetExposition } from './subnet-exposition.ts';

export interface ChurnState {
  kernelPassiveOpens: number;
  countedInbound: number;
  agentHttpAccepts: number;
  /** The latest estimate kernel - counted - own; may dip transiently when an own accept is seen early. */
  gap: number;
  /** The exported counter: the running maximum of `gap` (monotonic, so it never overshoots). */
  uncounted: number;
}

export class AgentMetrics {
  readonly main = new Registry();
  /** /metrics/subnets, written from the latest export (subnet-exposition.ts). */
  readonly subnets = {
    contentType: CONTENT_TYPE,
    /** The bytes the endpoint serves, as they came (no copy, no decoding). */
    body: (): Uint8Array => this.subnetBody,
    /** The same as text (tests, tools). */
    metrics: async () => Buffer.from(this.subnetBody.buffer, this.subnetBody.byteOffset, this.subnetBody.byteLength).toString('utf8'),
    /** The families it writes (names, types, help), shaped like prom-client's, for tooling and tests. */
    getMetricsAsJSON: async () => SUBNET_FAMILIES.map((f) => ({ ...f, values: [] })),
  };
  /** The endpoints' TLS certificate (config.tls): expiry and reloads. */
  readonly tls = registerTlsMetrics(this.main, 'agent');
  private readonly connections: Counter<'port'>;
  private readonly upstreamRtt: Gauge<'upstream'>;
  private readonly upstreamMinRtt: Gauge<'upstream'>;
  private readonly upstreamConnections: Counter<'upstream'>;
  private readonly pollDuration: Histogram;
  private readonly polls: Counter<'result'>;
  private readonly sockets: Gauge<'direction'>;
  private readonly tracked: Gauge;
  private readonly exportedSubnets: Gauge<'as'>;
  private readonly evicted: Counter;
  private readonly expired: Counter;
  private readonly errors: Counter<'kind'>;
  private readonly passiveOpens: Counter;
  private readonly uncounted: Counter;
  private readonly lastPoll: Gauge;
  // Connection turnover (learning/turnover.ts): what the scheduler fits connection lifetimes from.
  private readonly openConnections: Gauge<'port'>;
  private readonly closes: Counter<'port'>;
  private readonly connectionSeconds: Counter<'port'>;
  private readonly bytes: Counter<'port' | 'direction'>;
  private readonly surviving: Gauge<'port'>;
  private readonly survivingMean: Gauge<'port'>;
  private readonly heap: Gauge<'thread' | 'kind'>;

  /** Cumulative values already exported, to turn the worker's totals into counter increments. */
  private prev = { evicted: 0, expired: 0, ports: new Map<string, number>(), errors: new Map<string, number>(), upstreams: new Map<string, number>(), turnover: new Map<string, number>() };
  private baseline: { passive: number; counted: number; http: number } | null = null;
  /** /metrics/subnets as last written, and the id of its export (null: made here, not by the collector). */
  private subnetBody: Uint8Array;
  private subnetExpositionId: string | null = null;
  /** The previous poll's kernel and agent counts, evaluated at the next poll (see applyChurn). */
  private pending: { passive: number; counted: number } | null = null;
  readonly churn: ChurnState = { kernelPassiveOpens: 0, countedInbound: 0, agentHttpAccepts: 0, gap: 0, uncounted: 0 };

  constructor(private readonly node: string) {
    this.subnetBody = renderSubnetExposition({ names: '', values: new Float64Array(0), count: 0 }, node);
    this.main.setDefaultLabels({ node });
    collectProcessMetrics(this.main);
    const m = [this.main];
    this.connections = new Counter({ name: 'sluice_agent_connections_total', help: 'New inbound connections per service port, counted once when first seen (demand).', labelNames: ['port'], registers: m });
    this.upstreamRtt = new Gauge({ name: 'sluice_agent_upstream_rtt_seconds', help: 'Smoothed (EWMA) RTT of connections to an upstream.', labelNames: ['upstream'], registers: m });
    this.upstreamMinRtt = new Gauge({ name: 'sluice_agent_upstream_min_rtt_seconds', help: 'Minimum RTT seen to an upstream.', labelNames: ['upstream'], registers: m });
    this.upstreamConnections = new Counter({ name: 'sluice_agent_upstream_connections_total', help: 'New connections to an upstream, counted once when first seen.', labelNames: ['upstream'], registers: m });
    this.pollDuration = new Histogram({ name: 'sluice_agent_poll_duration_seconds', help: 'Time to dump, parse and learn from the TCP table once.', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: m });
    this.polls = new Counter({ name: 'sluice_agent_polls_total', help: 'Polls by result: ok, partial (a dump did not finish), failed (no answer from the collector).', labelNames: ['result'], registers: m });
    this.sockets = new Gauge({ name: 'sluice_agent_sockets', help: 'TCP sockets on a service or upstream port in the last poll, by direction (inbound: clients on a service port; outbound: to an upstream; other: ignored, e.g. loopback peers or another host on an upstream port).', labelNames: ['direction'], registers: m });
    this.tracked = new Gauge({ name: 'sluice_agent_subnets_tracked', help: 'Client subnets in the learning table.', registers: m });
    this.exportedSubnets = new Gauge({ name: 'sluice_agent_exported_subnets', help: 'Subnets of the learning table by how /metrics/subnets exports them: own (a series of their own), aggregate (inside a coarser prefix\'s series), none (not exported: the budget is spent).', labelNames: ['as'], registers: m });
    this.evicted = new Counter({ name: 'sluice_agent_subnets_evicted_total', help: 'Subnets evicted because the table reached max_subnets (least recently seen first).', registers: m });
    this.expired = new Counter({ name: 'sluice_agent_subnets_expired_total', help: 'Subnets dropped after subnet_ttl without traffic.', registers: m });
    this.errors = new Counter({ name: 'sluice_agent_collector_errors_total', help: 'Collector errors by kind (malformed netlink data, syscalls, timeouts, worker failures).', labelNames: ['kind'], registers: m });
    this.passiveOpens = new Counter({ name: 'sluice_agent_kernel_passive_opens_total', help: 'Connections the kernel accepted in this network namespace since the agent started (Tcp PassiveOpens).', registers: m });
    this.uncounted = new Counter({ name: 'sluice_agent_uncounted_connections_total', help: 'Accepted connections the agent did not count as service demand (kernel PassiveOpens minus counted minus the agent\'s own HTTP accepts): an upper bound on demand missed between polls.', registers: m });
    this.lastPoll = new Gauge({ name: 'sluice_agent_last_poll_timestamp_seconds', help: 'When the last complete poll finished (Unix time).', registers: m });
    this.openConnections = new Gauge({ name: 'sluice_agent_open_connections', help: 'Inbound connections ESTABLISHED at the last poll, per service port.', labelNames: ['port'], registers: m });
    this.closes = new Counter({ name: 'sluice_agent_connection_closes_total', help: 'Inbound connections seen ESTABLISHED that closed (seen closing, or gone from a complete dump), per service port.', labelNames: ['port'], registers: m });
    this.connectionSeconds = new Counter({ name: 'sluice_agent_connection_seconds_total', help: 'Seconds inbound connections were observed open, summed over connections (its rate is the mean number open), per service port. With closes: the mean connection lifetime.', labelNames: ['port'], registers: m });
    this.bytes = new Counter({ name: 'sluice_agent_bytes_total', help: 'Bytes on inbound connections (sent: tcpi_bytes_acked, received: tcpi_bytes_received), per service port.', labelNames: ['port', 'direction'], registers: m });
    // Where the memory goes: process_resident_memory_bytes comes with the process metrics above (as
    // node_exporter reports its own); this adds the V8 heap of each thread (main: HTTP and metrics, read
    // at scrape; collector: netlink dump and learning table, reported with each poll).
    const heap = (this.heap = new Gauge({ name: 'sluice_agent_heap_bytes', help: 'V8 heap per agent thread: used (live and not yet collected objects) and physical (committed pages).', labelNames: ['thread', 'kind'], registers: m, collect() { setHeap(heap, 'main', getHeapStatistics()); } }));
    this.surviving = new Gauge({ name: 'sluice_agent_open_connections_surviving', help: 'Of the open inbound connections, how many are expected still open after survival_horizon (from their ages and the port\'s recent lifetimes), per service port.', labelNames: ['port'], registers: m });
    this.survivingMean = new Gauge({ name: 'sluice_agent_open_connections_surviving_mean', help: 'Of the open inbound connections, how many are expected open on average over survival_horizon, per service port.', labelNames: ['port'], registers: m });
    for (const direction of ['inbound', 'outbound', 'other']) this.sockets.set({ direction }, 0);
    this.tracked.set(0);
  }

  pollFailed(): void {
    this.polls.inc({ result: 'failed' });
  }

  countError(kind: string, n = 1): void {
    this.errors.inc({ kind }, n);
  }

  /**
   * Folds one poll report. `httpBefore`: connections the agent's HTTP server had accepted when the poll
   * was requested; `httpNow`: accepted by now (after the report arrived). Used for churn accounting.
   */
  apply(r: PollReport, httpBefore: number, httpNow: number = httpBefore, nowMs = Date.now()): void {
    this.polls.inc({ result: r.complete ? 'ok' : 'partial' });
    this.pollDuration.observe(r.durationSeconds);
    if (r.complete) this.lastPoll.set(nowMs / 1000);
    for (const [direction, n] of Object.entries(r.sockets)) this.sockets.set({ direction }, n);
    this.tracked.set(r.subnetsTracked);
    if (r.topSubnets) {
      const exported = r.topSubnets.count;
      this.applyExport({ topSubnets: r.topSubnets, exportedSubnets: r.exportedSubnets ?? { own: exported, aggregate: 0, none: Math.max(0, r.subnetsTracked - exported) } });
    }
    if (r.heap) setHeap(this.heap, 'collector', r.heap);
    this.evicted.inc(Math.max(0, r.evictedTotal - this.prev.evicted));
    this.prev.evicted = r.evictedTotal;
    this.expired.inc(Math.max(0, r.expiredTotal - this.prev.expired));
    this.prev.expired = r.expiredTotal;
    incDeltas(this.prev.ports, r.connectionsByPort, (port, d) => this.connections.inc({ port }, d));
    incDeltas(this.prev.errors, r.errors, (kind, d) => this.errors.inc({ kind }, d));
    incDeltas(this.prev.upstreams, Object.fromEntries(r.upstreams.map((u) => [u.upstream, u.connections])), (upstream, d) => this.upstreamConnections.inc({ upstream }, d));
    for (const u of r.upstreams) {
      if (u.rttSeconds === undefined) continue;
      this.upstreamRtt.set({ upstream: u.upstream }, u.rttSeconds);
      this.upstreamMinRtt.set({ upstream: u.upstream }, u.minRttSeconds ?? u.rttSeconds);
    }
    this.applyChurn(r, httpBefore, httpNow);
    this.applyTurnover(r);
  }

  /** An export made in this thread (tests, benchmarks, a report carrying one): written here. */
  applyExport(x: SubnetExport): void {
    this.applySubnetExposition({ id: '', exportedSubnets: x.exportedSubnets, body: renderSubnetExposition(x.topSubnets, this.node) });
    this.subnetExpositionId = null;
  }

  /**
   * /metrics/subnets as the collector wrote it, and sluice_agent_exported_subnets: the running agent asks
   * for it at each scrape of /metrics/subnets (Poller.exportSubnets), so the gauge tells how the last
   * such scrape was exported. Without a body the export is the one already held (`id`).
   */
  applySubnetExposition(x: SubnetExposition): void {
    for (const [as, n] of Object.entries(x.exportedSubnets)) this.exportedSubnets.set({ as }, n);
    if (x.body) {
      this.subnetBody = x.body;
      this.subnetExpositionId = x.id;
    }
  }

  /** The collector export whose exposition is held (the `have` of the next `subnets` request). */
  get subnetExport(): string | null {
    return this.subnetExpositionId;
  }

  /** Per service port: open connections now, and the cumulative turnover counters as increments. */
  private applyTurnover(r: PollReport): void {
    this.surviving.reset();
    this.survivingMean.reset();
    for (const [port, t] of Object.entries(r.ports ?? {})) {
      this.openConnections.set({ port }, t.open);
      this.surviving.set({ port }, t.survivors?.surviving ?? 0);
      this.survivingMean.set({ port }, t.survivors?.survivingMean ?? 0);
      const deltas: [string, number, (d: number) => void][] = [
        [`closes|${port}`, t.closes, (d) => this.closes.inc({ port }, d)],
        [`seconds|${port}`, t.connectionSeconds, (d) => this.connectionSeconds.inc({ port }, d)],
        [`sent|${port}`, t.bytesSent, (d) => this.bytes.inc({ port, direction: 'sent' }, d)],
        [`received|${port}`, t.bytesReceived, (d) => this.bytes.inc({ port, direction: 'received' }, d)],
      ];
      for (const [key, total, inc] of deltas) {
        const d = total - (this.prev.turnover.get(key) ?? 0);
        if (d > 0) inc(d);
        this.prev.turnover.set(key, total);
      }
    }
  }

  /**
   * uncounted = ΔPassiveOpens − Δcounted − Δown HTTP accepts. The kernel counter is read in the worker,
   * the HTTP accepts are counted on this thread when node gets to them, so the two are never read at the
   * same instant. The error must only ever make `uncounted` low (it is a monotonic counter: an overshoot
   * would stick): the baseline takes the accepts seen *before* the poll was requested, and each poll's
   * kernel value is settled one poll later, against every accept seen by then.
   */
  private applyChurn(r: PollReport, httpBefore: number, httpNow: number): void {
    if (r.passiveOpens === null) return;
    if (!this.baseline) {
      // Connections alive at start-up were opened before we looked: count from the first poll on.
      this.baseline = { passive: r.passiveOpens, counted: r.countedInbound, http: httpBefore };
      this.pending = { passive: r.passiveOpens, counted: r.countedInbound };
      return;
    }
    const settle = this.pending ?? { passive: r.passiveOpens, counted: r.countedInbound };
    this.pending = { passive: r.passiveOpens, counted: r.countedInbound };
    const kernel = settle.passive - this.baseline.passive;
    const counted = settle.counted - this.baseline.counted;
    const own = httpNow - this.baseline.http;
    this.passiveOpens.inc(Math.max(0, kernel - this.churn.kernelPassiveOpens));
    const gap = kernel - counted - own;
    const uncounted = Math.max(this.churn.uncounted, gap);
    this.uncounted.inc(uncounted - this.churn.uncounted);
    Object.assign(this.churn, { kernelPassiveOpens: Math.max(kernel, this.churn.kernelPassiveOpens), countedInbound: counted, agentHttpAccepts: own, gap, uncounted });
  }
}

function incDeltas(prev: Map<string, number>, now: Record<string, number>, inc: (key: string, delta: number) => void): void {
  for (const [key, total] of Object.entries(now)) {
    const d = total - (prev.get(key) ?? 0);
    if (d > 0) inc(key, d);
    prev.set(key, total);
  }
}

function setHeap(g: Gauge<'thread' | 'kind'>, thread: string, h: { used_heap_size: number; total_physical_size: number }): void {
  g.set({ thread, kind: 'used' }, h.used_heap_size);
  g.set({ thread, kind: 'physical' }, h.total_physical_size);
}
