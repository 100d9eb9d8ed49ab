// This edge as a vantage point. Every `pollMs` it reads what its data planes know of the origins'
// health (HAProxy's checks) and, for origins none of them checks, runs the origins' own health checks
// (active.ts); then it reports to the control plane — POST /api/v1/edges/{id}/health, every replica
// in turn until one accepts — whenever a verdict or a raw result changed, and otherwise every
// `reportIntervalMs` (a heartbeat: a silent edge goes stale and stops counting).
//
// When no replica can be reached (connection refused, timeout, 5xx), the control plane cannot know what
// this edge sees, so it cannot exclude an origin for this edge: the local fallback
// (plan/local-fallback.ts) takes over — the origins this edge sees down are dropped from its own
// weights until a report gets through again. A replica that answers 401/403 is reachable but refuses
// this edge's token (a read token, or a report token bound to another edge) or its client certificate
// (missing, expired, not from the CA the control plane trusts, or without a report OU): that is
// configuration, not an outage — said once as an error, retried every REFUSED_RETRY_MS, and no local
// fallback.
//
// Over https:// the reports go with the long-poll's api.tls (CA bundle, server-name pin, client
// certificate: an edge's certificate with OU=sluice-report and CN=<edge name> is a report credential
// bound to this edge, no token needed). A replica whose certificate does not verify is not heard: the
// next one is tried, and with none the local fallback applies, as for any unreachable control plane
// (fail closed: a report is never sent to a server this edge cannot verify).
import { HttpGetter } from '../../lib/http-get.ts';
import type { Logger } from '../../lib/log.ts';
import { describeTlsError, type ClientTls } from '../../lib/tls-client.ts';
import type { EdgeConfig } from '../../model/views.ts';
import type { DataPlane } from '../dataplane.ts';
import type { EdgeMetrics } from '../metrics.ts';
import type { DesiredPool } from '../plan/desired.ts';
import { ActiveChecks } from './active.ts';
import { perOrigin, type OriginReading } from './reading.ts';

export interface ReporterOptions {
  /** Every control-plane replica's base URL (the long poll's list), or none: no reports, local rule only. */
  urls: string[];
  token: string;
  /** api.tls for https:// replicas (its own instance: closed with the reporter). */
  tls?: ClientTls | undefined;
  edgeId: string;
  dataplanes: DataPlane[];
  /** The control plane's config in force, and the pools last planned per data plane. */
  config: () => EdgeConfig | null;
  pools: (dataplane: string) => DesiredPool[];
  metrics: EdgeMetrics;
  log: Logger;
  pollMs: number;
  reportIntervalMs: number;
  timeoutMs: number;
  /** Called with the origins to drop locally (a set), or null when the control plane hears us again. */
  onLocalFallback?: (down: ReadonlySet<string> | null) => void;
  active?: ActiveChecks;
  now?: () => number;
}

/** After a 401/403: how long before trying again (an operator's fix is picked up, the log is not flooded). */
const REFUSED_RETRY_MS = 60_000;

export class HealthReporter {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private index = 0;
  private lastSent = new Map<string, string>();
  private lastSentAt = 0;
  /** null until the first attempt (or while the token is refused); then whether the last report got through. */
  private heard: boolean | null = null;
  private localDown: string | null = null;
  /** Until when reports are not sent because a replica refused the token (401/403). */
  private refusedUntil = 0;
  private readonly active: ActiveChecks;
  private readonly now: () => number;
  private readonly http: HttpGetter;

  constructor(private readonly o: ReporterOptions) {
    this.active = o.active ?? new ActiveChecks();
    this.now = o.now ?? Date.now;
    this.http = new HttpGetter(o.tls);
  }

  start(): void {
    const loop = () => {
      this.running = this.tick().then(() => undefined, (err: unknown) => this.o.log.error({ err: (err as Error).message }, 'health round failed')).finally(() => {
        this.timer = setTimeout(loop, this.o.pollMs);
      });
    };
    loop();
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    if (this.timer) clearTimeout(this.timer);
    this.active.stop();
    this.http.close();
  }

  /** Whether the control plane accepted the last report (null before the first). */
  get controlPlaneHears(): boolean | null {
    return this.heard;
  }

  /** One round: read, report if due, decide the local fallback. Errors are logged and counted, never thrown. */
  async tick(): Promise<OriginReading[]> {
    const readings = await this.read();
    this.export(readings);
    if (readings.length > 0 && this.o.urls.length > 0) {
      const key = (r: OriginReading) => `${r.healthy}/${r.result}`;
      const changed = readings.some((r) => this.lastSent.get(r.originId) !== key(r));
      const due = changed || this.now() - this.lastSentAt >= this.o.reportIntervalMs || this.heard === false;
      if (due && this.now() >= this.refusedUntil) {
        this.heard = await this.send(readings);
        if (this.heard) {
          this.lastSent = new Map(readings.map((r) => [r.originId, key(r)]));
          this.lastSentAt = this.now();
        }
      }
    }
    this.localFallback(readings);
    return readings;
  }

  /** The data planes' own health state where they keep one; this edge's own checks for the rest. */
  private async read(): Promise<OriginReading[]> {
    const config = this.o.config();
    if (!config) return [];
    const fromPlanes: OriginReading[] = [];
    for (const dp of this.o.dataplanes) {
      if (!dp.readHealth) continue;
      try {
        fromPlanes.push(...(await dp.readHealth(this.o.pools(dp.name))));
      } catch (err) {
        this.o.metrics.statsErrors.inc({ edge: this.o.metrics.edge, dataplane: dp.name });
        this.o.log.warn({ dataplane: dp.name, err: (err as Error).message }, 'cannot read the data plane’s health state');
      }
    }
    const covered = new Set(fromPlanes.map((r) => r.originId));
    const rest = config.listeners.flatMap((l) => l.origins.filter((o) => !covered.has(o.id)).map((origin) => ({ origin, loadBalancer: l.load_balancer })));
    this.active.sync(rest);
    return perOrigin([...fromPlanes, ...this.active.readings()]);
  }

  private export(readings: OriginReading[]): void {
    const m = this.o.metrics;
    m.originUp.reset();
    m.originCheckLatency.reset();
    for (const r of readings) {
      const labels = { edge: m.edge, load_balancer: r.loadBalancer, origin: r.origin };
      m.originUp.set(labels, r.healthy ? 1 : 0);
      if (r.latencyMs !== null) m.originCheckLatency.set(labels, r.latencyMs / 1000);
    }
  }

  /**
   * POSTs the readings to the first replica that accepts them: true when one did, false when none
   * could be reached, null when one refused the token (reachable: no local fallback).
   */
  private async send(readings: OriginReading[]): Promise<boolean | null> {
    const body = JSON.stringify({ reports: readings.map((r) => ({ origin_id: r.originId, healthy: r.healthy, result: r.result, latency_ms: r.latencyMs, detail: r.detail.slice(0, 300) })) });
    const errors: string[] = [];
    for (let tried = 0; tried < this.o.urls.length; tried++) {
      const base = this.o.urls[this.index]!;
      const url = `${base.replace(/\/+$/, '')}/api/v1/edges/${encodeURIComponent(this.o.edgeId)}/health`;
      try {
        const res = await this.http.post(url, body, {
          headers: { 'content-type': 'application/json', ...(this.o.token ? { authorization: `Bearer ${this.o.token}` } : {}) },
          signal: AbortSignal.timeout(this.o.timeoutMs),
        });
        const text = res.body;
        if (res.status >= 200 && res.status < 300) {
          this.o.metrics.healthReports.inc({ edge: this.o.metrics.edge, result: 'ok' });
          if (this.refusedUntil !== 0) this.o.log.warn('the control plane accepts this edge’s health reports again');
          this.refusedUntil = 0;
          const ignored = (JSON.parse(text) as { ignored?: string[] }).ignored ?? [];
          if (ignored.length > 0) this.o.log.warn({ ignored }, 'the control plane ignored reports on origins it does not know');
          return true;
        }
        if (res.status === 401 || res.status === 403) {
          this.o.metrics.healthReports.inc({ edge: this.o.metrics.edge, result: 'refused' });
          if (this.refusedUntil === 0) this.o.log.error({ url, status: res.status, detail: text.slice(0, 300) }, refusalAdvice(text));
          this.refusedUntil = this.now() + REFUSED_RETRY_MS;
          return null;
        }
        errors.push(`${url}: HTTP ${res.status} ${text.slice(0, 200)}`);
      } catch (err) {
        const tls = describeTlsError(err, 'api.tls', this.o.tls?.presentsCertificate ?? false);
        errors.push(`${url}: ${tls ?? (err as Error).message}`);
      }
      this.index = (this.index + 1) % this.o.urls.length;
    }
    this.o.metrics.healthReports.inc({ edge: this.o.metrics.edge, result: 'error' });
    this.o.log.warn({ errors }, 'cannot report origin health to any control-plane replica');
    return false;
  }

  /** While the control plane cannot hear us, the origins we see down are dropped locally. */
  private localFallback(readings: OriginReading[]): void {
    const down = this.heard === false ? readings.filter((r) => !r.healthy) : [];
    const key = down.map((r) => r.originId).sort().join(',');
    const now = this.heard === false ? key : null;
    if (now === this.localDown) return;
    this.localDown = now;
    this.o.metrics.localFallback.set({ edge: this.o.metrics.edge }, down.length);
    if (down.length > 0) {
      this.o.log.error({ origins: down.map((r) => `${r.loadBalancer}/${r.origin}: ${r.detail}`) }, 'control plane unreachable: dropping the origins this edge sees down from its own weights (local fallback)');
    } else if (this.heard === true) {
      this.o.log.warn('the control plane hears this edge again: its weights apply (local fallback over)');
    }
    this.o.onLocalFallback?.(down.length > 0 ? new Set(down.map((r) => r.originId)) : null);
  }
}

/** What to fix when a replica refuses the reports: the client certificate, or the token. */
function refusalAdvice(problemBody: string): string {
  const retry = 'or set health.report: false; retrying every minute';
  if (problemBody.includes('client_certificate_refused')) return `the control plane refuses this edge’s client certificate (api.tls.cert_file): present a current one from the CA it trusts (tls.client_ca_file), ${retry}`;
  return `the control plane refuses this edge’s health reports: give edge-sync a report token (auth.report_tokens, bound to this edge) or a client certificate with a report OU (auth.client_certificates.report_ous, CN = this edge's name), ${retry}`;
}
