// The data planes' side of the control plane's long-poll contract, written once for `sluice dns` and
// `sluice edge-sync`: GET {replica}{path} with `Authorization: Bearer`, `If-None-Match: <ETag>` and
// `?wait=<s>`; the replica answers 200 with a new view as soon as one exists, or 304 when the wait runs
// out. Every answer carries the store's change sequence (`Sluice-Change-Seq`, and `seq` in the view).
//
// Failover: the client is given every replica's URL, in the order to try them (list the nearest
// replica first; give different data planes different orders to spread them). It stays on one until
// that one fails, then moves to the next at once; only when every replica has failed in a row does it
// back off (exponential, jittered, so a fleet does not come back in lock-step).
//
// Never backwards: a view whose seq is lower than the one in force (a replica serving from an older
// snapshot, a database restored from an older backup) is refused as `stale`, counted, and the next
// replica is tried; the view in force stays.
//
// Failure kinds, and whether retrying helps (as controller-runtime's TerminalError says which errors
// not to requeue): `unreachable` (connect/timeout), `http` (5xx or another status) and `stale` are
// transient: another replica, or the same one shortly, may answer — `retryable`. `auth` (401/403) and
// `invalid` (not JSON, not the schema) come from configuration or version skew and will not fix
// themselves: they are still retried, so an operator's fix is picked up, but at the longest backoff.
// `tls` (the replica's certificate did not verify: wrong CA, wrong name, expired; or it refused ours)
// fails closed: the view in force stays. Another replica may hold a good certificate, so the client
// moves on to it at once; once every replica has failed, it retries at the longest backoff.
//
// HTTPS: `tls` (lib/tls.ts ClientTls) gives the CA bundle, the server-name pin and the client
// certificate; requests go through keep-alive agents (lib/http-get.ts), so a long-poll pays the
// handshake once per connection.
import { backoffDelay, type BackoffOptions } from './backoff.ts';
import { HttpGetter, type GetResult } from './http-get.ts';
import { describeTlsError, type ClientTls } from './tls-client.ts';

export const SEQ_HEADER = 'sluice-change-seq';

export type LongPollErrorKind = 'unreachable' | 'http' | 'auth' | 'invalid' | 'stale' | 'tls';

export class LongPollError extends Error {
  constructor(
    message: string,
    readonly kind: LongPollErrorKind,
    /** The replica that failed (base URL); empty for non-HTTP sources. */
    readonly url = '',
    /** The client moved on to a replica that has not failed yet this round: retry now, no backoff. */
    readonly failover = false,
  ) {
    super(message);
    this.name = 'LongPollError';
  }

  /** Transient: retry soon (on another replica). False for auth/invalid/tls: retry only at the longest backoff. */
  get retryable(): boolean {
    return this.kind === 'unreachable' || this.kind === 'http' || this.kind === 'stale';
  }

  /** Another replica may answer where this one failed (a certificate is per replica, a token is not). */
  get triesNextReplica(): boolean {
    return this.retryable || this.kind === 'tls';
  }
}

export interface LongPollOptions<T> {
  /** Base URLs of the control-plane replicas. */
  urls: string[];
  /** Path of the view, e.g. /api/v1/dns/view. */
  path: string;
  token?: string | undefined;
  waitMs: number;
  /** Allowed beyond the wait before a request is abandoned as unreachable. */
  timeoutMs: number;
  /** Validates a body; throws (any error) when it is not a view. */
  parse(doc: unknown, where: string): T;
  /** Content version (used as the ETag when the replica sends none). */
  version(view: T): string;
  /** The view's store seq, or null when it has none (it is then never refused as stale). */
  seq(view: T): number | null;
  backoff: BackoffOptions;
  random?: () => number;
  /** Hint for the 'auth' message: which config keys hold the token. */
  tokenHint?: string;
  /** CA bundle, server-name pin and client certificate for https:// replicas (else the system's CAs). */
  tls?: ClientTls | undefined;
  /** The config key of the TLS block, named in 'tls' errors (default "api.tls"). */
  tlsKey?: string;
}

export type Polled<T> = { kind: 'update'; view: T; url: string } | { kind: 'unchanged'; url: string };

export class LongPollClient<T> {
  private etag: string | null = null;
  private index: number;
  /** Consecutive failures, across replicas. */
  private failures = 0;
  private readonly http: HttpGetter;
  /** Seq of the view in force; views below it are refused. */
  seqInForce: number | null = null;
  /** Highest seq any replica has confirmed (a 200, or a 304's header): how current the view in force is known to be. */
  confirmedSeq: number | null = null;

  constructor(private readonly o: LongPollOptions<T>) {
    if (o.urls.length === 0) throw new Error('LongPollClient: no URLs');
    this.index = 0;
    this.http = new HttpGetter(o.tls);
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.http.close();
  }

  /** The replica the next request goes to. */
  get url(): string {
    return this.o.urls[this.index]!;
  }

  /** Asks another path from now on (a data plane falling back to an older control plane's endpoint). */
  setPath(path: string): void {
    this.o.path = path;
  }

  /**
   * Start from a view held already (a DNS server's cached view at start): the next request names it
   * (If-None-Match), so an up-to-date replica answers 304 or a delta. The seq floor is not set: the
   * view did not come from a replica this run.
   */
  resumeFrom(version: string): void {
    this.etag = `"${version}"`;
  }

  /** Forget the ETag: the next request fetches the whole view (after a failed apply). The seq floor stays. */
  reset(): void {
    this.etag = null;
  }

  /** Delay before the next attempt after `err`: none while other replicas are untried, else jittered backoff. */
  retryDelay(err: LongPollError): number {
    if (err.failover) return 0;
    const rounds = Math.max(1, Math.ceil(this.failures / this.o.urls.length));
    return err.retryable ? backoffDelay(rounds, this.o.backoff, this.o.random) : this.o.backoff.max;
  }

  /** One request to the current replica. Throws LongPollError (having moved to the next replica when another may answer). */
  async next(opts: { wait: boolean; signal?: AbortSignal } = { wait: true }): Promise<Polled<T>> {
    const base = this.url;
    try {
      const out = await this.request(base, opts);
      this.failures = 0;
      return out;
    } catch (err) {
      // The caller gave up (stopping, or woken for other work): not this replica's failure.
      if (opts.signal?.aborted) throw new LongPollError(`${base}: request aborted by the caller`, 'unreachable', base, false);
      const e = err instanceof LongPollError ? err : new LongPollError(`${base}: ${(err as Error).message}`, 'unreachable', base);
      this.failures++;
      let failover = false;
      if (e.triesNextReplica && this.o.urls.length > 1) {
        this.index = (this.index + 1) % this.o.urls.length;
        failover = this.failures < this.o.urls.length;
      }
      throw new LongPollError(e.message, e.kind, base, failover);
    }
  }

  private async request(base: string, { wait, signal }: { wait: boolean; signal?: AbortSignal }): Promise<Polled<T>> {
    const waitS = wait && this.etag ? Math.ceil(this.o.waitMs / 1000) : 0;
    const url = `${base.replace(/\/+$/, '')}${this.o.path}${waitS > 0 ? `?wait=${waitS}` : ''}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.o.token) headers.authorization = `Bearer ${this.o.token}`;
    if (this.etag) headers['if-none-match'] = this.etag;
    const timeout = AbortSignal.timeout(waitS * 1000 + this.o.timeoutMs);
    let res: GetResult;
    try {
      res = await this.http.get(url, { headers, signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
    } catch (err) {
      const tls = timeout.aborted ? null : describeTlsError(err, this.o.tlsKey ?? 'api.tls', this.o.tls?.presentsCertificate ?? false);
      if (tls) throw new LongPollError(`GET ${url}: ${tls}`, 'tls', base);
      const e = err as NodeJS.ErrnoException;
      const why = timeout.aborted ? `no answer within ${waitS * 1000 + this.o.timeoutMs} ms` : e.code === 'ECONNRESET' && e.message ? `${e.message} (${e.code})` : (e.code ?? e.message);
      throw new LongPollError(`GET ${url}: ${why}`, 'unreachable', base);
    }
    const headerSeq = Number(header(res, SEQ_HEADER) ?? Number.NaN);
    if (res.status === 304) {
      if (Number.isFinite(headerSeq)) this.confirm(headerSeq);
      return { kind: 'unchanged', url: base };
    }
    const body = res.body;
    if (res.status === 401 || res.status === 403) {
      // The control plane says which credential it refused: a client certificate (mTLS), or the token.
      const problem = parseProblem(body);
      if (problem?.code === 'client_certificate_refused') throw new LongPollError(`GET ${url}: HTTP ${res.status}: ${problem.detail} (${this.o.tlsKey ?? 'api.tls'})`, 'auth', base);
      throw new LongPollError(`GET ${url}: HTTP ${res.status}: the token was refused${this.o.tokenHint ? ` (${this.o.tokenHint})` : ''}`, 'auth', base);
    }
    if (res.status !== 200) throw new LongPollError(`GET ${url}: HTTP ${res.status}: ${body.slice(0, 200)}`, 'http', base);
    let doc: unknown;
    try {
      doc = JSON.parse(body);
    } catch {
      throw new LongPollError(`GET ${url}: the body is not JSON: ${body.slice(0, 120)}`, 'invalid', base);
    }
    let view: T;
    try {
      view = this.o.parse(doc, `GET ${url}`);
    } catch (err) {
      throw new LongPollError((err as Error).message, 'invalid', base);
    }
    const seq = this.o.seq(view);
    if (seq !== null && this.seqInForce !== null && seq < this.seqInForce) {
      throw new LongPollError(`GET ${url}: view at store seq ${seq} is older than the one in force (seq ${this.seqInForce}); ignored`, 'stale', base);
    }
    if (seq !== null) {
      this.seqInForce = seq;
      this.confirm(seq);
    }
    this.etag = header(res, 'etag') ?? `"${this.o.version(view)}"`;
    return { kind: 'update', view, url: base };
  }

  private confirm(seq: number): void {
    if (this.confirmedSeq === null || seq > this.confirmedSeq) this.confirmedSeq = seq;
  }
}

function parseProblem(body: string): { code?: string; detail?: string } | null {
  try {
    const doc = JSON.parse(body) as unknown;
    return doc !== null && typeof doc === 'object' ? (doc as { code?: string; detail?: string }) : null;
  } catch {
    return null;
  }
}

function header(res: GetResult, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Sleeps `ms`, or less when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
