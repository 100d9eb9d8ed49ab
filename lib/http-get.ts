// One GET (or POST) over http:// or https:// with node:http(s), for the clients that must verify a server with
// their own CA bundle and present a client certificate (fetch cannot: Node 20's fetch takes neither
// without undici's Agent). Keep-alive agents, so a long-poll or a scrape pays the TLS handshake once
// per connection, not per request. Errors keep Node's `code` (ECONNREFUSED, CERT_HAS_EXPIRED,
// ERR_TLS_CERT_ALTNAME_INVALID, ...) for lib/tls.ts' describeTlsError.
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { createGunzip } from 'node:zlib';
import type { ClientTls } from './tls-client.ts';
import { yieldToLoop } from './loop-turns.ts';

/** A body this long (UTF-16 units) is joined in a turn of the event loop of its own. */
const LARGE_BODY_CHARS = 4 << 20;

export interface GetResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /**
   * Where the body goes instead of GetResult.body (then ''): given the status, a function that takes
   * each decoded chunk as it arrives, or undefined to collect the body as usual (an error page to
   * quote). For answers too big to hold as one string (a PromQL answer, lib/json-array-stream.ts).
   */
  bodySink?: (status: number) => ((chunk: string) => void) | undefined;
}

export interface HttpGetterOptions {
  /**
   * Ask for gzip (Accept-Encoding) and inflate a gzip answer: for big answers from far servers (a PromQL
   * answer at 1M subnets is ~60 MB, ~10x less gzipped). Inflating runs on libuv's thread pool, in
   * pieces, not on the caller's event loop in one go.
   */
  gzip?: boolean;
}

export class HttpGetter {
  private readonly plain = new http.Agent({ keepAlive: true });

  constructor(
    private readonly tls?: ClientTls,
    private readonly opts: HttpGetterOptions = {},
  ) {}

  /** GETs `url`; rejects with Node's error (its `code` kept), or an AbortError when `signal` fires. */
  get(url: string, opts: RequestOptions = {}): Promise<GetResult> {
    return this.request('GET', url, opts);
  }

  /** POSTs `body` to `url` (edge-sync's health reports); errors as for get(). */
  post(url: string, body: string, opts: RequestOptions = {}): Promise<GetResult> {
    return this.request('POST', url, { ...opts, body });
  }

  private request(method: 'GET' | 'POST', url: string, opts: RequestOptions & { body?: string }): Promise<GetResult> {
    const u = new URL(url);
    const secure = u.protocol === 'https:';
    if (!secure && u.protocol !== 'http:') return Promise.reject(new Error(`${url}: only http:// and https:// URLs are supported`));
    return new Promise((resolve, reject) => {
      const req = (secure ? https : http).request(
        u,
        {
          method,
          headers: { ...(this.opts.gzip ? { 'accept-encoding': 'gzip' } : {}), ...opts.headers, ...(opts.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(opts.body)) }) },
          agent: secure ? (this.tls?.agent() ?? https.globalAgent) : this.plain,
          ...(opts.signal ? { signal: opts.signal } : {}),
        },
        (res) => {
          // Decoded chunk by chunk as they arrive (a character split across chunks is kept whole), so
          // a big body (a full DNS view at 1M subnets) is not concatenated and decoded in one piece at the
          // end: ~100 ms of the event loop for Buffer.concat + toString of 55 MB, ~50 ms for the join.
          // Bodies too big even for the join go to a bodySink instead (the PromQL answers).
          const gunzip = this.opts.gzip && res.headers['content-encoding'] === 'gzip' ? createGunzip() : undefined;
          const body = gunzip ? res.pipe(gunzip) : res;
          body.setEncoding('utf8');
          const sink = opts.bodySink?.(res.statusCode ?? 0);
          const chunks: string[] = [];
          let length = 0;
          body.on(
            'data',
            sink ??
              ((c: string) => {
                chunks.push(c);
                length += c.length;
              }),
          );
          body.on('end', () => {
            const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: chunks.join('') });
            // The join is one piece, ~1 ms a MB (more under memory pressure: 150-185 ms for a PromQL answer
            // in the 1M real path): big answers that end in the same turn join in turns of their own.
            if (length >= LARGE_BODY_CHARS) void yieldToLoop().then(done);
            else done();
          });
          // A corrupt gzip stream: zlib's error (its code, e.g. Z_DATA_ERROR), the request ended.
          gunzip?.on('error', (err) => (req.destroy(), reject(err)));
          res.on('error', reject);
          res.on('close', () => {
            if (!res.complete) reject(Object.assign(new Error('the answer broke off'), { code: 'ECONNRESET' }));
          });
        },
      );
      req.on('error', reject);
      req.end(opts.body);
    });
  }

  close(): void {
    this.plain.destroy();
    this.tls?.close();
  }
}
