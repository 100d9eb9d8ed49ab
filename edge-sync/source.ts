// Where EdgeConfigs come from: the control plane (long poll with ETag) or a static JSON file.
import { readFileSync } from 'node:fs';
import { EdgeConfig } from '../model/views.ts';
import { formatPath } from '../lib/config-file.ts';
import type { BackoffOptions } from '../lib/backoff.ts';
import { LongPollClient, LongPollError, sleep } from '../lib/long-poll.ts';
import type { ClientTls } from '../lib/tls-client.ts';

export type Fetched = { kind: 'config'; config: EdgeConfig } | { kind: 'unchanged' };

export interface ConfigSource {
  /** `wait`: long-poll (true) or answer at once (false). */
  next(opts: { wait: boolean; signal?: AbortSignal }): Promise<Fetched>;
  describe(): string;
  /** The store seq the config in force is confirmed at (API sources). */
  confirmedSeq?(): number | null;
}

/** A failed fetch: unreachable | http | auth | invalid | stale (lib/long-poll.ts says which retry). */
export { LongPollError as SourceError };

export function parseEdgeConfig(doc: unknown, where: string): EdgeConfig {
  const r = EdgeConfig.safeParse(doc);
  if (r.success) return r.data;
  const issues = r.error.issues.slice(0, 5).map((i) => `${formatPath(i.path) || '(root)'}: ${i.message}`);
  throw new LongPollError(`${where}: not a valid EdgeConfig: ${issues.join('; ')}`, 'invalid');
}

export interface ApiSourceOptions {
  /** Every control-plane replica's base URL. */
  urls: string[];
  token: string;
  edgeId: string;
  waitMs: number;
  timeoutMs?: number;
  /** Backoff once every replica has failed in a row (default 1 s doubling to 60 s, ±20 %). */
  retry?: BackoffOptions;
  /** api.tls: CA bundle, server-name pin, client certificate. */
  tls?: ClientTls | undefined;
}

/**
 * GET {replica}/api/v1/edges/{id}/config with `Authorization: Bearer`, `If-None-Match: "<version>"` and
 * `?wait=<s>` (lib/long-poll.ts): the control plane answers 200 with a new config as soon as one exists,
 * or 304 when the wait runs out. A failing replica is left for the next; an older config (lower store
 * seq) than the one in force is refused.
 */
export class ApiSource implements ConfigSource {
  readonly client: LongPollClient<EdgeConfig>;

  constructor(private readonly opts: ApiSourceOptions) {
    this.client = new LongPollClient<EdgeConfig>({
      urls: opts.urls,
      path: `/api/v1/edges/${encodeURIComponent(opts.edgeId)}/config`,
      token: opts.token,
      waitMs: opts.waitMs,
      timeoutMs: opts.timeoutMs ?? 15_000,
      parse: parseEdgeConfig,
      version: (c) => c.version,
      seq: (c) => c.seq,
      backoff: opts.retry ?? { initial: 1000, max: 60_000, multiplier: 2, jitter: 0.2 },
      tokenHint: 'api.token / api.token_file',
      tls: opts.tls,
      tlsKey: 'api.tls',
    });
  }

  describe(): string {
    return `${this.client.url} (edge ${this.opts.edgeId})`;
  }

  /** Forget the ETag so the next call returns the full config (used after a failed apply). */
  reset(): void {
    this.client.reset();
  }

  confirmedSeq(): number | null {
    return this.client.confirmedSeq;
  }

  async next({ wait, signal }: { wait: boolean; signal?: AbortSignal }): Promise<Fetched> {
    const r = await this.client.next({ wait, ...(signal ? { signal } : {}) });
    return r.kind === 'update' ? { kind: 'config', config: r.view } : { kind: 'unchanged' };
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
      throw new LongPollError(`${this.path}: ${(err as Error).message}`, 'unreachable');
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new LongPollError(`${this.path}: not JSON: ${(err as Error).message}`, 'invalid');
    }
    return { kind: 'config', config: parseEdgeConfig(doc, this.path) };
  }
}

export { sleep };
