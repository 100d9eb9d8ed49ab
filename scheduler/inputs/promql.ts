// Reads the scheduler's inputs from Prometheus (or any PromQL backend), one instant query per input
// (prometheus-server.ts, its answers parsed in paced steps). Each input has a default query on sluice's
// own agent and edge-sync metrics; any of them can be replaced, globally or per load balancer, e.g. to
// read HAProxy's, nginx's or Envoy's exporters instead, as long as the result carries the labels in
// QUERY_LABELS.
import { capacityUnitOf, type CapacityUnit, type LoadBalancer } from '../../model/index.ts';
import { runPaced, STEP_ITEMS, type Steps } from '../../lib/steps.ts';
import { assembleInputsSteps, edgeOriginUnitOf, QUERY_LABELS, type QueryName, type RawInputs, type Series } from './assemble.ts';
import { toCapacityUnitSteps } from './convert.ts';
import type { ClientTls } from '../../lib/tls-client.ts';
import type { RejectionCounter } from './guard.ts';
import { PrometheusServer } from './prometheus-server.ts';
import { RECORDED_EDGE_DEMAND_IN, RECORDED_QUERIES } from './recording-rules.ts';
import { ShardedQuery, type ShardEvents, type ShardFailures } from './shards.ts';
import { InputsUnavailable, type InputReader, type LbInputs, type ReadContext } from './types.ts';

export type { QueryName };

/**
 * Placeholders: $lb (load balancer name), $origins (regex of its origin names), $edges (regex of edge
 * names), $ports (regex of its listener ports), $window (rate window), $stale (how old a gauge may be).
 * Every query's unit is fixed (assemble.ts QUERY_LABELS, convert.ts): an override must count the same
 * thing — origin_requests requests per second, subnet_demand new connections per second, and so on.
 */
export const DEFAULT_QUERIES: Record<QueryName, string | null> = {
  edge_demand: 'sum by (edge, listener) (rate(sluice_edge_requests_total{load_balancer="$lb"}[$window]))',
  edge_origin_demand: 'sum by (edge, origin) (rate(sluice_edge_origin_requests_total{load_balancer="$lb"}[$window]))',
  edge_rtt: 'last_over_time(sluice_agent_upstream_rtt_seconds{node=~"$edges"}[$stale])',
  subnet_demand: 'sum by (subnet, node) (rate(sluice_agent_subnet_connections_total{node=~"$origins"}[$window]))',
  subnet_connection_seconds: 'sum by (subnet, node) (rate(sluice_agent_subnet_connection_seconds_total{node=~"$origins"}[$window]))',
  subnet_closes: 'sum by (subnet, node) (rate(sluice_agent_subnet_connection_closes_total{node=~"$origins"}[$window]))',
  subnet_rtt: 'last_over_time(sluice_agent_client_rtt_seconds{node=~"$origins"}[$stale])',
  subnet_samples: 'last_over_time(sluice_agent_client_rtt_samples_total{node=~"$origins"}[$stale])',
  // The origins' own request counters have no name sluice could know: off until configured (README).
  origin_requests: null,
  origin_connections: 'sum by (node) (rate(sluice_agent_connections_total{node=~"$origins"}[$window]))',
  origin_bytes: 'sum by (node) (rate(sluice_agent_bytes_total{node=~"$origins"}[$window]))',
  edge_connection_seconds: 'sum by (node) (rate(sluice_agent_connection_seconds_total{node=~"$edges",port=~"$ports"}[$window]))',
  edge_closes: 'sum by (node) (rate(sluice_agent_connection_closes_total{node=~"$edges",port=~"$ports"}[$window]))',
  // Connections open now and their expected survivors over the agents' survival_horizon (gauges).
  subnet_open: 'sum by (subnet, node) (last_over_time(sluice_agent_subnet_open_connections{node=~"$origins"}[$stale]))',
  subnet_surviving: 'sum by (subnet, node) (last_over_time(sluice_agent_subnet_open_connections_surviving{node=~"$origins"}[$stale]))',
  subnet_surviving_mean: 'sum by (subnet, node) (last_over_time(sluice_agent_subnet_open_connections_surviving_mean{node=~"$origins"}[$stale]))',
  edge_open: 'sum by (node) (last_over_time(sluice_agent_open_connections{node=~"$edges",port=~"$ports"}[$stale]))',
  edge_surviving: 'sum by (node) (last_over_time(sluice_agent_open_connections_surviving{node=~"$edges",port=~"$ports"}[$stale]))',
  edge_surviving_mean: 'sum by (node) (last_over_time(sluice_agent_open_connections_surviving_mean{node=~"$edges",port=~"$ports"}[$stale]))',
  // When the survivors above were counted (scheduler/loop/answer-survival.ts times answer changes against it).
  origin_polled: 'max by (node) (last_over_time(sluice_agent_last_poll_timestamp_seconds{node=~"$origins"}[$stale]))',
  origin_health: null,
};

/** Edge demand in the other capacity units comes from the edge's agent, on this load balancer's listener ports. */
const EDGE_DEMAND_IN: Record<CapacityUnit, string> = {
  requests: DEFAULT_QUERIES.edge_demand!,
  connections: 'sum by (edge) (label_replace(rate(sluice_agent_connections_total{node=~"$edges",port=~"$ports"}[$window]), "edge", "$1", "node", "(.*)"))',
  bytes: 'sum by (edge) (label_replace(rate(sluice_agent_bytes_total{node=~"$edges",port=~"$ports"}[$window]), "edge", "$1", "node", "(.*)"))',
};

/** Inputs a capacity unit never reads (not queried unless overridden). */
const UNUSED_IN: Record<CapacityUnit, QueryName[]> = {
  requests: ['origin_bytes'],
  connections: ['origin_requests', 'origin_bytes', 'edge_origin_demand'],
  bytes: ['origin_requests', 'edge_origin_demand'],
};

/**
 * Connection turnover a load balancer never uses, not queried (each cycle's queries cost the scheduler
 * and Prometheus time): survivors and closes of DNS clients' connections without a DNS name, and of
 * the edges' client connections when every listener is HTTP (HTTP edges balance every request: nothing
 * is pinned there). subnet_connection_seconds stays: it also shares an origin's requests out.
 */
export function unusedTurnover(lb: Pick<LoadBalancer, 'dns' | 'listeners'>): QueryName[] {
  return [
    ...(lb.dns ? [] : (['subnet_closes', 'subnet_open', 'subnet_surviving', 'subnet_surviving_mean', 'origin_polled'] as const)),
    ...(edgeOriginUnitOf(lb.listeners) === 'connections' ? [] : (['edge_connection_seconds', 'edge_closes', 'edge_open', 'edge_surviving', 'edge_surviving_mean'] as const)),
  ];
}

/** The default queries for a capacity unit, on the raw series or on the recorded ones (recording-rules.ts). */
export function defaultQueries(unit: CapacityUnit, recorded = false): Record<QueryName, string | null> {
  const q: Record<QueryName, string | null> = recorded ? { ...RECORDED_QUERIES, edge_demand: RECORDED_EDGE_DEMAND_IN[unit] } : { ...DEFAULT_QUERIES, edge_demand: EDGE_DEMAND_IN[unit] };
  for (const name of UNUSED_IN[unit]) q[name] = null;
  return q;
}

/** Overrides as configured; `origin_load` is the old name of origin_connections (still accepted). */
export type QueryOverrides = Partial<Record<QueryName | 'origin_load', string | null>>;

/** One Prometheus of several (prometheus.shards), e.g. one per region. */
export interface ShardOptions {
  name: string;
  url: string;
  /** On top of PromqlOptions.headers (a shard's own win). */
  headers?: Record<string, string>;
}

export interface PromqlOptions {
  /** One Prometheus; or `shards`, several whose answers are merged (shards.ts). */
  url?: string;
  shards?: ShardOptions[];
  /** How long a failed shard's last good answers stand in for it (0: the cycle holds at once). */
  shardHoldMs?: number;
  /** Failed shards and duplicate series, for logs and metrics. */
  shardEvents?: ShardEvents;
  timeoutMs: number;
  windowSeconds: number;
  staleSeconds: number;
  /** Read the series `sluice prometheus-rules` records instead of the raw ones (recording-rules.ts). */
  recorded?: boolean;
  queries: QueryOverrides;
  /** Per load balancer name. */
  perLoadBalancer: Record<string, QueryOverrides>;
  headers?: Record<string, string>;
  /** prometheus.tls: CA bundle, server-name pin, client certificate for an https:// url. */
  tls?: ClientTls | undefined;
  /** Evaluate at this instant instead of now (tests and benchmarks comparing two readings of one moment). */
  evaluationTime?: Date;
}

function regexOf(names: string[]): string {
  // An empty alternation would match every node; match none instead.
  return names.length === 0 ? '^$' : names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\\\$&')).join('|');
}

export function renderQuery(template: string, ctx: ReadContext, opts: Pick<PromqlOptions, 'windowSeconds' | 'staleSeconds'>): string {
  return template
    .replaceAll('$lb', ctx.lb.name)
    .replaceAll('$ports', regexOf([...new Set(ctx.lb.listeners.map((l) => String(l.port)))]))
    .replaceAll('$origins', regexOf(ctx.origins.map((o) => o.name)))
    .replaceAll('$edges', regexOf(ctx.edges.map((e) => e.name)))
    .replaceAll('$window', `${opts.windowSeconds}s`)
    .replaceAll('$stale', `${opts.staleSeconds}s`);
}

export class PromqlInputReader implements InputReader {
  private readonly source: ShardedQuery;

  constructor(
    private readonly opts: PromqlOptions,
    private readonly counter: RejectionCounter,
  ) {
    const shards = opts.shards ?? (opts.url !== undefined ? [{ name: 'default', url: opts.url }] : []);
    if (shards.length === 0) throw new Error('PromqlInputReader: set url or shards');
    this.source = new ShardedQuery(
      shards.map((s) => ({ name: s.name, server: new PrometheusServer({ url: s.url, timeoutMs: opts.timeoutMs, headers: { ...opts.headers, ...s.headers }, tls: opts.tls, evaluationTime: opts.evaluationTime }) })),
      opts.shardHoldMs ?? 0,
      opts.shardEvents,
    );
  }

  queriesFor(ctx: ReadContext): Record<QueryName, string | null> {
    const merged: Record<QueryName, string | null> = { ...defaultQueries(capacityUnitOf(ctx.lb), this.opts.recorded), ...withoutAlias(this.opts.queries), ...withoutAlias(this.opts.perLoadBalancer[ctx.lb.name] ?? {}) };
    for (const name of unusedTurnover(ctx.lb)) merged[name] = null;
    return Object.fromEntries(Object.entries(merged).map(([k, q]) => [k, q === null ? null : renderQuery(q, ctx, this.opts)])) as Record<QueryName, string | null>;
  }

  async close(): Promise<void> {
    this.opts.tls?.close();
  }

  async read(ctx: ReadContext): Promise<LbInputs> {
    const queries = this.queriesFor(ctx);
    const names = Object.keys(QUERY_LABELS) as QueryName[];
    const failures: ShardFailures = new Map();
    let results: (Series[] | null)[];
    try {
      results = await Promise.all(names.map(async (name) => (queries[name] === null ? null : this.run(name, queries[name]!, failures))));
    } finally {
      this.source.report(failures);
    }
    // Nothing on the recorded rates (or gauges): the rules are not loaded, or were generated for another
    // window (stale span); the names carry it.
    const allEmpty = (marker: string) => {
      const reading = names.flatMap((n, i) => (queries[n]?.includes(marker) ? [results[i]] : []));
      return reading.length > 0 && reading.every((r) => !r || r.length === 0);
    };
    if (this.opts.recorded && (allEmpty(`:rate${this.opts.windowSeconds}s`) || allEmpty(`last${this.opts.staleSeconds}s`))) {
      throw new InputsUnavailable('no_data', `no recorded series for load balancer ${ctx.lb.name}: is the rules file from \`sluice prometheus-rules --window ${this.opts.windowSeconds}s --stale ${this.opts.staleSeconds}s\` loaded in Prometheus?`);
    }
    // A query switched off (null) reads as no series; only health distinguishes "not configured".
    const raw = Object.fromEntries(names.map((name, i) => [name, results[i] ?? (name === 'origin_health' ? null : [])])) as unknown as RawInputs;
    return runPaced(toCapacityUnitSteps(await runPaced(assembleInputsSteps(raw, ctx, this.counter)), ctx));
  }

  private async run(name: QueryName, query: string, failures: ShardFailures): Promise<Series[]> {
    const series = await this.source.run(name, query, failures);
    return runPaced(this.labelledSteps(name, series));
  }

  /**
   * The series that carry every label the mapping needs, in steps (an answer is up to 1M series: one
   * filter over it was ~25 ms of the event loop, eight answers a read). An overridden query that drops
   * a label the mapping needs is a configuration mistake: count every such series instead of guessing
   * what it meant.
   */
  private *labelledSteps(name: QueryName, series: Series[]): Steps<Series[]> {
    const needed = QUERY_LABELS[name];
    const out: Series[] = [];
    for (let i = 0; i < series.length; i++) {
      const s = series[i]!;
      if (needed.every((l) => s.labels[l] !== undefined && s.labels[l] !== '')) out.push(s);
      else this.counter.reject(name, 'unknown_label');
      if ((i + 1) % STEP_ITEMS === 0) yield;
    }
    return out;
  }
}

/** origin_load (the old name) counts as origin_connections unless that is given too. */
function withoutAlias(q: QueryOverrides): Partial<Record<QueryName, string | null>> {
  const { origin_load: alias, ...rest } = q;
  return alias !== undefined && rest.origin_connections === undefined ? { ...rest, origin_connections: alias } : rest;
}
