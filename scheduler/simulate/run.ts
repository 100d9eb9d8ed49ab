// Drives the decision core with the world, cycle by cycle, exactly as the live loop does:
//   cycle k: events → traffic flows under the weights in force W_k (measured) → decide() on what was
//   measured → W_{k+1} is in force for the next cycle.
// The one-cycle lag between measuring and acting is real (the scheduler reads what happened during the
// last interval), and it is what makes an undamped loop with demand feedback oscillate.
import { decide } from '../core/decide.ts';
import type { SchedulingDecision, Weights } from '../core/types.ts';
import type { RunSettings, Scenario, ScenarioRun } from './scenario.ts';
import { World } from './world.ts';

export interface OriginSample {
  load_rps: number;
  target_rps: number;
  max_rps: number;
  /** Fraction of all demand sent to this origin this cycle. */
  share: number;
  healthy: boolean;
  admin_state: string;
}

export interface CycleRecord {
  cycle: number;
  t_s: number;
  demand_rps: number;
  lost_rps: number;
  mean_rtt_ms: number;
  origins: Record<string, OriginSample>;
  events: string[];
  decision: Pick<SchedulingDecision, 'reason' | 'overload_rps' | 'plan_overload_rps' | 'objective'> & { fraction: number; limited_by: string };
}

export interface RunResult {
  scenario: string;
  name: string;
  settings: RunSettings;
  cycles: CycleRecord[];
  /** Weights in force after the last cycle. */
  weights: Weights;
}

/** The runs a scenario asks for (its `runs`, or one run with its scheduler settings). */
export function runsOf(scenario: Scenario): ScenarioRun[] {
  return scenario.runs ?? [{ name: scenario.name }];
}

export function simulate(scenario: Scenario, run: ScenarioRun = { name: scenario.name }): RunResult {
  const settings = {
    policy: run.policy ?? scenario.scheduler.policy,
    max_shift: run.max_shift ?? scenario.scheduler.max_shift,
    deadband: run.deadband ?? scenario.scheduler.deadband,
    max_latency_ms: run.max_latency_ms ?? scenario.scheduler.max_latency_ms,
    gain: run.gain ?? scenario.scheduler.gain,
  };
  const world = new World(scenario);
  let weights = world.initialWeights();
  const cycles: CycleRecord[] = [];
  for (let k = 0; k < scenario.cycles; k++) {
    const events = world.applyEvents(k);
    if (k === 0 && scenario.sources.some((s) => !weights[s.id])) {
      // Sources without initial weights start on the plan for their nominal demand.
      const m0 = world.measure({}, 0);
      const first = decide(world.problem(settings, m0, weights));
      weights = { ...first.weights, ...weights };
    }
    const m = world.measure(weights, k);
    const d = decide(world.problem(settings, m, weights));
    const demandTotal = Object.values(m.demand).reduce((a, b) => a + b, 0);
    cycles.push({
      cycle: k,
      t_s: k * scenario.cycle_seconds,
      demand_rps: demandTotal,
      lost_rps: m.lost_rps,
      mean_rtt_ms: m.mean_rtt_ms,
      events,
      origins: Object.fromEntries(
        world.origins.map((o) => [
          o.id,
          { load_rps: m.load[o.id] ?? 0, target_rps: o.target_rps, max_rps: o.max_rps, share: demandTotal > 0 ? (m.load[o.id] ?? 0) / demandTotal : 0, healthy: o.healthy, admin_state: o.admin_state },
        ]),
      ),
      decision: { reason: d.reason, overload_rps: d.overload_rps, plan_overload_rps: d.plan_overload_rps, objective: d.objective, fraction: d.step.fraction, limited_by: d.step.limited_by },
    });
    if (d.status === 'ok') weights = d.weights; // no usable origin: hold what is in force
  }
  return { scenario: scenario.name, name: run.name, settings, cycles, weights };
}
