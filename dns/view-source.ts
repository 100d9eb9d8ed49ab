// Where DNS views come from: the control plane's long-poll (GET /api/v1/dns/view with If-None-Match
// and ?wait=), or a static file. Either way a view is validated before it replaces the current one;
// a failed fetch or a bad view is counted and logged, and the last good view keeps answering.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { DnsRecordView, DnsView, WeightMap } from '../model/views.ts';
import type { Logger } from '../lib/log.ts';
import type { DnsConfig } from './config.ts';
import type { ViewMetrics } from './metrics.ts';
import { LongPollClient, LongPollError, sleep, type Polled } from '../lib/long-poll.ts';
import { WeightMapInterner } from '../model/view-codec.ts';
import { applyPackedChanges, packView, type PackedView } from './packed/packed-view.ts';
import { CHANGES_PATH, decodeLegacyView, decodeViewChange, LEGACY_PATH, WrongBaseError, type ReceivedView, type ViewDelta } from './view-changes.ts';
import type { ClientTls } from '../lib/tls-client.ts';
import type { ViewCache } from './view-cache.ts';
import type { CompactDnsView } from '../model/view-changes.ts';

/**
 * `view`: packed (packed/packed-view.ts: its tables are changed in place by the next delta).
 * `delta`: how `view` came from the one installed before (absent for a full view). `compact`: a full
 * view as it came, in the compact encoding (when it came so): what a cluster primary hands its
 * workers, rather than encoding `view` again. Valid only for this call's view (the next delta changes `view` in place).
 */
export type ViewListener = (view: PackedView, delta?: ViewDelta, compact?: CompactDnsView) => void;

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

/**
 * The view's envelope is schema-checked; the learned subnets (up to millions) are checked here in a
 * loop, each weight map once per distinct content, and equal maps share one object (WeightMapInterner):
 * a schema walking a million-key record copies every map and keeps a million small objects alive.
 */
export function parseView(doc: unknown, what: string): DnsView {
  const r = ReceivedDnsView.safeParse(doc);
  const fail = (issues: readonly { path: PropertyKey[]; message: string }[]) => {
    const first = issues.slice(0, 3).map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ');
    return new Error(`${what}: not a DnsView: ${first}`);
  };
  if (!r.success) throw fail(r.error.issues);
  const interner = new WeightMapInterner();
  r.data.zones.forEach((z, zi) =>
    z.records.forEach((rec, ri) => {
      const subnets = rec.subnets;
      for (const cidr in subnets) {
        const m = subnets[cidr]!;
        const shared = interner.intern(m, () => {
          const w = WeightMap.safeParse(m);
          if (!w.success) throw fail(w.error.issues.map((i) => ({ ...i, path: ['zones', zi, 'records', ri, 'subnets', cidr, ...i.path] })));
        });
        if (shared !== m) subnets[cidr] = shared;
      }
    }),
  );
  return r.data as DnsView;
}

/** DnsView with each record's subnets only checked to be an object here (parseView checks the rest). */
const ReceivedDnsView = DnsView.extend({
  zones: z.array(z.strictObject({ zone: z.string(), records: z.array(DnsRecordView.extend({ subnets: z.custom<Record<string, WeightMap>>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), 'expected an object of client subnet -> weight map') })) })),
});

export interface ViewSource {
  start(): void;
  stop(): void;
  /** At start, with no view from the source itself: install a cached one; false when there is none. */
  resumeFromCache?(): boolean;
}

/** Static file; SIGHUP (handled by the caller) calls reload(). `first`: the file already read (start installs it). */
export class FileViewSource implements ViewSource {
  constructor(
    private readonly file: string,
    private readonly onView: ViewListener,
    private readonly metrics: ViewMetrics,
    private readonly log: Logger,
    private first: DnsView | null = null,
  ) {}
  start(): void {
    this.reload();
  }
  reload(): void {
    try {
      const view = this.first ?? readViewFile(this.file);
      this.first = null;
      this.onView(packView(view));
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
 * Long-polls the control plane replicas through lib/long-poll.ts on GET /api/v1/dns/view/changes: the
 * first request fetches the whole view (compact); every later one sends If-None-Match (the version
 * held) and ?wait=N and gets, as soon as one is published, a delta from the view held (applied to it
 * in place: the listener gets the view and the delta, and must not keep the previous view object as
 * something else) or the full view when the replica cannot vouch for a delta, or
 * 304 after N seconds. A control plane without /changes (404) is followed on GET /api/v1/dns/view as
 * before. A failing replica is left for the next at once; when all fail, jittered backoff
 * (retry .. 30 s). A view older than the one in force (lower store seq) is refused.
 */
export class ApiViewSource implements ViewSource {
  private stopped = false;
  private readonly controller = new AbortController();
  readonly client: LongPollClient<ReceivedView>;
  /** The view in force: the base of the next delta. */
  private held: PackedView | null = null;
  private legacy = false;

  constructor(
    api: Omit<NonNullable<DnsConfig['api']>, 'first_view_wait'>,
    token: string | undefined,
    private readonly onView: ViewListener,
    private readonly metrics: ViewMetrics,
    private readonly log: Logger,
    tls?: ClientTls,
    private readonly cache?: ViewCache,
  ) {
    this.client = new LongPollClient<ReceivedView>({
      urls: apiUrls(api),
      path: CHANGES_PATH,
      token,
      waitMs: api.wait,
      timeoutMs: api.timeout,
      parse: (doc, where) => this.decode(doc, where),
      version: (r) => r.version,
      seq: (r) => r.seq,
      backoff: { initial: api.retry, max: Math.max(api.retry, 30_000), multiplier: 2, jitter: 0.2 },
      tokenHint: 'api.token / api.token_file',
      tls,
      tlsKey: 'api.tls',
    });
  }

  private decode(doc: unknown, where: string): ReceivedView {
    if (this.legacy) return decodeLegacyView(doc, where);
    try {
      return decodeViewChange(doc, this.held?.view ?? null, where);
    } catch (err) {
      // A delta for another base cannot be applied: the next request asks for the whole view.
      if (err instanceof WrongBaseError) this.client.reset();
      throw err;
    }
  }

  start(): void {
    void this.loop();
  }

  stop(): void {
    this.stopped = true;
    this.controller.abort();
    this.client.close();
    this.cache?.stop();
  }

  /**
   * No replica gave a view at start: install the cached one (view-cache.ts) and ask the replicas for
   * what changed since it. False when there is no usable cache (logged and counted by the cache).
   */
  resumeFromCache(): boolean {
    if (this.held || !this.cache) return false;
    const cached = this.cache.load();
    if (!cached) return false;
    try {
      this.onView(cached.view, undefined, cached.compact);
    } catch (err) {
      this.cache.refused(err as Error);
      return false;
    }
    this.held = cached.view;
    this.client.resumeFrom(cached.view.view.version);
    this.cache.serving();
    this.log.warn({ version: cached.view.view.version, seq: cached.view.view.seq, saved_at: cached.savedAt, file: this.cache.file }, 'no control-plane replica answered: answering from the cached view until one does');
    return true;
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
    let r: Polled<ReceivedView>;
    try {
      r = await this.client.next({ wait: true, signal: this.controller.signal });
    } catch (err) {
      // An older control plane has no /changes: follow its full view from now on (not an error).
      if (!this.legacy && err instanceof LongPollError && err.kind === 'http' && / HTTP 404:/.test(err.message)) {
        this.legacy = true;
        this.client.setPath(LEGACY_PATH);
        this.log.info({ url: err.url }, `the control plane has no ${CHANGES_PATH}; following ${LEGACY_PATH} (full views)`);
        return this.pollOnce();
      }
      throw err;
    }
    this.metrics.viewSeq.set(this.client.confirmedSeq ?? -1);
    if (r.kind === 'unchanged') return 'unchanged';
    const { delta } = r.view;
    // A delta was checked against the view held when it was decoded: applied in place, it cannot fail.
    const view = delta ? applyPackedChanges(this.held!, delta.changes, delta.header, delta.mapTexts) : r.view.packed!;
    try {
      this.onView(view, delta, r.view.compact);
    } catch (err) {
      // A view the schema accepts but the server cannot install (its index build threw): refused as
      // an invalid one is, counted and logged, and the last good view keeps answering. The next
      // request asks for the whole view again (a delta needs the view held as its base, and the one
      // held may have been changed in place).
      this.client.reset();
      if (delta) this.held = null;
      throw new LongPollError(`view ${view.view.version} from ${r.url}: cannot be installed: ${(err as Error).message}`, 'invalid', r.url);
    }
    this.held = view;
    this.cache?.installed(view);
    this.metrics.changes.inc({ kind: r.view.kind, reason: r.view.reason });
    this.metrics.updates.inc();
    this.metrics.lastUpdate.set(Date.now() / 1000);
    return 'updated';
  }
}

/** `api.urls`, or the one `api.url`. */
export function apiUrls(api: { url?: string | undefined; urls?: string[] | undefined }): string[] {
  return api.urls ?? (api.url ? [api.url] : []);
}
