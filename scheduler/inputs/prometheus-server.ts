// One Prometheus (or any PromQL API) the scheduler queries: an instant query in, series out, and every
// failure turned into InputsUnavailable with the server named (the loop holds the weights on those).
import { PrometheusDriver } from 'prometheus-query';
import { describeTlsError, type ClientTls } from '../../lib/tls-client.ts';
import type { QueryName, Series } from './assemble.ts';
import { InputsUnavailable } from './types.ts';

export interface PrometheusServerOptions {
  url: string;
  timeoutMs: number;
  headers?: Record<string, string> | undefined;
  /** prometheus.tls: CA bundle, server-name pin, client certificate for an https:// url. */
  tls?: ClientTls | undefined;
  /** Evaluate every query at this instant instead of now (comparing two ways of reading one moment). */
  evaluationTime?: Date | undefined;
}

export class PrometheusServer {
  private readonly driver: PrometheusDriver;

  constructor(private readonly opts: PrometheusServerOptions) {
    const tls = opts.tls;
    this.driver = new PrometheusDriver({
      endpoint: opts.url,
      baseURL: '/api/v1',
      timeout: opts.timeoutMs,
      ...(opts.headers && Object.keys(opts.headers).length > 0 ? { headers: opts.headers } : {}),
      // axios (under prometheus-query) takes the TLS options as an https.Agent per request; the agent
      // is the current one (a renewed client certificate or CA bundle on disk is picked up).
      ...(tls ? { requestInterceptor: { onFulfilled: (config) => Object.assign(config, { httpsAgent: tls.agent() }), onRejected: (err) => Promise.reject(err) } } : {}),
    });
  }

  get url(): string {
    return this.opts.url;
  }

  /** The instant vector `query` evaluates to now; InputsUnavailable when the server cannot say. */
  async query(name: QueryName, query: string): Promise<Series[]> {
    try {
      const res = await this.driver.instantQuery(query, this.opts.evaluationTime);
      if (res.resultType !== 'vector') throw new InputsUnavailable('no_data', `${name}: expected an instant vector from "${query}", got ${res.resultType}`);
      return (res.result as { metric: { labels: Record<string, string> }; value: { value: number } }[]).map((r) => ({ labels: r.metric.labels, value: Number(r.value.value) }));
    } catch (err) {
      if (err instanceof InputsUnavailable) throw err;
      const e = err as { message?: string; code?: string; status?: number; error?: string; errorType?: string; original?: unknown };
      const tls = describeTlsError(e.original ?? e, 'scheduler.prometheus.tls', this.opts.tls?.presentsCertificate ?? false);
      if (tls) throw new InputsUnavailable('backend_down', `${name}: Prometheus at ${this.opts.url}: ${tls}`);
      const detail = e.error ?? e.message ?? e.code ?? JSON.stringify(err);
      const kind = /timeout|ECONNABORTED/i.test(String(detail) + String(e.code)) ? 'timeout' : 'backend_down';
      throw new InputsUnavailable(kind, `${name}: Prometheus at ${this.opts.url} failed: ${detail}`);
    }
  }
}
