// One Prometheus (or any PromQL API) the scheduler queries: an instant query in, series out, and every
// failure turned into InputsUnavailable with the server named (the loop holds the weights on those).
//
// Why not a client library (prometheus-query, used until issue 15): at 1M subnets one answer is
// ~55 MB of JSON, and the library (axios) parsed it with one JSON.parse (~0.5 s) and then built its
// own Metric/SampleValue objects (~1 s), each in one piece on the thread that also serves the API and
// renews the lease. Here the body is read with node:http(s) (lib/http-get.ts) and parsed in steps
// (lib/json-steps.ts: data.result's elements found by one scan, JSON.parse on a few thousand at a
// time) inside runPaced, so no slice holds the event loop much past 20 ms; the series are built from
// the parsed elements directly. The library also read "+Inf"/"-Inf" as NaN (parseFloat): here they are
// ±Infinity (guard.ts counts them as "infinite", NaN as "nan"; both are dropped).
import { HttpGetter, type GetResult } from '../../lib/http-get.ts';
import { parseJsonObjectSteps } from '../../lib/json-steps.ts';
import { runPaced, STEP_ITEMS, type Steps } from '../../lib/steps.ts';
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

/**
 * A query URL longer than this is sent as a POST form instead (Prometheus and the PromQL backends take
 * both; proxies and servers commonly refuse request lines past 4-8 KB, and $origins regexes get long).
 * Shorter ones stay GETs, which read-only proxies in front of Prometheus allow most often.
 */
const MAX_GET_URL = 4096;

export class PrometheusServer {
  private readonly http: HttpGetter;
  private readonly endpoint: string;

  constructor(private readonly opts: PrometheusServerOptions) {
    // The TLS agent is asked for per request (a renewed client certificate or CA bundle is picked up).
    // gzip as prometheus-query (axios) asked for it: Prometheus compresses, the answer crosses the
    // network ~10x smaller, and it is inflated off the event loop.
    this.http = new HttpGetter(opts.tls, { gzip: true });
    this.endpoint = `${opts.url.replace(/\/+$/, '')}/api/v1/query`;
  }

  get url(): string {
    return this.opts.url;
  }

  /** The instant vector `query` evaluates to now; InputsUnavailable when the server cannot say. */
  async query(name: QueryName, query: string): Promise<Series[]> {
    const form = new URLSearchParams({ query, time: String((this.opts.evaluationTime ?? new Date()).getTime() / 1000) }).toString();
    let res: GetResult;
    // The whole exchange, body included, within timeoutMs.
    const signal = AbortSignal.timeout(this.opts.timeoutMs);
    try {
      const headers = this.opts.headers ?? {};
      const get = `${this.endpoint}?${form}`;
      res = get.length <= MAX_GET_URL ? await this.http.get(get, { headers, signal }) : await this.http.post(this.endpoint, form, { headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, signal });
    } catch (err) {
      throw this.unreachable(name, err, signal.aborted);
    }
    if (res.status < 200 || res.status > 299) throw new InputsUnavailable('backend_down', `${name}: Prometheus at ${this.opts.url} failed: ${errorOf(res)}`);
    try {
      return await runPaced(answerSteps(res.body));
    } catch (err) {
      if (err instanceof InputsUnavailable) throw new InputsUnavailable(err.kind, `${name}: ${err.message.replace('$query', () => JSON.stringify(query))}`);
      throw new InputsUnavailable('backend_down', `${name}: Prometheus at ${this.opts.url} answered ${JSON.stringify(query)} with a body that is not a PromQL answer (${(err as Error).message}; ${res.body.length} characters)`);
    }
  }

  /** Connection, TLS and timeout failures (no HTTP answer at all). */
  private unreachable(name: QueryName, err: unknown, timedOut: boolean): InputsUnavailable {
    const tls = describeTlsError(err, 'scheduler.prometheus.tls', this.opts.tls?.presentsCertificate ?? false);
    if (tls) return new InputsUnavailable('backend_down', `${name}: Prometheus at ${this.opts.url}: ${tls}`);
    if (timedOut) return new InputsUnavailable('timeout', `${name}: Prometheus at ${this.opts.url} failed: timeout of ${this.opts.timeoutMs} ms exceeded`);
    const e = err as { message?: string; code?: string };
    return new InputsUnavailable('backend_down', `${name}: Prometheus at ${this.opts.url} failed: ${e.message || e.code || String(err)}`);
  }
}

/** An HTTP error answer in words: Prometheus's own `{"status":"error","errorType","error"}` quoted when it sent one. */
function errorOf(res: GetResult): string {
  try {
    const body = JSON.parse(res.body) as { errorType?: unknown; error?: unknown };
    if (typeof body.error === 'string') return `HTTP ${res.status} ${typeof body.errorType === 'string' ? `${body.errorType}: ` : ''}${body.error}`;
  } catch {
    // Not JSON (a proxy's page): quoted below.
  }
  const text = res.body.trim().slice(0, 200);
  return `HTTP ${res.status}${text ? `: ${JSON.stringify(text)}` : ''}`;
}

/**
 * A successful answer's body as series, in steps. Throws InputsUnavailable for a well-formed answer
 * that is not an instant vector (its message holds "$query" for the caller to fill in) and a plain
 * error for anything malformed.
 */
export function* answerSteps(body: string): Steps<Series[]> {
  const answer = (yield* parseJsonObjectSteps(body, RESULT)) as { status?: unknown; data?: { resultType?: unknown; result?: unknown } };
  if (answer.status !== 'success') throw new Error(`status ${JSON.stringify(answer.status)}`);
  const resultType = answer.data?.resultType;
  if (resultType !== 'vector') {
    if (typeof resultType === 'string') throw new InputsUnavailable('no_data', `expected an instant vector from $query, got ${resultType}`);
    throw new Error('no data.resultType');
  }
  const result = answer.data!.result;
  if (!Array.isArray(result)) throw new Error('data.result is not an array');
  const out: Series[] = new Array<Series>(result.length);
  for (let i = 0; i < result.length; i++) {
    const r = result[i] as { metric?: unknown; value?: unknown };
    const sample = r?.value;
    if (typeof r?.metric !== 'object' || r.metric === null || !Array.isArray(sample) || typeof sample[1] !== 'string') throw new Error(`data.result[${i}] is not {"metric":{...},"value":[time,"number"]}`);
    out[i] = { labels: r.metric as Record<string, string>, value: sampleValue(sample[1], i) };
    if ((i + 1) % STEP_ITEMS === 0) yield;
  }
  return out;
}

const RESULT = new Set(['data.result']);

/** A sample as Prometheus writes it (Go's strconv.FormatFloat, or "NaN", "+Inf", "-Inf"). */
function sampleValue(text: string, i: number): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  const v = text === '' ? NaN : Number(text);
  if (Number.isNaN(v) && text !== 'NaN') throw new Error(`data.result[${i}]'s value ${JSON.stringify(text.slice(0, 40))} is not a number`);
  return v;
}
