// Where EdgeConfigs come from: the control plane (long poll with ETag) or a static JSON file.
import { readFileSync } from 'node:fs';
import { EdgeConfig } from '../model/views.ts';
import { formatPath } from '../lib/config-file.ts';

export type Fetched = { kind: 'config'; config: EdgeConfig } | { kind: 'unchanged' };

export interface ConfigSource {
  /** `wait`: long-poll (true) or answer at once (false). */
  next(opts: { wait: boolean; signal?: AbortSignal }): Promise<Fetched>;
  describe(): string;
}

export class SourceError extends Error {
  constructor(
    message: string,
    readonly kind: 'unreachable' | 'http' | 'auth' | 'invalid',
  ) {
    super(message);
    this.name = 'SourceError';
  }
}

export function parseEdgeConfig(doc: unknown, where: string): EdgeConfig {
  const r = EdgeConfig.safeParse(doc);
  if (r.success) return r.data;
  const issues = r.error.issues.slice(0, 5).map((i) => `${formatPath(i.path) || '(root)'}: ${i.message}`);
  throw new SourceError(`${where}: not a valid EdgeConfig: ${issues.join('; ')}`, 'invalid');
}

export interface ApiSourceOptions {
  url: string;
  token: string;
  edgeId: string;
  waitMs: number;
  timeoutMs?: number;
}

/**
 * GET {url}/api/v1/edges/{id}/config with `Authorization: Bearer`, `If-None-Match: "<version>"` and
 * `?wait=<s>`: the control plane answers 200 with a new config as soon as one exists, or 304 when the
 * wait runs out.
 */
export class ApiSource implements ConfigSource {
  private etag: string | null = null;

  constructor(private readonly opts: ApiSourceOptions) {}

  describe(): string {
    return `${this.opts.url} (edge ${this.opts.edgeId})`;
  }

  /** Forget the ETag so the next call returns the full config (used after a failed apply). */
  reset(): void {
    this.etag = null;
  }

  async next({ wait, signal }: { wait: boolean; signal?: AbortSignal }): Promise<Fetched> {
    const base = this.opts.url.replace(/\/+$/, '');
    const waitS = wait && this.etag ? Math.ceil(this.opts.waitMs / 1000) : 0;
    const url = `${base}/api/v1/edges/${encodeURIComponent(this.opts.edgeId)}/config${waitS > 0 ? `?wait=${waitS}` : ''}`;
    const headers: Record<string, string> = { accept: 'application/json', ...(this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {}) };
    if (this.etag) headers['if-none-match'] = this.etag;
    const timeout = AbortSignal.timeout(this.opts.timeoutMs ?? this.opts.waitMs + 15_000);
    let res: Response;
    try {
      res = await fetch(url, { headers, signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new SourceError(`GET ${url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`, 'unreachable');
    }
    if (res.status === 304) {
      await res.body?.cancel();
      return { kind: 'unchanged' };
    }
    const body = await res.text().catch(() => '');
    if (res.status === 401 || res.status === 403) throw new SourceError(`GET ${url}: HTTP ${res.status}: the token was refused (api.token / api.token_file)`, 'auth');
    if (res.status !== 200) throw new SourceError(`GET ${url}: HTTP ${res.status}: ${body.slice(0, 200)}`, 'http');
    let doc: unknown;
    try {
      doc = JSON.parse(body);
    } catch {
      throw new SourceError(`GET ${url}: the body is not JSON: ${body.slice(0, 120)}`, 'invalid');
    }
    const config = parseEdgeConfig(doc, `GET ${url}`);
    this.etag = res.headers.get('etag') ?? `"${config.version}"`;
    return { kind: 'config', config };
  }
}

/** A static EdgeConfig JSON file: re-read on every call (after `intervalMs` when waiting). */
export class FileSource implements ConfigSource {
  constructor(
    private readonly path: string,
    private readonly intervalMs: number,
  ) {}

  describe(): string {
    return this.path;
  }

  async next({ wait, signal }: { wait: boolean; signal?: AbortSignal }): Promise<Fetched> {
    if (wait) await sleep(this.intervalMs, signal);
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      throw new SourceError(`${this.path}: ${(err as Error).message}`, 'unreachable');
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new SourceError(`${this.path}: not JSON: ${(err as Error).message}`, 'invalid');
    }
    return { kind: 'config', config: parseEdgeConfig(doc, this.path) };
  }
}

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
