// Embedded mode: no Prometheus configured, so the scheduler scrapes the agents' and edge-syncs'
// /metrics pages itself and computes the same inputs as the default PromQL (counter rates from the
// last two scrapes, gauges as last seen, absent when a target stops answering).
import { HttpGetter } from '../../lib/http-get.ts';
import { parsePromText, type PromSample } from '../../lib/prom-text.ts';
import { capacityUnitOf } from '../../model/index.ts';
import { describeTlsError, type ClientTls } from '../../lib/tls-client.ts';
import { runPaced } from '../../lib/steps.ts';
import { assembleInputsSteps, type RawInputs, type Series } from './assemble.ts';
import { toCapacityUnitSteps } from './convert.ts';
import type { RejectionCounter } from './guard.ts';
import { InputsUnavailable, type InputReader, type LbInputs, type ReadContext } from './types.ts';

export interface ScrapeOptions {
  /** Base URLs of agents and edge-syncs, e.g. http://10.0.0.5:9464; /metrics and /metrics/subnets are read. */
  targets: string[];
  timeoutMs: number;
  /** Scrapes closer together than this are shared by every load balancer in one cycle. */
  minIntervalMs: number;
  /** scrape.tls: CA bundle, server-name pin and client certificate for https:// targets. */
  tls?: ClientTls | undefined;
}

interface Snapshot {
  at: number;
  samples: PromSample[];
}

const PAGES = ['/metrics', '/metrics/subnets'];

function seriesKey(s: PromSample): string {
  return `${s.name}{${Object.entries(s.labels).sort().map(([k, v]) => `${k}=${v}`).join(',')}}`;
}

export class ScrapeInputReader implements InputReader {
  private previous = new Map<string, Snapshot>();
  private latest = new Map<string, Snapshot>();
  private lastScrape = 0;
  private inFlight: Promise<void> | undefined;
  private readonly http: HttpGetter;

  constructor(
    private readonly opts: ScrapeOptions,
    private readonly counter: RejectionCounter & { scrapeFailed(target: string, detail: string): void },
    private readonly now: () => number = Date.now,
  ) {
    this.http = new HttpGetter(opts.tls);
  }

  async close(): Promise<void> {
    this.http.close();
  }

  private async scrapeTarget(target: string): Promise<PromSample[] | null> {
    const samples: PromSample[] = [];
    for (const page of PAGES) {
      try {
        const res = await this.http.get(`${target.replace(/\/$/, '')}${page}`, { signal: AbortSignal.timeout(this.opts.timeoutMs) });
        if (res.status === 404 && page !== '/metrics') continue;
        if (res.status !== 200) throw new Error(`HTTP ${res.status}${res.status === 401 ? `: ${res.body.trim().slice(0, 200)}` : ''}`);
        const parsed = parsePromText(res.body);
        if (parsed.errors.length > 0) this.counter.scrapeFailed(target, `${parsed.errors.length} unreadable line(s), first: ${parsed.errors[0]}`);
        samples.push(...parsed.samples);
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        this.counter.scrapeFailed(target, `${page}: ${describeTlsError(err, 'scheduler.scrape.tls', this.opts.tls?.presentsCertificate ?? false) ?? (e.code ? `${e.code}: ${e.message}` : e.message)}`);
        return null;
      }
    }
    return samples;
  }

  private async refresh(): Promise<void> {
    if (this.now() - this.lastScrape < this.opts.minIntervalMs) return;
    this.inFlight ??= (async () => {
      const results = await Promise.all(this.opts.targets.map(async (t) => [t, await this.scrapeTarget(t)] as const));
      const at = this.now();
      for (const [target, samples] of results) {
        const before = this.latest.get(target);
        if (samples === null) {
          // A target that stopped answering has no current values: its series go absent, as in Prometheus.
          this.latest.delete(target);
          this.previous.delete(target);
          continue;
        }
        if (before) this.previous.set(target, before);
        this.latest.set(target, { at, samples });
      }
      this.lastScrape = at;
      if (results.every(([, s]) => s === null) && results.length > 0) {
        throw new InputsUnavailable('backend_down', `none of the ${results.length} scrape target(s) answered`);
      }
    })().finally(() => (this.inFlight = undefined));
    await this.inFlight;
  }

  /** Per-second rate of each counter series between the last two scrapes of its target. */
  private rates(name: string): Series[] {
    const out: Series[] = [];
    for (const [target, cur] of this.latest) {
      const prev = this.previous.get(target);
      if (!prev || cur.at <= prev.at) continue;
      const before = new Map(prev.samples.filter((s) => s.name === name).map((s) => [seriesKey(s), s.value]));
      const dt = (cur.at - prev.at) / 1000;
      for (const s of cur.samples) {
        if (s.name !== name) continue;
        const was = before.get(seriesKey(s));
        if (was === undefined) continue;
        // A counter that went down was reset (the process restarted): count from zero.
        const delta = s.value >= was ? s.value - was : s.value;
        out.push({ labels: s.labels, value: delta / dt });
      }
    }
    return out;
  }

  private gauges(name: string): Series[] {
    const out: Series[] = [];
    for (const snap of this.latest.values()) for (const s of snap.samples) if (s.name === name) out.push({ labels: s.labels, value: s.value });
    return out;
  }

  async read(ctx: ReadContext): Promise<LbInputs> {
    await this.refresh();
    const unit = capacityUnitOf(ctx.lb);
    const origins = new Set(ctx.origins.map((o) => o.name));
    const edges = new Set(ctx.edges.map((e) => e.name));
    const ports = new Set(ctx.lb.listeners.map((l) => String(l.port)));
    const byNode = (set: Set<string>) => (s: Series) => set.has(s.labels.node ?? '');
    const onListenerPort = (s: Series) => edges.has(s.labels.node ?? '') && ports.has(s.labels.port ?? '');
    const asEdge = (s: Series): Series => ({ labels: { ...s.labels, edge: s.labels.node! }, value: s.value });
    // The same inputs as the default PromQL queries (promql.ts defaultQueries), per capacity unit.
    const edgeDemand =
      unit === 'requests'
        ? this.rates('sluice_edge_requests_total').filter((s) => s.labels.load_balancer === ctx.lb.name)
        : this.rates(unit === 'bytes' ? 'sluice_agent_bytes_total' : 'sluice_agent_connections_total').filter(onListenerPort).map(asEdge);
    const raw: RawInputs = {
      edge_demand: edgeDemand,
      edge_origin_demand: unit === 'connections' ? [] : this.rates('sluice_edge_origin_requests_total').filter((s) => s.labels.load_balancer === ctx.lb.name),
      edge_rtt: this.gauges('sluice_agent_upstream_rtt_seconds').filter(byNode(edges)),
      subnet_demand: this.rates('sluice_agent_subnet_connections_total').filter(byNode(origins)),
      subnet_connection_seconds: this.rates('sluice_agent_subnet_connection_seconds_total').filter(byNode(origins)),
      subnet_closes: this.rates('sluice_agent_subnet_connection_closes_total').filter(byNode(origins)),
      subnet_rtt: this.gauges('sluice_agent_client_rtt_seconds').filter(byNode(origins)),
      subnet_samples: this.gauges('sluice_agent_client_rtt_samples_total').filter(byNode(origins)),
      // An origin's own request counter has no name sluice knows: Prometheus with origin_requests only.
      origin_requests: [],
      origin_connections: this.rates('sluice_agent_connections_total').filter(byNode(origins)),
      origin_bytes: unit === 'bytes' ? this.rates('sluice_agent_bytes_total').filter(byNode(origins)) : [],
      edge_connection_seconds: this.rates('sluice_agent_connection_seconds_total').filter(onListenerPort),
      edge_closes: this.rates('sluice_agent_connection_closes_total').filter(onListenerPort),
      subnet_open: this.gauges('sluice_agent_subnet_open_connections').filter(byNode(origins)),
      subnet_surviving: this.gauges('sluice_agent_subnet_open_connections_surviving').filter(byNode(origins)),
      subnet_surviving_mean: this.gauges('sluice_agent_subnet_open_connections_surviving_mean').filter(byNode(origins)),
      edge_open: this.gauges('sluice_agent_open_connections').filter(onListenerPort),
      edge_surviving: this.gauges('sluice_agent_open_connections_surviving').filter(onListenerPort),
      edge_surviving_mean: this.gauges('sluice_agent_open_connections_surviving_mean').filter(onListenerPort),
      origin_polled: this.gauges('sluice_agent_last_poll_timestamp_seconds').filter(byNode(origins)),
      origin_health: null,
    };
    return runPaced(toCapacityUnitSteps(await runPaced(assembleInputsSteps(raw, ctx, this.counter)), ctx));
  }
}
