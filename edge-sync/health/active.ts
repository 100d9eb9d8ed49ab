// edge-sync's own health checks, for origins no data plane here checks (nginx OSS and IPVS keep no
// health state; an HAProxy server without `check`): each origin's health_check from the EdgeConfig,
// probed from this edge on its own interval, through the origin's rise/fall (model/rise-fall.ts).
// Bounded: one probe in flight per origin, at most `maxOrigins` origins.
import { probe, type ProbeResult } from '../../lib/probe.ts';
import { initialRiseFall, riseFall, type RiseFallState } from '../../model/rise-fall.ts';
import type { EdgeConfig } from '../../model/views.ts';
import type { OriginReading } from './reading.ts';

type ConfigOrigin = EdgeConfig['listeners'][number]['origins'][number];
type Check = NonNullable<ConfigOrigin['health_check']>;

interface Tracked {
  origin: ConfigOrigin;
  loadBalancer: string;
  check: Check;
  key: string;
  timer: NodeJS.Timeout;
  inFlight: boolean;
  verdict: RiseFallState;
  last: { result: 'pass' | 'fail'; latencyMs: number | null; detail: string } | null;
}

export type Prober = (o: ConfigOrigin, check: Check) => Promise<ProbeResult>;

export class ActiveChecks {
  private readonly tracked = new Map<string, Tracked>();

  constructor(
    private readonly probeFn: Prober = defaultProbe,
    private readonly maxOrigins = 1000,
  ) {}

  /** Checks exactly `origins` from now on (new ones start at once; changed checks restart). */
  sync(origins: { origin: ConfigOrigin; loadBalancer: string }[]): void {
    const wanted = new Map<string, { origin: ConfigOrigin; loadBalancer: string }>();
    for (const o of origins) if (o.origin.health_check && o.origin.admin_state !== 'disabled' && wanted.size < this.maxOrigins) wanted.set(o.origin.id, o);
    for (const [id, t] of this.tracked) {
      const w = wanted.get(id);
      if (!w || keyOf(w.origin) !== t.key) {
        clearInterval(t.timer);
        this.tracked.delete(id);
      }
    }
    for (const [id, w] of wanted) {
      if (this.tracked.has(id)) continue;
      const check = w.origin.health_check!;
      const t: Tracked = { origin: w.origin, loadBalancer: w.loadBalancer, check, key: keyOf(w.origin), inFlight: false, verdict: initialRiseFall(), last: null, timer: setInterval(() => void this.run(t), check.interval_ms) };
      t.timer.unref();
      this.tracked.set(id, t);
      void this.run(t);
    }
  }

  /** The verdict of every origin checked at least once. */
  readings(): OriginReading[] {
    return [...this.tracked.values()].flatMap((t) =>
      t.last ? [{ loadBalancer: t.loadBalancer, originId: t.origin.id, origin: t.origin.name, healthy: t.verdict.healthy, result: t.last.result, latencyMs: t.last.latencyMs, detail: `edge check: ${t.last.detail}` }] : [],
    );
  }

  stop(): void {
    for (const t of this.tracked.values()) clearInterval(t.timer);
    this.tracked.clear();
  }

  private async run(t: Tracked): Promise<void> {
    if (t.inFlight || this.tracked.get(t.origin.id) !== t) return;
    t.inFlight = true;
    const started = performance.now();
    let r: ProbeResult;
    try {
      r = await this.probeFn(t.origin, t.check);
    } catch (err) {
      // A check that cannot run is a failed check, never a skipped one.
      r = { ok: false, detail: `check could not run: ${(err as Error).message}` };
    }
    t.inFlight = false;
    if (this.tracked.get(t.origin.id) !== t) return;
    t.verdict = riseFall(t.verdict, r.ok, t.check.rise, t.check.fall).state;
    t.last = { result: r.ok ? 'pass' : 'fail', latencyMs: r.ok ? Math.round((performance.now() - started) * 1000) / 1000 : null, detail: r.detail };
  }
}

function keyOf(o: ConfigOrigin): string {
  return JSON.stringify([o.addresses[0], o.port, o.health_check]);
}

function defaultProbe(o: ConfigOrigin, c: Check): Promise<ProbeResult> {
  return probe({ type: c.type, address: o.addresses[0]!, port: o.port, path: c.path, timeoutMs: c.timeout_ms, expectStatus: c.expect_status });
}
