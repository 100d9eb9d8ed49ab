// The running agent: collector worker + poll schedule + metrics + HTTP server. command.ts wires it to the
// command line; tests may start it in-process.
import type { Logger } from '../lib/log.ts';
import type { ServerTls } from '../lib/tls.ts';
import { CollectorClient } from './collector-client.ts';
import type { AgentConfig } from './config.ts';
import { AgentMetrics } from './metrics.ts';
import type { PollReport, TableRow } from './poller.ts';
import type { SubnetExposition } from './subnet-exposition.ts';
import { startServer, type AgentServer } from './server.ts';

export class Agent {
  readonly metrics: AgentMetrics;
  private readonly collector: CollectorClient;
  private server: AgentServer | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private lastOkMs: number | null = null;
  private lastError: string | null = null;
  private readonly startedMs = Date.now();
  lastReport: PollReport | null = null;
  private subnetsRequest: Promise<void> | null = null;

  constructor(
    readonly config: AgentConfig,
    private readonly log: Logger,
    /** config.tls, already loaded (lib/tls.ts): the endpoints are served over HTTPS. */
    private readonly tls?: ServerTls,
  ) {
    this.metrics = new AgentMetrics(config.node);
    this.collector = new CollectorClient(config, log);
    this.collector.onFailure = (kind) => this.metrics.countError(kind);
  }

  /** Opens the collector (fails fast if the kernel interface is unusable), then serves and polls. */
  async start(): Promise<{ host: string; port: number }> {
    await this.collector.start();
    const { host, port } = this.config.listen;
    this.server = await startServer(host, port, {
      mainMetrics: async () => ({ contentType: this.metrics.main.contentType, body: await this.metrics.main.metrics() }),
      subnetMetrics: async () => {
        await this.refreshSubnets();
        return { contentType: this.metrics.subnets.contentType, body: this.metrics.subnets.body() };
      },
      latency: async (limit) => this.latency(limit),
      sockets: async (limit) => this.collector.request({ type: 'sockets', limit }, 10_000),
      health: () => this.health(),
    }, (err) => this.log.error({ err }, 'http handler failed'), this.tls && this.config.tls ? { config: this.config.tls, loaded: this.tls, prefix: 'tls', log: this.log, metrics: this.metrics.tls } : undefined);
    const addr = this.server.server.address();
    const bound = typeof addr === 'object' && addr ? { host, port: addr.port } : { host, port };
    await this.pollOnce();
    this.schedule();
    return bound;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.pollOnce().finally(() => this.schedule());
    }, this.config.poll_interval);
  }

  /** One poll through the worker; a poll never overlaps the next (setTimeout chain). */
  async pollOnce(): Promise<void> {
    try {
      const httpBefore = this.server?.accepted() ?? 0;
      const report = await this.collector.request<PollReport>({ type: 'poll' }, Math.max(10_000, 3 * this.config.poll_interval));
      this.metrics.apply(report, httpBefore, this.server?.accepted() ?? 0);
      this.lastReport = report;
      if (report.complete) {
        this.lastOkMs = Date.now();
        this.lastError = null;
      } else this.lastError = 'last dump incomplete (see sluice_agent_collector_errors_total)';
    } catch (err) {
      this.metrics.pollFailed();
      this.metrics.countError('timeout');
      this.lastError = (err as Error).message;
      this.log.warn({ err: this.lastError }, 'poll failed; keeping the last learned state');
    }
  }

  /**
   * The export of the table as the latest poll left it, made by the collector when a scrape asks (not at
   * every poll: Poller.exportSubnets says why) and written there (subnet-exposition.ts). Scrapes that
   * arrive together share one request; between two polls the reply carries no body. If the
   * collector does not answer, the scrape gets the last export (the last good values stay in force).
   */
  private refreshSubnets(): Promise<void> {
    this.subnetsRequest ??= this.collector
      .request<SubnetExposition>({ type: 'subnets', have: this.metrics.subnetExport }, 10_000)
      .then((x) => this.metrics.applySubnetExposition(x))
      .catch((err: unknown) => {
        this.metrics.countError('timeout');
        this.log.warn({ err: (err as Error).message }, 'subnet export failed; serving the last one');
      })
      .finally(() => {
        this.subnetsRequest = null;
      });
    return this.subnetsRequest;
  }

  private async latency(limit: number): Promise<unknown> {
    const rows = await this.collector.request<TableRow[]>({ type: 'table', limit }, 10_000);
    const r = this.lastReport;
    return {
      node: this.config.node,
      generated_at: new Date().toISOString(),
      config: { ipv4_prefix: this.config.ipv4_prefix, ipv6_prefix: this.config.ipv6_prefix, ewma_alpha: this.config.ewma_alpha, min_samples: this.config.min_samples },
      subnets_tracked: r?.subnetsTracked ?? 0,
      upstreams: (r?.upstreams ?? []).map((u) => ({
        upstream: u.upstream,
        rtt_ms: u.rttSeconds === undefined ? null : u.rttSeconds * 1000,
        min_rtt_ms: u.minRttSeconds === undefined ? null : u.minRttSeconds * 1000,
        samples: u.samples ?? 0,
        connections: u.connections,
      })),
      churn: {
        kernel_passive_opens: this.metrics.churn.kernelPassiveOpens,
        counted_inbound: this.metrics.churn.countedInbound,
        agent_http_accepts: this.metrics.churn.agentHttpAccepts,
        gap: this.metrics.churn.gap,
        uncounted: this.metrics.churn.uncounted,
      },
      subnets: rows,
    };
  }

  private health(): { ok: boolean; detail: unknown } {
    const staleAfter = Math.max(3 * this.config.poll_interval, 5000);
    const ref = this.lastOkMs ?? this.startedMs;
    const ageMs = Date.now() - ref;
    const ok = this.lastOkMs !== null && ageMs <= staleAfter;
    return { ok, detail: { ok, last_poll_age_ms: this.lastOkMs === null ? null : ageMs, error: this.lastError } };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.server?.close();
    await this.collector.stop();
  }
}
