// The edge-sync loop: get the EdgeConfig (long poll), make every data plane match it, retry failures
// with backoff, and repair drift on every quiet poll. The control plane being unreachable never
// changes the data plane: what was applied last stays in force.
import { readFileSync } from 'node:fs';
import type { Logger } from '../lib/log.ts';
import type { EdgeConfig } from '../model/views.ts';
import { type BackoffOptions, backoffDelay } from '../lib/backoff.ts';
import { ApplyError, type DataPlane, type Plan, isNoop } from './dataplane.ts';
import { writeAtomic } from './fs-atomic.ts';
import type { EdgeMetrics } from './metrics.ts';
import { failsOpen, type DesiredPool } from './plan/desired.ts';
import { withLocalExclusions } from './plan/local-fallback.ts';
import { describeChange } from './plan/diff.ts';
import { type ConfigSource, SourceError, parseEdgeConfig, sleep } from './source.ts';

/** Floor between two polls, whatever the control plane answers. */
const MIN_POLL_INTERVAL_MS = 1000;

export interface LoopOptions {
  source: ConfigSource;
  dataplanes: DataPlane[];
  metrics: EdgeMetrics;
  log: Logger;
  retry: BackoffOptions;
  /** Plan and log, never apply. */
  dryRun?: boolean;
  stateFile?: string;
  /** Edge label fixed by config; otherwise taken from the first EdgeConfig. */
  edgeLabelFixed?: boolean;
  random?: () => number;
}

export interface SyncStatus {
  appliedVersion: string | null;
  appliedWeightsVersion: number | null;
  lastError: string | null;
  lastApplyAt: string | null;
  pending: boolean;
}

export class SyncLoop {
  private applied: EdgeConfig | null = null;
  /** Previous config (for cleanup of removed listeners); from the state file at start. */
  private previous: EdgeConfig | null = null;
  private pending: EdgeConfig | null = null;
  private lastError: string | null = null;
  private lastApplyAt: string | null = null;
  private inForce: ShareInForce[] = [];
  /** Origins dropped locally while the control plane cannot hear this edge (health/reporter.ts). */
  private localDown: ReadonlySet<string> | null = null;
  private localGen = 0;
  private failOpenLogged = '';
  private readonly pools = new Map<string, DesiredPool[]>();
  private readonly abort = new AbortController();
  private running: Promise<void> | null = null;
  /** The last fetch failed and the source moved to a replica not yet tried this round. */
  private failingOver = false;

  constructor(private readonly o: LoopOptions) {
    if (o.stateFile) this.previous = readStateFile(o.stateFile, o.log);
  }

  status(): SyncStatus {
    return {
      appliedVersion: this.applied?.version ?? null,
      appliedWeightsVersion: this.applied?.weights_version ?? null,
      lastError: this.lastError,
      lastApplyAt: this.lastApplyAt,
      pending: this.pending !== null,
    };
  }

  /** The control plane's config in force (without local exclusions), or null before the first. */
  configInForce(): EdgeConfig | null {
    return this.applied;
  }

  /**
   * The local fallback: drop these origins from this edge's weights (the control plane cannot be told
   * that this edge sees them down), or go back to the control plane's weights (null). Re-applied at once.
   */
  setLocalFallback(down: ReadonlySet<string> | null): void {
    this.localDown = down && down.size > 0 ? down : null;
    this.localGen++;
    if (this.applied && !this.pending) this.pending = this.applied;
    this.wake?.();
  }

  private wake: (() => void) | undefined;

  /** Pools last planned per data plane (labels the statistics). */
  poolsOf(dataplane: string): DesiredPool[] {
    return this.pools.get(dataplane) ?? [];
  }

  start(): void {
    this.running ??= this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  private get signal(): AbortSignal {
    return this.abort.signal;
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.signal.aborted) {
      if (this.pending) {
        const gen = this.localGen;
        const ok = await this.syncOnce(this.pending);
        if (this.signal.aborted) break;
        if (ok) {
          attempt = 0;
          // The local fallback changed while this was applied: apply again with the new one.
          this.pending = this.localGen !== gen ? this.applied : null;
        } else {
          attempt++;
          const delay = backoffDelay(attempt, this.o.retry, this.o.random);
          this.o.log.warn({ attempt, retry_in_ms: delay }, 'apply failed; retrying with backoff');
          await sleep(delay, this.signal);
          // Pick up a newer config if one was published meanwhile (no long poll: we have work to do).
          await this.fetch(false);
        }
        continue;
      }
      const started = Date.now();
      // A long poll may be cut short to apply a change of the local fallback at once (setLocalFallback).
      const woken = new AbortController();
      this.wake = () => woken.abort();
      const got = await this.fetch(true, AbortSignal.any([this.signal, woken.signal]));
      this.wake = undefined;
      if (got === 'woken') continue;
      if (got !== 'error') attempt = 0;
      // A control plane that ignores ?wait (instant 304s) must not turn this into a busy loop.
      if (got === 'unchanged') await sleep(Math.max(0, MIN_POLL_INTERVAL_MS - (Date.now() - started)), this.signal);
      if (got === 'error') {
        attempt++;
        // Another replica not yet tried this round: at once; else backoff.
        if (!this.failingOver) await sleep(backoffDelay(attempt, this.o.retry, this.o.random), this.signal);
      } else if (got === 'unchanged' && this.applied) {
        // Quiet poll: re-plan against the data plane to repair drift (a no-op plan changes nothing).
        this.pending = this.applied;
      }
    }
  }

  private async fetch(wait: boolean, signal: AbortSignal = this.signal): Promise<'config' | 'unchanged' | 'error' | 'woken'> {
    try {
      const r = await this.o.source.next({ wait, signal });
      this.failingOver = false;
      const seq = this.o.source.confirmedSeq?.();
      if (seq !== undefined && seq !== null) this.o.metrics.viewSeq.set({ edge: this.o.metrics.edge }, seq);
      if (r.kind === 'config') {
        this.pending = r.config;
        if (!this.o.edgeLabelFixed) this.o.metrics.setEdge(r.config.edge.name);
        return 'config';
      }
      return 'unchanged';
    } catch (err) {
      if (this.signal.aborted) return 'unchanged';
      if (signal.aborted) return 'woken';
      const kind = err instanceof SourceError ? err.kind : 'unreachable';
      this.failingOver = err instanceof SourceError && err.failover;
      this.o.metrics.apiErrors.inc({ edge: this.o.metrics.edge, kind });
      if (this.failingOver) this.o.metrics.apiFailovers.inc({ edge: this.o.metrics.edge });
      this.lastError = (err as Error).message;
      this.o.log.warn({ err: (err as Error).message, source: this.o.source.describe() }, 'cannot get the edge config; the weights in force stay');
      return 'error';
    }
  }

  /**
   * Plans and applies one config on every data plane; true when all of them now match it. Every data
   * plane is planned (its state read, the desired state checked) before any of them is changed.
   */
  async syncOnce(config: EdgeConfig): Promise<boolean> {
    const edge = this.o.metrics.edge;
    let allOk = true;
    let anyChange = false;
    const local = this.localDown ? withLocalExclusions(config, this.localDown) : null;
    for (const d of local?.dropped ?? []) this.o.log.warn({ listener: d.listener, load_balancer: d.loadBalancer, origin: d.origin }, 'local fallback: origin dropped from this edge’s weights (this edge sees it down; the control plane cannot be told)');
    const effective = local?.config ?? config;
    this.logFailOpen(effective);
    const planned: { dp: DataPlane; plan: Plan }[] = [];
    for (const dp of this.o.dataplanes) {
      try {
        planned.push({ dp, plan: await dp.plan(effective, this.applied ?? this.previous) });
      } catch (err) {
        allOk = false;
        this.fail(dp, err, 'cannot read the data plane state');
      }
    }
    for (const { dp, plan } of planned) {
      this.pools.set(dp.name, plan.pools);
      this.o.metrics.held.set({ edge, dataplane: dp.name }, plan.held.length);
      this.o.metrics.failOpen.set({ edge, dataplane: dp.name }, plan.pools.filter((p) => p.failOpen).length);
      for (const h of plan.held) this.o.log.warn({ dataplane: dp.name, pool: h.pool, reason: h.reason }, 'listener held');
      if (isNoop(plan) && plan.problems.length === 0) continue;
      anyChange = true;
      for (const c of plan.changes) this.o.log.info({ dataplane: dp.name, version: config.version, change: describeChange(c) }, this.o.dryRun ? 'would change' : 'change');
      for (const f of plan.files) this.o.log.info({ dataplane: dp.name, file: f.path }, this.o.dryRun ? 'would rewrite' : 'rewrite');
      if (this.o.dryRun) {
        for (const line of plan.preview) this.o.log.info({ dataplane: dp.name }, `would run: ${line}`);
        continue;
      }
      const timer = this.o.metrics.applyDuration.startTimer({ edge, dataplane: dp.name });
      try {
        const out = await dp.apply(plan);
        this.o.metrics.changes.inc({ edge, dataplane: dp.name }, out.applied.length);
      } catch (err) {
        allOk = false;
        if (err instanceof ApplyError) this.o.metrics.changes.inc({ edge, dataplane: dp.name }, err.applied.length);
        this.fail(dp, err, 'apply failed');
      } finally {
        timer();
      }
    }
    if (this.o.dryRun) return true; // nothing applied, nothing counted
    if (!anyChange && allOk && this.applied?.version === config.version) return true;
    this.o.metrics.applies.inc({ edge, result: allOk ? 'ok' : 'error' });
    if (allOk && !this.o.dryRun) {
      this.inForce = sharesInForce(effective, this.inForce);
      this.o.metrics.setWeights(this.inForce);
      this.applied = config;
      this.lastError = null;
      this.lastApplyAt = new Date().toISOString();
      this.o.metrics.lastApply.set({ edge }, Date.now() / 1000);
      if (config.weights_version !== null) this.o.metrics.configVersion.set({ edge }, config.weights_version);
      this.saveState(config);
      this.o.log.info({ version: config.version, weights_version: config.weights_version, changed: anyChange }, 'edge config in force');
    }
    return allOk;
  }

  /** Fail-open listeners are logged loudly, once per change of which ones. */
  private logFailOpen(config: EdgeConfig): void {
    const open = config.listeners.filter((l) => failsOpen(l.origins)).map((l) => `${l.load_balancer} ${l.vip}:${l.port}`);
    const key = open.join(',');
    if (key === this.failOpenLogged) return;
    this.failOpenLogged = key;
    if (open.length > 0) this.o.log.error({ listeners: open }, 'every origin of these listeners is down by quorum: serving all of them (fail open), never none');
  }

  private fail(dp: DataPlane, err: unknown, what: string): void {
    this.o.metrics.applyErrors.inc({ edge: this.o.metrics.edge, dataplane: dp.name });
    this.lastError = `${dp.name}: ${(err as Error).message}`;
    this.o.log.error({ dataplane: dp.name, err: (err as Error).message }, what);
  }

  private saveState(config: EdgeConfig): void {
    if (!this.o.stateFile) return;
    try {
      writeAtomic(this.o.stateFile, `${JSON.stringify(config, null, 2)}\n`);
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message, file: this.o.stateFile }, 'cannot write the state file');
    }
  }

  /** Reads every data plane's statistics into the demand counters; errors are counted, never thrown. */
  async collectStats(): Promise<void> {
    for (const dp of this.o.dataplanes) {
      try {
        this.o.metrics.recordDemand(dp.name, await dp.readStats(this.poolsOf(dp.name)));
      } catch (err) {
        this.o.metrics.statsErrors.inc({ edge: this.o.metrics.edge, dataplane: dp.name });
        this.o.log.warn({ dataplane: dp.name, err: (err as Error).message }, 'cannot read data-plane statistics');
      }
    }
  }
}

/** The EdgeConfig last applied, from the state file; null when there is none (or it is unreadable). */
export function readStateFile(path: string, log: Logger): EdgeConfig | null {
  try {
    return parseEdgeConfig(JSON.parse(readFileSync(path, 'utf8')), path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ err: (err as Error).message }, 'state file unreadable; ignoring it');
    return null;
  }
}

export interface ShareInForce {
  loadBalancer: string;
  origin: string;
  share: number;
}

/**
 * Share in force per (load balancer, origin): the control plane's share, 0 when quiesced locally. A
 * listener whose shares are all 0 is held (its data plane keeps the previous weights), so its rows
 * are carried over from `previous` (the rows in force before).
 */
export function sharesInForce(config: EdgeConfig, previous: readonly ShareInForce[] = []): ShareInForce[] {
  const out: ShareInForce[] = [];
  for (const l of config.listeners) {
    const open = failsOpen(l.origins);
    const effective = (o: EdgeConfig['listeners'][number]['origins'][number]) => (o.admin_state === 'disabled' || (!open && (!o.healthy || !o.reachable)) ? 0 : o.weight);
    const held = l.origins.every((o) => effective(o) === 0);
    const rows = held ? previous.filter((r) => r.loadBalancer === l.load_balancer) : l.origins.map((o) => ({ loadBalancer: l.load_balancer, origin: o.name, share: effective(o) }));
    for (const r of rows) if (!out.some((x) => x.loadBalancer === r.loadBalancer && x.origin === r.origin)) out.push(r);
  }
  return out;
}
