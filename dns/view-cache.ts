// The last good view on the DNS server's own disk (`view_cache`), so that a server restarted while no
// control-plane replica answers serves what it served before instead of SERVFAIL: serve-stale
// (RFC 8767) for the whole view. Without it, a control-plane outage is harmless only until the first
// DNS restart (a deploy, a crash, a reboot).
//
// Model: the process that follows the API (the primary, or the single process) notes every view it
// installs; at most every `min_interval` the view in force is written as the compact view
// (model/view-codec.ts, the same encoding as a resync) followed by one trailer line holding the
// SHA-256 of the text before it. The write goes to `<file>.tmp`, is fsynced and renamed over the file,
// so a crash leaves the old cache or the new one, never half of one.
//
// Invariants:
// - What is written is one view, never a mix: deltas change the view held in place, so a write that
//   saw another install before it finished is thrown away (`superseded`) and tried again later.
// - The write is paced (20 ms slices, the file written between them): a 1M-subnet view takes seconds
//   of work, and the single-process server answers queries on this thread.
// - A cache is used only at start, only when no replica gave a view within `api.first_view_wait`, and
//   only when its checksum and every field check out (the same decoder as the API's full answer). It
//   never sets the seq floor: a control plane restored from an older backup is followed, not refused.
// - Failures (disk full, permissions, a corrupt file) are logged and counted, never fatal: the cache
//   is a fallback, the API stays the source of truth.
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../lib/log.ts';
import { packedViewJsonSteps, type PackedView } from './packed/packed-view.ts';
import type { CompactDnsView } from '../model/view-changes.ts';
import type { DnsConfig } from './config.ts';
import type { ViewMetrics } from './metrics.ts';
import { decodeViewChange } from './view-changes.ts';

const FORMAT = 'sluice-dns-view-cache/1';
const SLICE_MS = 20;
/** Written after this much text has gathered, or at the end of a slice. */
const FLUSH_CHARS = 1 << 20;
/** After a failed write (disk full, permissions), the next try waits at least this long. */
const RETRY_AFTER_FAILURE_MS = 10_000;

export interface CachedView {
  view: PackedView;
  /** The view as the file holds it (compact): what the primary hands its workers, not encoded again. */
  compact: CompactDnsView;
  /** When it was written (ISO 8601). */
  savedAt: string;
}

export class ViewCache {
  private held: PackedView | null = null;
  /** Installs seen; a write whose count moved meanwhile wrote a mix of views and is discarded. */
  private installs = 0;
  private written = 0;
  private lastWriteAt = -Infinity;
  private lastFailed = false;
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly config: NonNullable<DnsConfig['view_cache']>,
    private readonly metrics: Pick<ViewMetrics, 'cacheWrites' | 'cacheLoads' | 'fromCache'>,
    private readonly log: Logger,
  ) {}

  get file(): string {
    return this.config.file;
  }

  /** After a view from the API is installed (the object may be changed in place by later deltas). */
  installed(view: PackedView): void {
    this.held = view;
    this.installs++;
    this.metrics.fromCache.set(0);
    this.schedule();
  }

  /** The loaded view is installed and answering. */
  serving(): void {
    this.metrics.cacheLoads.inc({ result: 'ok' });
    this.metrics.fromCache.set(1);
  }

  /** The loaded view checked out but could not be installed (its index build threw). */
  refused(err: Error): void {
    this.metrics.cacheLoads.inc({ result: 'invalid' });
    this.log.error({ file: this.config.file, err: err.message }, 'the cached view cannot be installed; ignored');
  }

  /** Stops writing (an unfinished write is abandoned at its next slice; the old file stays). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** A write is running. */
  get busy(): boolean {
    return this.writing !== null;
  }

  /** A write is waiting for min_interval. */
  get pending(): boolean {
    return this.timer !== null;
  }

  /** The cached view, checked; null (logged and counted) when there is none or it does not check out. */
  load(): CachedView | null {
    const file = this.config.file;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      this.metrics.cacheLoads.inc({ result: missing ? 'missing' : 'unreadable' });
      this.log.warn({ file, err: (err as Error).message }, missing ? 'no cached view to start from' : 'the cached view cannot be read');
      return null;
    }
    try {
      const cut = text.lastIndexOf('\n');
      if (cut < 0) throw new Error('no trailer line (truncated?)');
      const trailer = JSON.parse(text.slice(cut + 1)) as { format?: unknown; sha256?: unknown; saved_at?: unknown };
      if (trailer.format !== FORMAT) throw new Error(`format ${JSON.stringify(trailer.format)}, expected ${FORMAT}`);
      const body = text.slice(0, cut);
      if (createHash('sha256').update(body).digest('hex') !== trailer.sha256) throw new Error('checksum mismatch (the file is damaged)');
      const doc = JSON.parse(body) as { version?: unknown; seq?: unknown; weights_version?: unknown };
      const answer = { kind: 'full', reason: 'no_base', version: doc.version, seq: doc.seq ?? null, weights_version: doc.weights_version ?? null, view: doc };
      const { packed, compact } = decodeViewChange(answer, null, file);
      return { view: packed!, compact: compact!, savedAt: String(trailer.saved_at) };
    } catch (err) {
      this.metrics.cacheLoads.inc({ result: 'invalid' });
      this.log.error({ file, err: (err as Error).message }, 'the cached view is not usable; ignored');
      return null;
    }
  }

  private schedule(): void {
    if (this.stopped || this.timer || this.writing) return;
    const interval = this.lastFailed ? Math.max(this.config.min_interval, RETRY_AFTER_FAILURE_MS) : this.config.min_interval;
    const wait = Math.max(0, this.lastWriteAt + interval - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.writing = this.write().finally(() => {
        this.writing = null;
        if (this.written !== this.installs) this.schedule();
      });
    }, wait);
    this.timer.unref();
  }

  private async write(): Promise<void> {
    const view = this.held;
    if (!view) return;
    const at = this.installs;
    this.lastWriteAt = Date.now();
    this.lastFailed = false;
    const file = this.config.file;
    const tmp = `${file}.tmp`;
    const started = performance.now();
    let outcome: 'ok' | 'superseded' | 'failed' = 'ok';
    let fh: FileHandle;
    try {
      fh = await open(tmp, 'w', 0o600);
    } catch (err) {
      return this.failed(err as Error);
    }
    try {
      const hash = createHash('sha256');
      let pieces: string[] = [];
      let size = 0;
      const steps = packedViewJsonSteps(view, (p) => {
        pieces.push(p);
        size += p.length;
      });
      for (let done = false; !done; ) {
        const sliceEnd = performance.now() + SLICE_MS;
        while (size < FLUSH_CHARS && performance.now() < sliceEnd) if (steps.next().done) {
          done = true;
          break;
        }
        if (this.installs !== at || this.stopped) {
          outcome = 'superseded';
          break;
        }
        const chunk = pieces.join('');
        pieces = [];
        size = 0;
        hash.update(chunk);
        await fh.write(chunk);
      }
      if (outcome === 'ok') {
        await fh.write(`\n${JSON.stringify({ format: FORMAT, sha256: hash.digest('hex'), saved_at: new Date().toISOString(), version: view.view.version })}`);
        await fh.sync();
      }
    } catch (err) {
      outcome = 'failed';
      this.log.error({ file, err: (err as Error).message }, 'cannot write the view cache; the previous cache (if any) stays');
    } finally {
      await fh.close().catch(() => undefined);
    }
    if (outcome !== 'ok') {
      rmSync(tmp, { force: true });
      this.lastFailed = outcome === 'failed';
      this.metrics.cacheWrites.inc({ result: outcome });
      return;
    }
    try {
      renameSync(tmp, file);
      syncDirectory(dirname(file));
    } catch (err) {
      return this.failed(err as Error);
    }
    this.written = at;
    this.metrics.cacheWrites.inc({ result: 'ok' });
    this.log.debug({ file, version: view.view.version, ms: Math.round(performance.now() - started) }, 'view cache written');
  }

  private failed(err: Error): void {
    this.lastFailed = true;
    rmSync(`${this.config.file}.tmp`, { force: true });
    this.metrics.cacheWrites.inc({ result: 'failed' });
    this.log.error({ file: this.config.file, err: err.message }, 'cannot write the view cache; the previous cache (if any) stays');
  }
}

/** The rename is durable only once the directory entry is on disk. */
function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
