// Where DNS views come from: the control plane's long-poll (GET /api/v1/dns/view with If-None-Match
// and ?wait=), or a static file. Either way a view is validated before it replaces the current one;
// a failed fetch or a bad view is counted and logged, and the last good view keeps answering.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { DnsView } from '../model/views.ts';
import type { Logger } from '../lib/log.ts';
import type { DnsConfig } from './config.ts';
import type { ViewMetrics } from './metrics.ts';
import { LongPollClient, LongPollError, sleep } from '../lib/long-poll.ts';
import type { ClientTls } from '../lib/tls-client.ts';

export type ViewListener = (view: DnsView) => void;

/** Reads and validates a DnsView file (JSON or YAML). Throws with the file and the problem. */
export function readViewFile(file: string): DnsView {
  const text = readFileSync(file, 'utf8');
  let doc: unknown;
  try {
    doc = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new Error(`${file}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`);
  }
  return parseView(doc, file);
}

export function parseView(doc: unknown, what: string): DnsView {
  const r = DnsView.safeParse(doc);
  if (!r.success) {
    const first = r.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`${what}: not a DnsView: ${first}`);
  }
  return r.data;
}

export interface ViewSource {
  start(): void;
  stop(): void;
}

/** Static file; SIGHUP (handled by the caller) calls reload(). */
export class FileViewSource implements ViewSource {
  constructor(
    private readonly file: string,
    private readonly onView: ViewListener,
    private readonly metrics: ViewMetrics,
    private readonly log: Logger,
  ) {}
  start(): void {
    this.reload();
  }
  reload(): void {
    try {
      const view = readViewFile(this.file);
      this.onView(view);
      this.metrics.updates.inc();
      this.metrics.lastUpdate.set(Date.now() / 1000);
    } catch (err) {
      this.metrics.errors.inc({ kind: 'invalid' });
      this.log.error({ err: (err as Error).message }, 'cannot load the view file; keeping the last good view');
    }
  }
  stop(): void {}
}

/**
 * Long-polls the control plane replicas through lib/long-poll.ts: the first request fetches the
 * current view; every later one sends If-None-Match and ?wait=N and gets a new view as soon as one is
 * published, or 304 after N seconds. A failing replica is left for the next at once; when all fail,
 * jittered backoff (retry .. 30 s). A view older than the one in force (lower store seq) is refused.
 */
export class ApiViewSource implements ViewSource {
  private stopped = false;
  private readonly controller = new AbortController();
  readonly client: LongPollClient<DnsView>;

  constructor(
    api: NonNullable<DnsConfig['api']>,
    token: string | undefined,
    private readonly onView: ViewListener,
    private readonly metrics: ViewMetrics,
    private readonly log: Logger,
    tls?: ClientTls,
  ) {
    this.client = new LongPollClient<DnsView>({
      urls: apiUrls(api),
      path: '/api/v1/dns/view',
      token,
      waitMs: api.wait,
      timeoutMs: api.timeout,
      parse: parseView,
      version: (v) => v.version,
      seq: (v) => v.seq,
      backoff: { initial: api.retry, max: Math.max(api.retry, 30_000), multiplier: 2, jitter: 0.2 },
      tokenHint: 'api.token / api.token_file',
      tls,
      tlsKey: 'api.tls',
    });
  }

  start(): void {
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    this.controller.abort();
    this.client.close();
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.pollOnce();
      } catch (err) {
        if (this.stopped) return;
        const e = err as LongPollError;
        this.metrics.errors.inc({ kind: e.kind });
        if (e.failover) this.metrics.failovers.inc();
        const delay = this.client.retryDelay(e);
        this.log.warn({ err: e.message, kind: e.kind, next: this.client.url, retry_ms: delay }, e.failover ? 'view fetch failed; trying the next control-plane replica' : 'view fetch failed; answering from the last good view');
        await sleep(delay, this.controller.signal);
      }
    }
  }

  /** One request. Resolves after a 200 (installed) or 304; throws LongPollError on anything else. */
  async pollOnce(): Promise<'updated' | 'unchanged'> {
    const r = await this.client.next({ wait: true, signal: this.controller.signal });
    this.metrics.viewSeq.set(this.client.confirmedSeq ?? -1);
    if (r.kind === 'unchanged') return 'unchanged';
    try {
      this.onView(r.view);
    } catch (err) {
      // A view the schema accepts but the server cannot install (its index build threw): refused as
      // an invalid one is, counted and logged, and the last good view keeps answering.
      throw new LongPollError(`view ${r.view.version} from ${r.url}: cannot be installed: ${(err as Error).message}`, 'invalid', r.url);
    }
    this.metrics.updates.inc();
    this.metrics.lastUpdate.set(Date.now() / 1000);
    return 'updated';
  }
}

/** `api.urls`, or the one `api.url`. */
export function apiUrls(api: { url?: string | undefined; urls?: string[] | undefined }): string[] {
  return api.urls ?? (api.url ? [api.url] : []);
}
