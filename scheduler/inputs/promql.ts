// Reads the scheduler's inputs from Prometheus (or any PromQL backend) with prometheus-query. Each
// input has a default query on sluice's own agent and edge-sync metrics; any of them can be replaced,
// globally or per load balancer, e.g. to read HAProxy's, nginx's or Envoy's exporters instead, as long
// as the result carries the labels in QUERY_LABELS.
import { PrometheusDriver } from 'prometheus-query';
import { assembleInputs, QUERY_LABELS, type RawInputs, type Series } from './assemble.ts';
import type { RejectionCounter } from './guard.ts';
import { InputsUnavailable, type InputReader, type LbInputs, type ReadContext } from './types.ts';

export type QueryName = keyof RawInputs;

/**
 * Placeholders: $lb (load balancer name), $origins (regex of its origin names), $edges (regex of edge
 * names), $window (rate window), $stale (how old a gauge may be).
 */
export const DEFAULT_QUERIES: Record<QueryName, string | null> = {
  edge_demand: 'sum by (edge) (rate(sluice_edge_requests_total{load_balancer="$lb"}[$window]))',
  edge_rtt: 'last_over_time(sluice_agent_upstream_rtt_seconds{node=~"$edges"}[$stale])',
  subnet_demand: 'sum by (subnet) (rate(sluice_agent_subnet_connections_total{node=~"$origins"}[$window]))',
  subnet_rtt: 'last_over_time(sluice_agent_client_rtt_seconds{node=~"$origins"}[$stale])',
  subnet_samples: 'last_over_time(sluice_agent_client_rtt_samples_total{node=~"$origins"}[$stale])',
  origin_load: 'sum by (node) (rate(sluice_agent_connections_total{node=~"$origins"}[$window]))',
  origin_health: null,
};

export interface PromqlOptions {
  url: string;
  timeoutMs: number;
  windowSeconds: number;
  staleSeconds: number;
  queries: Partial<Record<QueryName, string | null>>;
  /** Per load balancer name. */
  perLoadBalancer: Record<string, Partial<Record<QueryName, string | null>>>;
  headers?: Record<string, string>;
}

function regexOf(names: string[]): string {
  // An empty alternation would match every node; match none instead.
  return names.length === 0 ? '^$' : names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\\\$&')).join('|');
}

export function renderQuery(template: string, ctx: ReadContext, opts: Pick<PromqlOptions, 'windowSeconds' | 'staleSeconds'>): string {
  return template
    .replaceAll('$lb', ctx.lb.name)
    .replaceAll('$origins', regexOf(ctx.origins.map((o) => o.name)))
    .replaceAll('$edges', regexOf(ctx.edges.map((e) => e.name)))
    .replaceAll('$window', `${opts.windowSeconds}s`)
    .replaceAll('$stale', `${opts.staleSeconds}s`);
}

export class PromqlInputReader implements InputReader {
  private readonly driver: PrometheusDriver;

  constructor(
    private readonly opts: PromqlOptions,
    private readonly counter: RejectionCounter,
  ) {
    this.driver = new PrometheusDriver({ endpoint: opts.url, baseURL: '/api/v1', timeout: opts.timeoutMs, ...(opts.headers ? { headers: opts.headers } : {}) });
  }

  queriesFor(ctx: ReadContext): Record<QueryName, string | null> {
    const merged = { ...DEFAULT_QUERIES, ...this.opts.queries, ...(this.opts.perLoadBalancer[ctx.lb.name] ?? {}) };
    return Object.fromEntries(Object.entries(merged).map(([k, q]) => [k, q === null ? null : renderQuery(q, ctx, this.opts)])) as Record<QueryName, string | null>;
  }

  async read(ctx: ReadContext): Promise<LbInputs> {
    const queries = this.queriesFor(ctx);
    const run = async (name: QueryName): Promise<Series[] | null> => (queries[name] === null ? null : this.run(name, queries[name]!));
    const [edgeDemand, edgeRtt, subnetDemand, subnetRtt, subnetSamples, originLoad, originHealth] = await Promise.all(
      (['edge_demand', 'edge_rtt', 'subnet_demand', 'subnet_rtt', 'subnet_samples', 'origin_load', 'origin_health'] as const).map(run),
    );
    // A query switched off (null) reads as no series; only health distinguishes "not configured".
    const raw: RawInputs = {
      edge_demand: edgeDemand ?? [],
      edge_rtt: edgeRtt ?? [],
      subnet_demand: subnetDemand ?? [],
      subnet_rtt: subnetRtt ?? [],
      subnet_samples: subnetSamples ?? [],
      origin_load: originLoad ?? [],
      origin_health: originHealth ?? null,
    };
    return assembleInputs(raw, ctx, this.counter);
  }

  private async run(name: QueryName, query: string): Promise<Series[]> {
    try {
      const res = await this.driver.instantQuery(query);
      if (res.resultType !== 'vector') throw new InputsUnavailable('no_data', `${name}: expected an instant vector from "${query}", got ${res.resultType}`);
      const series = (res.result as { metric: { labels: Record<string, string> }; value: { value: number } }[]).map((r) => ({ labels: r.metric.labels, value: Number(r.value.value) }));
      // An overridden query that drops a label the mapping needs is a configuration mistake: count
      // every such series instead of guessing what it meant.
      const needed = QUERY_LABELS[name];
      return series.filter((s) => {
        const ok = needed.every((l) => s.labels[l] !== undefined && s.labels[l] !== '');
        if (!ok) this.counter.reject(name, 'unknown_label');
        return ok;
      });
    } catch (err) {
      if (err instanceof InputsUnavailable) throw err;
      const e = err as { message?: string; code?: string; status?: number; error?: string; errorType?: string };
      const detail = e.error ?? e.message ?? e.code ?? JSON.stringify(err);
      const kind = /timeout|ECONNABORTED/i.test(String(detail) + String(e.code)) ? 'timeout' : 'backend_down';
      throw new InputsUnavailable(kind, `${name}: Prometheus at ${this.opts.url} failed: ${detail}`);
    }
  }
}
