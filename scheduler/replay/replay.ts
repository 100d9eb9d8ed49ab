// Replay (Taiji's "readers"): the problems recorded in the decision log run through the decision core
// again, with other settings, cycle after cycle as the loop would have run them:
//
//   cycle k: the recorded problem P_k (demand, RTT, health, capacity, overrides, connection state) with
//   the settings changed, and the weights in force replaced by the replay's own W_k → decide → W_{k+1}
//   = what the loop would have published (the same cleaning and 1e-6 rounding, loop/problem.ts).
//
// With unchanged settings this reproduces the recorded decisions exactly (the core is deterministic and
// the recorded weights in force are the previous decision's published weights), which the replay checks
// and reports: a replay that cannot reproduce its own record says so before comparing anything. With
// other settings the demand and RTT stay as recorded (no feedback of the new weights on demand) and the
// connection state is the recorded one: a what-if of the decisions, not a simulation of the world.
import { decide } from '../core/decide.ts';
import type { Policy, SchedulingDecision, SchedulingProblem, Weights } from '../core/types.ts';
import { clean } from '../loop/problem.ts';
import type { CycleRecord, RunResult } from '../simulate/run.ts';

/** One recorded cycle: the decision record's time, problem, and what it decided. */
export interface RecordedCycle {
  id: number;
  created_at: string;
  problem: SchedulingProblem;
  predicted_load_rps: Record<string, number>;
  objective: number;
  overload_rps: number;
  diff: { source: string; origin_id: string; from: number; to: number }[];
  reason: string;
}

/** Settings a replay may change (absent: as recorded). */
export interface ReplayChanges {
  policy?: Policy | undefined;
  max_shift?: number | undefined;
  gain?: number | undefined;
  deadband?: number | undefined;
  max_latency_ms?: number | undefined;
  stickiness_ms?: number | undefined;
  /** Per origin id: a factor on target_rps and max_rps (what-if capacity). */
  capacity?: Record<string, number> | undefined;
}

/** Decision records (as GET /api/v1/decisions returns them, any order) → the cycles that carry a problem, oldest first. */
export function recordedCycles(decisions: readonly { id: number; created_at: string; reason: string; objective: number | null; inputs: Record<string, unknown>; predicted_load_rps: Record<string, number>; overload_rps: number; diff: RecordedCycle['diff'] }[]): { cycles: RecordedCycle[]; skipped: number } {
  const cycles: RecordedCycle[] = [];
  let skipped = 0;
  for (const d of [...decisions].sort((a, b) => a.id - b.id)) {
    const problem = d.inputs.problem as SchedulingProblem | undefined;
    if (!problem) {
      skipped++;
      continue;
    }
    cycles.push({ id: d.id, created_at: d.created_at, problem, predicted_load_rps: d.predicted_load_rps, objective: d.objective ?? 0, overload_rps: d.overload_rps, diff: d.diff, reason: d.reason });
  }
  return { cycles, skipped };
}

export interface ReplayResult {
  recorded: RunResult;
  replayed: RunResult;
  /** Cycles whose replayed decision equals the recorded one (changes, loads, objective), and the first that does not. */
  identical: number;
  firstDifference: { cycle: number; record: number; what: string } | null;
  summary: { recorded: RunSummary; replayed: RunSummary };
}

export function applyChanges(p: SchedulingProblem, c: ReplayChanges): SchedulingProblem {
  return {
    ...p,
    ...(c.policy !== undefined ? { policy: c.policy } : {}),
    ...(c.max_shift !== undefined ? { max_shift: c.max_shift } : {}),
    ...(c.gain !== undefined ? { gain: c.gain } : {}),
    ...(c.deadband !== undefined ? { deadband: c.deadband } : {}),
    ...(c.max_latency_ms !== undefined ? { max_latency_ms: c.max_latency_ms } : {}),
    ...(c.stickiness_ms !== undefined ? { stickiness_ms: c.stickiness_ms } : {}),
    origins: c.capacity ? p.origins.map((o) => (c.capacity![o.id] !== undefined ? { ...o, target_rps: o.target_rps * c.capacity![o.id]!, max_rps: o.max_rps * c.capacity![o.id]! } : o)) : p.origins,
  };
}

export function replay(cycles: readonly RecordedCycle[], changes: ReplayChanges, name = 'replay'): ReplayResult {
  const t0 = cycles.length > 0 ? Date.parse(cycles[0]!.created_at) : 0;
  const recorded: CycleRecord[] = [];
  const replayed: CycleRecord[] = [];
  let inForce: Weights | undefined;
  let identical = 0;
  let firstDifference: ReplayResult['firstDifference'] = null;
  const moved = { recorded: [] as number[], replayed: [] as number[] };
  cycles.forEach((rec, k) => {
    const t_s = (Date.parse(rec.created_at) - t0) / 1000;
    recorded.push(cycleRecord(k, t_s, rec.problem, rec.predicted_load_rps, rec.objective, rec.overload_rps, rec.reason));
    // The replay's own weights in force for the sources it has decided before; the recorded ones for
    // sources it has not (and for everything in the first cycle).
    const current = inForce ? { ...rec.problem.current, ...pick(inForce, rec.problem.current) } : rec.problem.current;
    const problem = applyChanges({ ...rec.problem, current }, changes);
    const d = decide(structuredClone(problem));
    replayed.push(cycleRecord(k, t_s, problem, d.origin_load_rps, d.objective, d.overload_rps, d.reason, d));
    moved.recorded.push(movedRps(rec.problem, rec.diff));
    moved.replayed.push(movedRps(problem, d.diff));
    const diff = difference(rec, d);
    if (diff === null) identical++;
    else firstDifference ??= { cycle: k, record: rec.id, what: diff };
    inForce = Object.fromEntries(Object.entries(d.weights).map(([s, w]) => [s, clean(w)]));
  });
  const settingsOf = (p: SchedulingProblem | undefined) => ({ policy: p?.policy ?? 'latency', max_shift: p?.max_shift ?? 0, deadband: p?.deadband ?? 0, max_latency_ms: p?.max_latency_ms ?? 0, gain: p?.gain });
  const first = cycles[0]?.problem;
  return {
    recorded: { scenario: 'recorded', name: 'recorded', settings: settingsOf(first), cycles: recorded, weights: {} },
    replayed: { scenario: 'replay', name, settings: settingsOf(first ? applyChanges(first, changes) : undefined), cycles: replayed, weights: inForce ?? {} },
    identical,
    firstDifference,
    summary: { recorded: summariseRun(recorded, moved.recorded), replayed: summariseRun(replayed, moved.replayed) },
  };
}

/** The entries of `from` for the sources `like` has (sources in force this cycle). */
function pick(from: Weights, like: Weights): Weights {
  return Object.fromEntries(Object.keys(like).flatMap((s) => (from[s] ? [[s, from[s]]] : [])));
}

/** null when the replayed decision is the recorded one (to 1e-9), else what differs first. */
function difference(rec: RecordedCycle, d: SchedulingDecision): string | null {
  const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));
  if (d.diff.length !== rec.diff.length) return `${d.diff.length} weight changes instead of ${rec.diff.length}`;
  for (let i = 0; i < d.diff.length; i++) {
    const a = d.diff[i]!;
    const b = rec.diff[i]!;
    if (a.source !== b.source || a.origin_id !== b.origin_id || !close(a.from, b.from) || !close(a.to, b.to)) return `${a.source} -> ${a.origin_id}: ${a.to} instead of ${b.to}`;
  }
  for (const [o, load] of Object.entries(rec.predicted_load_rps)) if (!close(load, d.origin_load_rps[o] ?? 0)) return `predicted load on ${o}: ${d.origin_load_rps[o]} instead of ${load}`;
  if (!close(rec.objective, d.objective)) return `objective ${d.objective} instead of ${rec.objective}`;
  return null;
}

/** One cycle in the simulator's record shape (so its CSV and SVG writers draw replays too). */
function cycleRecord(k: number, t_s: number, p: SchedulingProblem, load: Record<string, number>, objective: number, overload: number, reason: string, d?: SchedulingDecision): CycleRecord {
  const demand = p.sources.reduce((s, x) => s + x.demand_rps, 0);
  const origins: CycleRecord['origins'] = {};
  for (const o of p.origins) {
    const l = load[o.id] ?? 0;
    origins[o.id] = { load_rps: l, target_rps: o.target_rps, max_rps: o.max_rps, share: demand > 0 ? l / demand : 0, healthy: o.healthy, admin_state: o.admin_state ?? 'active' };
  }
  return {
    cycle: k,
    t_s,
    demand_rps: demand,
    lost_rps: 0,
    mean_rtt_ms: demand > 0 ? objective / demand : 0,
    origins,
    events: [],
    decision: { reason: reason as CycleRecord['decision']['reason'], overload_rps: overload, plan_overload_rps: d?.plan_overload_rps ?? overload, objective, fraction: d?.step.fraction ?? 0, limited_by: d?.step.limited_by ?? '' },
  };
}

/** Traffic a decision moves: Σ over sources of demand × half the L1 change of its shares (churn). */
export function movedRps(p: SchedulingProblem, diff: RecordedCycle['diff']): number {
  const demand = new Map(p.sources.map((s) => [s.id, s.demand_rps]));
  return diff.reduce((sum, c) => sum + ((demand.get(c.source) ?? 0) * Math.abs(c.to - c.from)) / 2, 0);
}

export interface RunSummary {
  cycles: number;
  /** Largest load / max_rps over all origins and cycles, and its mean over cycles (of each cycle's largest). */
  max_utilisation: number;
  mean_max_utilisation: number;
  cycles_above_max: number;
  /** Demand-weighted RTT, averaged over cycles. */
  mean_rtt_ms: number;
  moved_rps_total: number;
}

function summariseRun(cycles: readonly CycleRecord[], moved: readonly number[]): RunSummary {
  let max = 0;
  let sumMax = 0;
  let above = 0;
  let rtt = 0;
  for (const c of cycles) {
    const m = Math.max(0, ...Object.values(c.origins).map((o) => (o.max_rps > 0 ? o.load_rps / o.max_rps : 0)));
    max = Math.max(max, m);
    sumMax += m;
    if (m > 1 + 1e-9) above++;
    rtt += c.mean_rtt_ms;
  }
  const n = Math.max(1, cycles.length);
  return { cycles: cycles.length, max_utilisation: max, mean_max_utilisation: sumMax / n, cycles_above_max: above, mean_rtt_ms: rtt / n, moved_rps_total: moved.reduce((a, b) => a + b, 0) };
}
