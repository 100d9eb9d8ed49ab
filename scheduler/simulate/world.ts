// The simulated world the scheduler core is driven against (`sluice simulate`, and `sluice demo`):
// origins whose health, admin state and capacity change at given cycles, and sources whose demand
// follows a curve and — the write-up's side effect — reacts to the RTT its clients get:
//
//   demand_s = nominal_s(cycle) · (reference_rtt_ms / mean_rtt_s)^elasticity
//
// where mean_rtt_s is the share-weighted RTT under the weights in force. elasticity 1 models closed-
// loop clients (each waits for its answer, so its request rate is ∝ 1/RTT, like the write-up's curl
// loop); 0 is open-loop traffic. Shares on an unhealthy origin are lost requests (counted, not served).
// Pure and deterministic: same scenario, same numbers.
import { DEFAULT_RTT_MODEL, estimateRttMs } from '../core/geo.ts';
import type { OriginState, SchedulingProblem, Weights } from '../core/types.ts';
import type { RunSettings, Scenario } from './scenario.ts';

export interface Measurement {
  cycle: number;
  /** Demand per source this cycle (what edges count). */
  demand: Record<string, number>;
  /** Load served per origin (healthy origins only). */
  load: Record<string, number>;
  /** Requests sent to unhealthy origins. */
  lost_rps: number;
  /** Demand-weighted mean RTT over all sources (ms). */
  mean_rtt_ms: number;
}

export class World {
  readonly origins: OriginState[];
  /** Health as it was at the end of each cycle (for detection delay). */
  private readonly healthHistory: Map<string, boolean>[] = [];

  constructor(readonly scenario: Scenario) {
    this.origins = scenario.origins.map((o) => ({
      id: o.id,
      target_rps: o.target_rps ?? o.max_rps,
      max_rps: o.max_rps,
      healthy: o.healthy,
      admin_state: o.admin_state,
      static_weight: o.static_weight,
      priority: o.priority,
      location: o.location,
    }));
  }

  /** Applies the events scheduled for this cycle; returns what happened, for the log. */
  applyEvents(cycle: number): string[] {
    const happened: string[] = [];
    for (const e of this.scenario.events) {
      if (e.cycle !== cycle) continue;
      const o = this.origins.find((x) => x.id === e.origin)!;
      if (e.healthy !== undefined) o.healthy = e.healthy;
      if (e.admin_state !== undefined) o.admin_state = e.admin_state;
      if (e.max_rps !== undefined) o.max_rps = e.max_rps;
      if (e.target_rps !== undefined) o.target_rps = e.target_rps;
      if (o.target_rps > o.max_rps) o.target_rps = o.max_rps;
      happened.push(`${o.id}: ${JSON.stringify({ ...e, cycle: undefined, origin: undefined })}`);
    }
    this.healthHistory[cycle] = new Map(this.origins.map((o) => [o.id, o.healthy]));
    return happened;
  }

  rtt(sourceIndex: number, originId: string): number {
    const s = this.scenario.sources[sourceIndex]!;
    const learned = s.rtt_ms[originId];
    if (learned !== undefined) return learned;
    const o = this.origins.find((x) => x.id === originId);
    if (s.location && o?.location) return estimateRttMs(s.location, o.location, DEFAULT_RTT_MODEL);
    return this.scenario.scheduler.max_latency_ms;
  }

  nominalDemand(sourceIndex: number, cycle: number): number {
    const s = this.scenario.sources[sourceIndex]!;
    if (s.demand_rps !== undefined) return s.demand_rps;
    const pts = s.demand!;
    if (cycle <= pts[0]!.cycle) return pts[0]!.rps;
    for (let k = 1; k < pts.length; k++) {
      const a = pts[k - 1]!;
      const b = pts[k]!;
      if (cycle <= b.cycle) return b.cycle === a.cycle ? b.rps : a.rps + ((b.rps - a.rps) * (cycle - a.cycle)) / (b.cycle - a.cycle);
    }
    return pts[pts.length - 1]!.rps;
  }

  /** What happens during one cycle under the weights in force. */
  measure(weights: Weights, cycle: number): Measurement {
    const demand: Record<string, number> = {};
    const load: Record<string, number> = Object.fromEntries(this.origins.map((o) => [o.id, 0]));
    const healthy = new Map(this.origins.map((o) => [o.id, o.healthy]));
    let lost = 0;
    let rttSum = 0;
    let demandSum = 0;
    this.scenario.sources.forEach((s, i) => {
      const w = weights[s.id] ?? {};
      let meanRtt = 0;
      let total = 0;
      for (const [id, share] of Object.entries(w)) {
        meanRtt += share * this.rtt(i, id);
        total += share;
      }
      meanRtt = total > 0 ? meanRtt / total : this.scenario.scheduler.max_latency_ms;
      let d = this.nominalDemand(i, cycle);
      if (s.feedback && meanRtt > 0) d *= (s.feedback.reference_rtt_ms / meanRtt) ** s.feedback.elasticity;
      demand[s.id] = d;
      demandSum += d;
      rttSum += d * meanRtt;
      for (const [id, share] of Object.entries(w)) {
        const part = (d * share) / (total || 1);
        if (healthy.get(id)) load[id] = (load[id] ?? 0) + part;
        else lost += part;
      }
    });
    return { cycle, demand, load, lost_rps: lost, mean_rtt_ms: demandSum > 0 ? rttSum / demandSum : 0 };
  }

  /** The scheduler's view: measured demand, learned RTTs, health as detected, weights in force. */
  problem(settings: RunSettings, m: Measurement, current: Weights): SchedulingProblem {
    const seen = this.healthHistory[Math.max(0, m.cycle - this.scenario.detection_delay_cycles)];
    return {
      policy: settings.policy,
      max_shift: settings.max_shift,
      deadband: settings.deadband,
      max_latency_ms: settings.max_latency_ms,
      gain: settings.gain,
      origins: this.origins.map((o) => ({ ...o, healthy: seen?.get(o.id) ?? o.healthy })),
      sources: this.scenario.sources.map((s, i) => ({
        id: s.id,
        demand_rps: m.demand[s.id] ?? 0,
        rtt_ms: Object.fromEntries(this.origins.filter((o) => s.rtt_ms[o.id] !== undefined || s.location).map((o) => [o.id, this.rtt(i, o.id)])),
        location: s.location,
      })),
      current,
    };
  }

  initialWeights(): Weights {
    const out: Weights = {};
    for (const s of this.scenario.sources) if (s.initial) out[s.id] = { ...s.initial };
    return out;
  }
}
