// One Prometheus (or any PromQL API) the scheduler queries: an instant query in, series out, and every
// failure turned into InputsUnavailable with the server named (the loop holds the weights on those).
//
// Why not a client library (prometheus-query, used until issue 15): at 1M subnets one answer is
// ~55 MB of JSON, and the library (axios) parsed it with one JSON.parse (~0.5 s) and then built its
// own Metric/SampleValue objects (~1 s), each in one piece on the thread that also serves the API and
// renews the lease. Here the body is read with node:http(s) (lib/http-get.ts) and parsed as it arrives
// (lib/json-array-stream.ts: each chunk's whole elements of data.result given to JSON.parse, the
// series built from them at once), so no piece holds the event loop more than a chunk's worth and the
// body is never one string (joining it was 150-185 ms in one piece). The library also read
// "+Inf"/"-Inf" as NaN (parseFloat): here they are ±Infinity (guard.ts counts them as "infinite", NaN
// as "nan"; both are dropped).
import { HttpGetter, type GetResult } from '../../lib/http-get.ts';
import { JsonArrayStream } from '../../lib/json-array-stream.ts';
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
    // A successful answer is read as it arrives; an error answer is collected whole, to be quoted.
    const reader = new AnswerReader();
    const bodySink = (status: number) => (status >= 200 && status <= 299 ? (chunk: string) => reader.write(chunk) : undefined);
    // The whole exchange, body included, within timeoutMs.
    const signal = AbortSignal.timeout(this.opts.timeoutMs);
    try {
      const headers = this.opts.headers ?? {};
      const get = `${this.endpoint}?${form}`;
      res = get.length <= MAX_GET_URL ? await this.http.get(get, { headers, signal, bodySink }) : await this.http.post(this.endpoint, form, { headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, signal, bodySink });
    } catch (err) {
      throw this.unreachable(name, err, signal.aborted);
    }
    if (res.status < 200 || res.status > 299) throw new InputsUnavailable('backend_down', `${name}: Prometheus at ${this.opts.url} failed: ${errorOf(res)}`);
    try {
      return reader.series();
    } catch (err) {
      if (err instanceof InputsUnavailable) throw new InputsUnavailable(err.kind, `${name}: ${err.message.replace('$query', () => JSON.stringify(query))}`);
      throw new InputsUnavailable('backend_down', `${name}: Prometheus at ${this.opts.url} answered ${JSON.stringify(query)} with a body that is not a PromQL answer (${(err as Error).message}; ${reader.chars} characters)`);
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
 * A successful answer read chunk by chunk (write), its data.result's elements turned into series as
 * they arrive; series() when the body has ended. series() throws InputsUnavailable for a well-formed
 * answer that is not an instant vector (its message holds "$query" for the caller to fill in) and a
 * plain error for anything malformed, in that order of precedence: an answer whose status or type is
 * wrong is said to be so even though its elements, read first, did not look like samples.
 */
export class AnswerReader {
  private readonly out: Series[] = [];
  /** The first element that is not a sample (later ones are not looked at). */
  private badElement: string | undefined;
  private readonly stream = new JsonArrayStream(['data', 'result'], (elements, first) => this.take(elements, first));

  write(chunk: string): void {
    this.stream.write(chunk);
  }

  /** The body's length so far, in UTF-16 units. */
  get chars(): number {
    return this.stream.chars;
  }

  series(): Series[] {
    const { value: answer, streamed } = this.stream.end() as { value: { status?: unknown; data?: { resultType?: unknown; result?: unknown } }; streamed: boolean };
    if (answer.status !== 'success') throw new Error(`status ${JSON.stringify(answer.status)}`);
    const resultType = answer.data?.resultType;
    if (resultType !== 'vector') {
      if (typeof resultType === 'string') throw new InputsUnavailable('no_data', `expected an instant vector from $query, got ${resultType}`);
      throw new Error('no data.resultType');
    }
    if (!streamed) {
      // Not found where it was looked for: a body whose data.result is not an array (or is missing).
      if (!Array.isArray(answer.data!.result)) throw new Error('data.result is not an array');
      this.take(answer.data!.result, 0);
    }
    if (this.badElement !== undefined) throw new Error(this.badElement);
    return this.out;
  }

  private take(elements: unknown[], first: number): void {
    if (this.badElement !== undefined) return;
    for (let i = 0; i < elements.length; i++) {
      const r = elements[i] as { metric?: unknown; value?: unknown };
      const sample = r?.value;
      if (typeof r?.metric !== 'object' || r.metric === null || !Array.isArray(sample) || typeof sample[1] !== 'string') {
        this.badElement = `data.result[${first + i}] is not {"metric":{...},"value":[time,"number"]}`;
        return;
      }
      const value = sampleValue(sample[1]);
      if (value === undefined) {
        this.badElement = `data.result[${first + i}]'s value ${JSON.stringify(sample[1].slice(0, 40))} is not a number`;
        return;
      }
      this.out.push({ labels: r.metric as Record<string, string>, value });
    }
  }
}


/** A sample as Prometheus writes it (Go's strconv.FormatFloat, or "NaN", "+Inf", "-Inf"); undefined when it is none of those. */
function sampleValue(text: string): number | undefined {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  const v = text === '' ? NaN : Number(text);
  return Number.isNaN(v) && text !== 'NaN' ? undefined : v;
}
