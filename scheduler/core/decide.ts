// decide(problem) → decision: the whole scheduling step, pure (no I/O, no clock, no randomness), so the
// live loop, the simulator, `sluice solve`, the tests and the benchmark all run exactly this.
//
//   classify origins → cost matrix → capacity plan → transportation LP (the plan x*) → damping → outcome
import type { DecisionReason } from '../../model/views.ts';
import { buildCosts } from './costs.ts';
import { damp } from './damping.ts';
import { classifyOrigins } from './origins.ts';
import { makePlan } from './plan.ts';
import type { OriginOutcome, SchedulingDecision, SchedulingProblem, Weights } from './types.ts';

/** Proportional band of the damping (damping.ts). */
export const DEFAULT_GAIN = 0.5;

/** Shares below this are dropped from the published weights (and the rest renormalised). */
const MIN_SHARE = 1e-9;

export function decide(problem: SchedulingProblem): SchedulingDecision {
  const origins = problem.origins;
  const K = origins.length;
  const n = problem.sources.length;
  const index = new Map(origins.map((o, j) => [o.id, j]));
  const roles = classifyOrigins(origins);
  const notes = [...roles.notes];
  const originNotes: string[][] = origins.map(() => []);
  for (const o of origins) {
    const notesFor = originNotes[index.get(o.id)!]!;
    if (roles.role.get(o.id) === 'removed') notesFor.push(o.admin_state === 'disabled' ? 'disabled: share 0 at once' : 'unhealthy: share 0 at once (not damped)');
    if (roles.role.get(o.id) === 'draining') notesFor.push(`draining: share walks to 0 at ${problem.max_shift} per cycle`);
  }

  const demand = Float64Array.from(problem.sources, (s) => (Number.isFinite(s.demand_rps) && s.demand_rps > 0 ? s.demand_rps : 0));
  if (roles.destinations.length === 0 || n === 0) {
    return emptyDecision(problem, roles.destinations.length === 0 ? 'no_usable_origin' : 'ok', [
      ...notes,
      roles.destinations.length === 0 ? 'no usable origin (all disabled or none declared): nothing to publish, hold the weights in force' : 'no sources',
    ]);
  }

  // Plan over destination columns, then spread onto the dense index of declared origins.
  const columns = roles.destinations;
  const C = columns.length;
  const costs = buildCosts(problem, columns);
  if (costs.fallbacks.length > 0) {
    const shown = costs.fallbacks.slice(0, 5).join(', ');
    notes.push(`${costs.fallbacks.length} source(s) have no origin within max_latency_ms ${problem.max_latency_ms}: sent to their nearest origin (${shown}${costs.fallbacks.length > 5 ? ', …' : ''})`);
  }
  if (costs.estimated > 0) notes.push(`${costs.estimated} pair(s) without learned RTT: estimated from great-circle distance`);
  if (costs.unknown > 0) notes.push(`${costs.unknown} pair(s) with neither RTT nor locations: priced at max_latency_ms`);
  const plan = makePlan(problem.policy, columns, costs, demand);
  notes.push(...plan.notes);
  const colToOrigin = columns.map((o) => index.get(o.id)!);
  // Dense over declared origins (the same array when every origin is a destination, in order).
  const identity = C === K && colToOrigin.every((j, c) => j === c);
  let planDense = plan.share;
  if (!identity) {
    planDense = new Float64Array(n * K);
    for (let i = 0; i < n; i++) for (let c = 0; c < C; c++) planDense[i * K + colToOrigin[c]!] = plan.share[i * C + c]!;
  }

  // What is in force, split into kept (destination/draining origins) and freed (removed/undeclared).
  const kept = new Float64Array(n * K);
  const drainingIdx = origins.flatMap((o, j) => (roles.role.get(o.id) === 'draining' ? [j] : []));
  const freed = new Float64Array(n);
  let freedByHealth = 0;
  let drainShare = 0;
  let anyCurrent = false;
  for (const _ in problem.current) {
    anyCurrent = true;
    break;
  }
  for (let i = 0; i < n; i++) {
    const cur = anyCurrent ? problem.current[problem.sources[i]!.id] : undefined;
    let total = 0;
    if (cur) for (const v of Object.values(cur)) if (Number.isFinite(v) && v > 0) total += v;
    if (!cur || total <= 0) {
      freed[i] = 1;
      continue;
    }
    let keptSum = 0;
    for (const [id, v] of Object.entries(cur)) {
      if (!(Number.isFinite(v) && v > 0)) continue;
      const j = index.get(id);
      const role = j === undefined ? 'removed' : roles.role.get(id);
      if (role === 'removed') {
        if (j !== undefined) freedByHealth += (v / total) * demand[i]!;
        continue;
      }
      let share = v / total;
      if (role === 'draining') {
        // Draining: released at max_shift per cycle (exactly linear), re-planned like a freed share.
        drainShare += share;
        share = Math.max(0, share - problem.max_shift);
        if (share < problem.deadband) share = 0;
      }
      kept[i * K + j!] = share;
      keptSum += share;
    }
    freed[i] = Math.max(0, 1 - keptSum);
  }

  // This cycle walks towards the plan with what is still draining pinned in place (draining is paced
  // by the release above, not by the damping fraction, so it is exactly linear).
  const walkTo = drainingIdx.length > 0 ? planDense.slice() : planDense;
  for (let i = 0; i < n && drainingIdx.length > 0; i++) {
    let pinned = 0;
    for (const j of drainingIdx) pinned += kept[i * K + j]!;
    if (pinned === 0) continue;
    for (let j = 0; j < K; j++) walkTo[i * K + j] = planDense[i * K + j]! * (1 - pinned);
    for (const j of drainingIdx) walkTo[i * K + j] = kept[i * K + j]!;
  }
  const maxRps = Float64Array.from(origins, (o) => o.max_rps);
  const { weights: w, step } = damp({ rows: n, cols: K, demand, plan: walkTo, refill: planDense, kept, freed, maxShift: problem.max_shift, gain: problem.gain ?? DEFAULT_GAIN, deadband: problem.deadband, maxRps });
  if (step.limited_by === 'capacity') notes.push(`capacity protection: moved ${(step.fraction * 100).toFixed(1)}% of the way to the plan (more than max_shift allows) so re-planned shares do not overload an origin`);
  else if (step.limited_by === 'max_shift') notes.push(`damped: moved ${(step.fraction * 100).toFixed(1)}% of the way to the plan; ${step.cycles_to_plan} more cycle(s) at max_shift ${problem.max_shift}`);
  if (step.held_sources > 0) notes.push(`${step.held_sources} source(s) within the deadband ${problem.deadband}: kept as they are`);

  // Latency per (source, declared origin) for objectives: learned, estimated or max_latency_ms.
  let latencyDense = costs.latency;
  if (!identity) {
    latencyDense = new Float64Array(n * K).fill(problem.max_latency_ms);
    for (let i = 0; i < n; i++) for (let c = 0; c < C; c++) latencyDense[i * K + colToOrigin[c]!] = costs.latency[i * C + c]!;
  }
  for (const o of origins) {
    const j = index.get(o.id)!;
    if (roles.role.get(o.id) !== 'destination') {
      for (let i = 0; i < n; i++) {
        const l = problem.sources[i]!.rtt_ms[o.id];
        if (l !== undefined && Number.isFinite(l) && l >= 0) latencyDense[i * K + j] = l;
      }
    }
  }

  // Published shares: drop dust below MIN_SHARE, renormalise (dense, then one record per source).
  cleanRows(w, n, K);
  cleanRows(planDense, n, K);
  const weights: Weights = {};
  const planWeights: Weights = {};
  const load = new Float64Array(K);
  const planLoad = new Float64Array(K);
  let objective = 0;
  let planObjective = 0;
  const diff: SchedulingDecision['diff'] = [];
  for (let i = 0; i < n; i++) {
    const s = problem.sources[i]!;
    const rec = toRecord(w, i, K, origins);
    weights[s.id] = rec;
    planWeights[s.id] = toRecord(planDense, i, K, origins);
    const d = demand[i]!;
    for (let j = 0; j < K; j++) {
      const x = w[i * K + j]!;
      const p = planDense[i * K + j]!;
      load[j]! += d * x;
      planLoad[j]! += d * p;
      objective += d * x * latencyDense[i * K + j]!;
      planObjective += d * p * latencyDense[i * K + j]!;
    }
    // Diff against what is in force (including shares on origins that no longer exist).
    const cur = anyCurrent ? problem.current[s.id] : undefined;
    if (cur) {
      for (const id in cur) {
        const v = cur[id]!;
        const from = Number.isFinite(v) ? v : 0;
        const to = rec[id] ?? 0;
        if (Math.abs(to - from) > 1e-9) diff.push({ source: s.id, origin_id: id, from, to });
      }
    }
    for (const id in rec) {
      if (cur && cur[id] !== undefined) continue;
      diff.push({ source: s.id, origin_id: id, from: 0, to: rec[id]! });
    }
  }

  let overload = 0;
  let planOverload = 0;
  const outcome: Record<string, OriginOutcome> = {};
  origins.forEach((o, j) => {
    const over = Math.max(0, load[j]! - o.max_rps);
    const planOver = Math.max(0, planLoad[j]! - o.max_rps);
    overload += over;
    planOverload += planOver;
    const notesFor = originNotes[j]!;
    if (planLoad[j]! > o.target_rps * (1 + 1e-9) && planOver === 0) notesFor.push(`planned ${fmt(planLoad[j]! - o.target_rps)} rps above target_rps: using headroom`);
    if (planOver > 1e-9 * o.max_rps) notesFor.push(`planned ${fmt(planOver)} rps above max_rps: total demand exceeds what the usable origins can take`);
    else if (over > 1e-9 * o.max_rps) notesFor.push(`${fmt(over)} rps above max_rps until damping reaches the plan`);
    const c = columns.findIndex((col) => col.id === o.id);
    outcome[o.id] = {
      load_rps: load[j]!,
      planned_rps: planLoad[j]!,
      target_rps: o.target_rps,
      max_rps: o.max_rps,
      utilisation: Number.isFinite(o.max_rps) && o.max_rps > 0 ? load[j]! / o.max_rps : 0,
      price: c >= 0 ? plan.price[c]! : 0,
      usable: roles.role.get(o.id) === 'destination',
      notes: notesFor,
    };
  });
  if (planOverload > 0) notes.push(`overload: ${fmt(planOverload)} rps above max_rps in total (demand exceeds capacity)`);

  const reason: DecisionReason = freedByHealth > 0 ? 'health' : drainShare > 0 ? 'drain' : 'optimize';
  return {
    status: 'ok',
    reason,
    weights,
    plan: planWeights,
    objective,
    plan_objective: planObjective,
    origin_load_rps: Object.fromEntries(origins.map((o, j) => [o.id, load[j]!])),
    overload_rps: overload,
    plan_overload_rps: planOverload,
    origins: outcome,
    notes,
    diff,
    step,
    solver: plan.solver,
  };
}

/** Zeroes shares below MIN_SHARE and renormalises each row (rows of all zeros stay zero). */
function cleanRows(dense: Float64Array, n: number, K: number): void {
  for (let i = 0; i < n; i++) {
    let sum = 0;
    let dropped = false;
    for (let j = 0; j < K; j++) {
      const v = dense[i * K + j]!;
      if (v < MIN_SHARE) {
        if (v !== 0) dropped = true;
        dense[i * K + j] = 0;
      } else sum += v;
    }
    if ((dropped || Math.abs(sum - 1) > 1e-15) && sum > 0) for (let j = 0; j < K; j++) dense[i * K + j]! /= sum;
  }
}

function toRecord(dense: Float64Array, i: number, K: number, origins: { id: string }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (let j = 0; j < K; j++) {
    const v = dense[i * K + j]!;
    if (v > 0) out[origins[j]!.id] = v;
  }
  return out;
}

function fmt(x: number): string {
  return (Math.round(x * 100) / 100).toString();
}

function emptyDecision(problem: SchedulingProblem, status: SchedulingDecision['status'], notes: string[]): SchedulingDecision {
  return {
    status,
    reason: 'hold',
    weights: {},
    plan: {},
    objective: 0,
    plan_objective: 0,
    origin_load_rps: Object.fromEntries(problem.origins.map((o) => [o.id, 0])),
    overload_rps: 0,
    plan_overload_rps: 0,
    origins: {},
    notes,
    diff: [],
    step: { fraction: 0, limited_by: 'none', held_sources: 0, cycles_to_plan: 0 },
    solver: { method: 'none', sources: problem.sources.length, merged_rows: 0, columns: 0, augmentations: 0, lp_objective: 0 },
  };
}
