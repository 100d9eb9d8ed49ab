// This replica as a vantage point: active health checks of every origin that configures one, each
// result run through the origin's rise/fall (model/rise-fall.ts), and the resulting verdict recorded
// in the store as this replica's health observation (with the last raw result and its latency). The
// effective health is not decided here: the health evaluator (evaluator.ts) combines every vantage's
// observations — each replica's and each edge's — by quorum.
//
// An observation is written when the verdict or the raw result changes, and otherwise every
// `reportIntervalMs` (a heartbeat: a vantage that stops reporting goes stale and stops counting).
//
// A check that cannot even run (the probe throws: a path Node refuses to send, an address it cannot
// use) is a FAILED check, logged and counted as result "error": skipping it would leave the origin
// healthy forever, a failover that silently never happens.
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import type { Origin } from '../../model/origin.ts';
import { initialRiseFall, riseFall, type RiseFallState } from '../../model/rise-fall.ts';
import { probe, type ProbeResult } from '../../lib/probe.ts';
import type { Store } from '../store/store.ts';

interface Tracked {
  origin: Origin;
  verdict: RiseFallState;
  timer: NodeJS.Timeout;
  inFlight: boolean;
  /** What was last recorded, and when (ms). */
  recorded?: { healthy: boolean; result: 'pass' | 'fail'; at: number };
}

export interface HealthCheckerOptions {
  store: Store;
  log: Logger;
  /** This replica's id: the vantage its observations carry. */
  vantage: string;
  probe?: (o: Origin) => Promise<ProbeResult>;
  /** Counts checks by result: pass, fail, error. */
  checks?: Counter<'result'>;
  /** Heartbeat: an unchanged verdict is recorded again after this long (default 5 s). */
  reportIntervalMs?: number;
  /** Called once a changed verdict is recorded (the evaluator judges at once instead of at its next round). */
  onVerdictChange?: () => void;
  now?: () => number;
}

export class HealthChecker {
  private readonly tracked = new Map<string, Tracked>();
  private unsubscribe: (() => void) | undefined;
  private syncing: Promise<void> = Promise.resolve();
  private readonly probeFn: (o: Origin) => Promise<ProbeResult>;
  private readonly now: () => number;

  constructor(private readonly o: HealthCheckerOptions) {
    this.probeFn = o.probe ?? defaultProbe;
    this.now = o.now ?? Date.now;
  }

  async start(): Promise<void> {
    // A restarted checker starts from the effective health rather than from "up": no transient vote
    // against a decision it had helped make.
    const known = new Map((await this.o.store.listOriginHealth()).map((h) => [h.origin_id, h.healthy]));
    await this.sync(known);
    this.unsubscribe = this.o.store.onChange(() => {
      this.syncing = this.syncing.then(() => this.sync(new Map())).catch((err: unknown) => this.o.log.error({ err }, 'health checker: reading origins failed'));
    });
  }

  /** Starts checks for new origins, restarts changed ones, stops removed ones. */
  private async sync(known: Map<string, boolean>): Promise<void> {
    const origins = (await this.o.store.allOrigins()).filter((o) => o.health_check && o.admin_state !== 'disabled');
    const seen = new Set<string>();
    for (const origin of origins) {
      seen.add(origin.id);
      const current = this.tracked.get(origin.id);
      if (current && current.origin.revision === origin.revision) continue;
      if (current) clearInterval(current.timer);
      const verdict = current?.verdict ?? initialRiseFall(known.get(origin.id) ?? true);
      const entry: Tracked = { origin, verdict: { ...verdict, passes: 0, fails: 0 }, inFlight: false, timer: setInterval(() => void this.check(entry), origin.health_check!.interval_ms) };
      entry.timer.unref();
      this.tracked.set(origin.id, entry);
      void this.check(entry);
    }
    for (const [id, entry] of this.tracked) {
      if (!seen.has(id)) {
        clearInterval(entry.timer);
        this.tracked.delete(id);
      }
    }
  }

  private async check(entry: Tracked): Promise<void> {
    if (entry.inFlight || this.tracked.get(entry.origin.id) !== entry) return;
    entry.inFlight = true;
    try {
      const started = performance.now();
      const result = await this.probeOnce(entry.origin);
      const latency = Math.round((performance.now() - started) * 1000) / 1000;
      if (this.tracked.get(entry.origin.id) !== entry) return;
      const hc = entry.origin.health_check!;
      const step = riseFall(entry.verdict, result.ok, hc.rise, hc.fall);
      entry.verdict = step.state;
      if (step.flipped) this.o.log.warn({ origin: entry.origin.name, origin_id: entry.origin.id, vantage: this.o.vantage, healthy: step.state.healthy, detail: result.detail }, step.state.healthy ? 'this vantage sees the origin healthy again' : 'this vantage sees the origin down');
      await this.record(entry, result, latency);
    } catch (err) {
      this.o.log.error({ err, origin_id: entry.origin.id }, 'health check could not record its result');
    } finally {
      entry.inFlight = false;
    }
  }

  /** Writes this vantage's observation on a change of verdict or raw result, or when the heartbeat is due. */
  private async record(entry: Tracked, result: ProbeResult, latencyMs: number): Promise<void> {
    const now = this.now();
    const raw = result.ok ? 'pass' : 'fail';
    const last = entry.recorded;
    if (last && last.healthy === entry.verdict.healthy && last.result === raw && now - last.at < (this.o.reportIntervalMs ?? 5000)) return;
    const verdictChanged = last?.healthy !== entry.verdict.healthy;
    entry.recorded = { healthy: entry.verdict.healthy, result: raw, at: now };
    await this.o.store
      .recordHealthObservations([
        {
          origin_id: entry.origin.id,
          vantage: this.o.vantage,
          kind: 'control_plane',
          edge_id: null,
          healthy: entry.verdict.healthy,
          result: raw,
          latency_ms: result.ok ? latencyMs : null,
          observed_at: new Date(now).toISOString(),
          detail: result.detail,
        },
      ])
      .then(() => {
        if (verdictChanged) this.o.onVerdictChange?.();
      })
      .catch((err: Error) => {
        // Retried with the next check (nothing recorded means nothing to compare with).
        entry.recorded = undefined;
        this.o.log.warn({ origin_id: entry.origin.id, err: err.message }, 'cannot record this replica’s health observation');
      });
  }

  /** Runs the probe; an exception is a failed check (result "error"), never a skipped one. */
  private async probeOnce(origin: Origin): Promise<ProbeResult> {
    try {
      const result = await this.probeFn(origin);
      this.o.checks?.inc({ result: result.ok ? 'pass' : 'fail' });
      return result;
    } catch (err) {
      this.o.checks?.inc({ result: 'error' });
      const detail = `health check could not run: ${(err as Error).message}`;
      this.o.log.error({ origin: origin.name, origin_id: origin.id, err: (err as Error).message }, 'health check could not run; counted as a failure');
      return { ok: false, detail };
    }
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    for (const entry of this.tracked.values()) clearInterval(entry.timer);
    this.tracked.clear();
    await this.syncing;
  }
}

function defaultProbe(o: Origin): Promise<ProbeResult> {
  const hc = o.health_check!;
  return probe({ type: hc.type, address: o.addresses[0]!, port: o.port, path: hc.path, timeoutMs: hc.timeout_ms, expectStatus: hc.expect_status });
}
