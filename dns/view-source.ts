// Where DNS views come from: the control plane's long-poll (GET /api/v1/dns/view with If-None-Match
// and ?wait=), or a static file. Either way a view is validated before it replaces the current one;
// a failed fetch or a bad view is counted and logged, and the last good view keeps answering.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { DnsView } from '../model/views.ts';
import type { Logger } from '../lib/log.ts';
import type { DnsConfig } from './config.ts';
import type { ViewMetrics } from './metrics.ts';

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
 * Long-polls the control plane. The first request fetches the current view; every later one sends
 * If-None-Match with the ETag we hold and ?wait=N, and the API answers 200 with a new view as soon as
 * one is published, or 304 after N seconds. Errors back off exponentially (retry .. 30 s).
 */
export class ApiViewSource implements ViewSource {
  private etag: string | null = null;
  private stopped = false;
  private controller: AbortController | null = null;

  constructor(
    private readonly api: NonNullable<DnsConfig['api']>,
    private readonly token: string | undefined,
    private readonly onView: ViewListener,
    private readonly metrics: ViewMetrics,
    private readonly log: Logger,
  ) {}

  start(): void {
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    this.controller?.abort();
  }

  private async loop(): Promise<void> {
    let backoff = this.api.retry;
    while (!this.stopped) {
      try {
        await this.pollOnce();
        backoff = this.api.retry;
      } catch (err) {
        if (this.stopped) return;
        this.metrics.errors.inc({ kind: (err as { kind?: string }).kind ?? 'unreachable' });
        this.log.warn({ err: (err as Error).message, retry_ms: backoff }, 'view fetch failed; answering from the last good view');
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 30_000);
      }
    }
  }

  /** One request. Resolves after a 200 (installed) or 304; throws on anything else. */
  async pollOnce(): Promise<'updated' | 'unchanged'> {
    const waitSeconds = Math.max(0, Math.round(this.api.wait / 1000));
    const url = new URL('/api/v1/dns/view', this.api.url);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (this.etag) {
      headers['if-none-match'] = this.etag;
      url.searchParams.set('wait', String(waitSeconds));
    }
    this.controller = new AbortController();
    const timer = setTimeout(() => this.controller?.abort(), (this.etag ? waitSeconds * 1000 : 0) + this.api.timeout);
    try {
      const res = await fetch(url, { headers, signal: this.controller.signal });
      if (res.status === 304) {
        await res.body?.cancel();
        return 'unchanged';
      }
      if (res.status !== 200) {
        const body = (await res.text()).slice(0, 200);
        throw Object.assign(new Error(`GET ${url.pathname}: HTTP ${res.status} ${body}`), { kind: res.status === 401 || res.status === 403 ? 'auth' : 'http' });
      }
      let doc: unknown;
      try {
        doc = await res.json();
      } catch (err) {
        throw Object.assign(new Error(`GET ${url.pathname}: body is not JSON: ${(err as Error).message}`), { kind: 'invalid' });
      }
      let view: DnsView;
      try {
        view = parseView(doc, `GET ${url.pathname}`);
      } catch (err) {
        throw Object.assign(err as Error, { kind: 'invalid' });
      }
      this.etag = res.headers.get('etag') ?? `"${view.version}"`;
      this.onView(view);
      this.metrics.updates.inc();
      this.metrics.lastUpdate.set(Date.now() / 1000);
      return 'updated';
    } finally {
      clearTimeout(timer);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref?.());
}
