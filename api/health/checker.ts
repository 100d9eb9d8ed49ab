// Active health checks for every origin that configures one. rise/fall hysteresis: an origin becomes
// unhealthy after `fall` consecutive failures and healthy again after `rise` consecutive passes, and
// only transitions are written to the store (which wakes every long-poll, so edges and DNS drop a
// failed origin at once, before the scheduler's next cycle).
//
// A check that cannot even run (the probe throws: a path Node refuses to send, an address it cannot
// use) is a FAILED check, logged and counted as result "error": skipping it would leave the origin
// healthy forever, a failover that silently never happens.
//
// Every replica runs these checks. Each also records its own raw probe result per origin whenever it
// changes (a health observation with this replica as the vantage), so the effective health can
// become a quorum of vantages; today the effective health is still the last transition any replica
// wrote.
import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import type { Origin } from '../../model/origin.ts';
import type { Store } from '../store/store.ts';
import { probe, type ProbeResult } from './probe.ts';

interface Tracked {
  origin: Origin;
  healthy: boolean;
  passes: number;
  fails: number;
  timer: NodeJS.Timeout;
  inFlight: boolean;
  /** This vantage's last raw probe result, recorded when it changes. */
  observed?: boolean;
}

export class HealthChecker {
  private readonly tracked = new Map<string, Tracked>();
  private unsubscribe: (() => void) | undefined;
  private syncing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly log: Logger,
    private readonly probeFn: (o: Origin) => Promise<ProbeResult> = defaultProbe,
    /** Counts checks by result: pass, fail, error. */
    private readonly checks?: Counter<'result'>,
    private readonly vantage = 'local',
  ) {}

  async start(): Promise<void> {
    const known = new Map((await this.store.listOriginHealth()).map((h) => [h.origin_id, h.healthy]));
    await this.sync(known);
    this.unsubscribe = this.store.onChange(() => {
      this.syncing = this.syncing.then(() => this.sync(new Map())).catch((err: unknown) => this.log.error({ err }, 'health checker: reading origins failed'));
    });
  }

  /** Starts checks for new origins, restarts changed ones, stops removed ones. */
  private async sync(known: Map<string, boolean>): Promise<void> {
    const origins = (await this.store.allOrigins()).filter((o) => o.health_check && o.admin_state !== 'disabled');
    const seen = new Set<string>();
    for (const origin of origins) {
      seen.add(origin.id);
      const current = this.tracked.get(origin.id);
      if (current && current.origin.revision === origin.revision) continue;
      if (current) clearInterval(current.timer);
      const healthy = current?.healthy ?? known.get(origin.id) ?? true;
      const entry: Tracked = { origin, healthy, passes: 0, fails: 0, inFlight: false, timer: setInterval(() => void this.check(entry), origin.health_check!.interval_ms) };
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
      const result = await this.probeOnce(entry.origin);
      const hc = entry.origin.health_check!;
      if (entry.observed !== result.ok && this.tracked.get(entry.origin.id) === entry) {
        entry.observed = result.ok;
        // Not on the critical path: a failed write (store down) is retried with the next probe.
        await this.store
          .recordHealthObservation({ origin_id: entry.origin.id, vantage: this.vantage, healthy: result.ok, observed_at: new Date().toISOString(), detail: result.detail })
          .catch((err: Error) => {
            entry.observed = undefined;
            this.log.warn({ origin_id: entry.origin.id, err: err.message }, 'cannot record this replica’s health observation');
          });
      }
      if (result.ok) {
        entry.passes++;
        entry.fails = 0;
      } else {
        entry.fails++;
        entry.passes = 0;
      }
      const flipTo = !entry.healthy && entry.passes >= hc.rise ? true : entry.healthy && entry.fails >= hc.fall ? false : null;
      if (flipTo !== null && this.tracked.get(entry.origin.id) === entry) {
        entry.healthy = flipTo;
        this.log.warn({ origin: entry.origin.name, origin_id: entry.origin.id, healthy: flipTo, detail: result.detail }, flipTo ? 'origin healthy again' : 'origin unhealthy');
        await this.store.setOriginHealth(entry.origin.id, flipTo, result.detail);
      }
    } catch (err) {
      this.log.error({ err, origin_id: entry.origin.id }, 'health check could not record its result');
    } finally {
      entry.inFlight = false;
    }
  }

  /** Runs the probe; an exception is a failed check (result "error"), never a skipped one. */
  private async probeOnce(origin: Origin): Promise<ProbeResult> {
    try {
      const result = await this.probeFn(origin);
      this.checks?.inc({ result: result.ok ? 'pass' : 'fail' });
      return result;
    } catch (err) {
      this.checks?.inc({ result: 'error' });
      const detail = `health check could not run: ${(err as Error).message}`;
      this.log.error({ origin: origin.name, origin_id: origin.id, err: (err as Error).message }, 'health check could not run; counted as a failure');
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
