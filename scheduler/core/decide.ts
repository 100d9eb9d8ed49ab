// decide(problem) → decision: the whole scheduling step, pure (no I/O, no clock, no randomness — its
// stages are timed, decide-stages.ts, but nothing it computes reads the time), so the live loop, the
// simulator, `sluice solve`, the tests and the benchmark all run exactly this.
//
//   dials → classify origins → cost matrix (→ anti-flap band) → overrides onto rows and columns
//     → capacity plan → transportation LP (the plan x*; bounded-plan.ts with overrides)
//     → in force (weights, and what established connections pin) → damping → prediction → outcome
//
// It runs on flat typed arrays (input.ts in, output.ts out; sources × origins, row-major): at 100k
// sources × 20 origins the records are built once at each end, and the worker thread (solver/worker.ts)
// runs decideDense() on the flat forms directly. Work arrays are reused from call to call (scratch.ts).
import type { DecisionReason } from '../../model/views.ts';
import { splitInForce } from './connections.ts';
import { applyDials, makeBoundedPlan, resolveOverrides, type ResolvedOverrides } from './bounded-plan.ts';
import { buildCosts, type CostMatrix } from './costs.ts';
import { damp, type RowColumns } from './damping.ts';
import { lap, startStages } from './decide-stages.ts';
import { densify, rttOf, type DenseProblem } from './input.ts';
import { classifyOrigins, type OriginRole } from './origins.ts';
import { emptyDiff, emptyShares, sparseRows, toDecision, type DenseDecision, type FlatDiff, type SparseShares } from './output.ts';
import { lpPlan, makePlan } from './plan.ts';
import { buildMergedCosts } from './merged-costs.ts';
import { pickOrder, predict } from './predict.ts';
import { scratch } from './scratch.ts';
import { preferCurrent } from './stickiness.ts';
import { steerWholeAnswers } from './answer-steering.ts';
import type { OriginOutcome, OriginState, OverrideOutcome, SchedulingDecision, SchedulingProblem } from './types.ts';

/** Proportional band of the damping (damping.ts). */
export const DEFAULT_GAIN = 0.5;

/** Shares below this are dropped from the published weights (and the rest renormalised). */
const MIN_SHARE = 1e-9;

export function decide(problem: SchedulingProblem): SchedulingDecision {
  return toDecision(decideDense(densify(problem, scratch)));
}

/** decide() on the flat form of the problem, returning the flat form of the decision (output.ts): what
 * the worker thread runs, so neither side builds records the other would only flatten again. */
export function decideDense(problem: DenseProblem): DenseDecision {
  startStages();
  const { settings, demand } = problem;
  // Dials scale capacities before anything looks at them (the damping's capacity guard included).
  const dialled = applyDials(settings.origins, settings.overrides);
  const origins = dialled.origins;
  const K = origins.length;
  const n = problem.sourceIds.length;
  const index = new Map(origins.map((o, j) => [o.id, j]));
  const roles = classifyOrigins(origins);
  const roleOf = origins.map((o) => roles.role.get(o.id)!);
  const notes = [...roles.notes];
  const originNotes: string[][] = origins.map(() => []);
  for (const o of origins) {
    const notesFor = originNotes[index.get(o.id)!]!;
    if (roles.role.get(o.id) === 'removed') notesFor.push(o.admin_state === 'disabled' ? 'disabled: share 0 at once' : 'unhealthy: share 0 at once (not damped)');
    if (roles.role.get(o.id) === 'draining') notesFor.push(`draining: share walks to 0 at ${settings.max_shift} per cycle`);
  }

  if (roles.destinations.length === 0 || n === 0) {
    return emptyDecision({ ...problem, settings: { ...settings, origins } }, roles.destinations.length === 0 ? 'no_usable_origin' : 'ok', [
      ...notes,
      roles.destinations.length === 0 ? 'no usable origin (all disabled or none declared): nothing to publish, hold the weights in force' : 'no sources',
    ]);
  }

  // Plan over destination columns, then spread onto the dense index of declared origins.
  const columns = roles.destinations;
  const C = columns.length;
  const colToOrigin = columns.map((o) => index.get(o.id)!);
  const banned = bannedPairs(problem, roleOf, notes);
  lap('setup');
  const resolved = settings.overrides ? resolveOverrides(problem, settings.overrides, new Map(columns.map((o, c) => [o.id, c])), C, dialled.outcomes) : undefined;
  const bounded = resolved !== undefined && (resolved.forced.size > 0 || resolved.rowBounds.size > 0 || resolved.colMin.some((x) => x > 0) || resolved.colMax.some((x) => x < Infinity));
  const stickiness = settings.stickiness_ms ?? 0;
  const mergeResolution = settings.merge_resolution_ms ?? 0;
  // The latency and balance LPs need only the merged rows' costs: built without the sources × origins
  // matrix (merged-costs.ts). Failover's ranks, the weighted policy and the bounded plan need the matrix.
  const premerged = !bounded && (settings.policy === 'latency' || settings.policy === 'balance') ? buildMergedCosts(problem, columns, colToOrigin, banned, stickiness, mergeResolution) : undefined;
  const costs = premerged ? undefined : buildCosts(problem, columns, colToOrigin, banned);
  if (costs) preferCurrent(costs, problem, colToOrigin, stickiness);
  const rowsInfo = premerged?.rows ?? costs!;
  lap('costs');
  if (rowsInfo.fallbacks.length > 0) {
    const shown = rowsInfo.fallbacks.slice(0, 5).join(', ');
    notes.push(`${rowsInfo.fallbacks.length} source(s) have no origin within max_latency_ms ${settings.max_latency_ms}: sent to their nearest origin (${shown}${rowsInfo.fallbacks.length > 5 ? ', …' : ''})`);
  }
  if (rowsInfo.estimated > 0) notes.push(`${rowsInfo.estimated} pair(s) without learned RTT: estimated from great-circle distance`);
  if (rowsInfo.unknown > 0) notes.push(`${rowsInfo.unknown} pair(s) with neither RTT nor locations: priced at max_latency_ms`);
  const initialPrice = priceHint(settings.price_hint, columns);
  const plan = premerged
    ? lpPlan(settings.policy, columns, premerged.cost, demand, n, { premerged, initialPrice })
    : bounded
      ? makeBoundedPlan(settings.policy, columns, costs!, demand, resolved)
      : makePlan(settings.policy, columns, costs!, demand, { mergeResolution, initialPrice, shareInto: costs!.cost });
  notes.push(...plan.notes);
  // Dense over declared origins (the same array when every origin is a destination, in order).
  const identity = C === K && colToOrigin.every((j, c) => j === c);
  const planDense = identity ? plan.share : spreadColumns(plan.share, n, C, K, colToOrigin, 'decide.plan');
  lap('plan shares');

  const inForce = splitInForce(problem, roleOf, banned);
  const exact = resolved ? steerOverridden(inForce, resolved, n, K) : undefined;
  const drainingIdx = roleOf.flatMap((role, j) => (role === 'draining' ? [j] : []));
  const walkTo = pinDraining(planDense, inForce.keptEffective, drainingIdx, n, K);
  // Before the damping overwrites the weights in force: where each subnet answered whole is answered now.
  const order = pickOrder(origins.map((o) => o.id));
  const inForceAnswers = problem.pick && inForce.hasConnections ? answersInForce(problem, inForce, order, exact) : undefined;
  // The columns the damping's first pass need read: the plan's and the weights in force's (without
  // connection state or overrides: then the effective shares or the forced rows may name others).
  const candidates = plan.rowColumns && !inForce.hasConnections && !resolved ? candidateColumns(problem, plan.rowColumns, identity ? null : colToOrigin) : undefined;
  lap('in force');
  const maxRps = Float64Array.from(origins, (o) => o.max_rps);
  const { weights: w, step, next, pinnedSources, support } = damp({
    rows: n, cols: K, demand, plan: walkTo, refill: planDense, kept: inForce.kept, freed: inForce.freed, maxShift: settings.max_shift, gain: settings.gain ?? DEFAULT_GAIN, deadband: settings.deadband, maxRps, exact, candidates,
    // The weights overwrite the weights in force (read only before; nothing after needs them).
    weightsInto: inForce.kept,
    ...(inForce.hasConnections ? { keptEffective: inForce.keptEffective, freedEffective: inForce.freedEffective, pinned: inForce.pinned } : {}),
  });
  lap('damping');
  if (step.limited_by === 'capacity') notes.push(`capacity protection: moved ${(step.fraction * 100).toFixed(1)}% of the way to the plan (more than max_shift allows) so re-planned shares do not overload an origin`);
  else if (step.limited_by === 'max_shift') notes.push(`damped: moved ${(step.fraction * 100).toFixed(1)}% of the way to the plan; ${step.cycles_to_plan} more cycle(s) at max_shift ${settings.max_shift}`);
  if (step.held_sources > 0) notes.push(`${step.held_sources} source(s) within the deadband ${settings.deadband}: kept as they are`);
  if (pinnedSources > 0) notes.push(`${pinnedSources} source(s) held back by established connections: their load cannot leave an origin faster than its connections close`);

  const latencyAt = objectiveLatency(problem, rowsInfo, colToOrigin, roleOf);

  // Published shares: drop dust below MIN_SHARE, renormalise.
  cleanRows(w, n, K, support);
  cleanRows(planDense, n, K, support);
  lap('clean rows');
  // DNS subnets answered whole: flip the ones nearest to flipping where the answers lag the walk, hold
  // back the ones just moved where they run ahead of it.
  if (problem.pick) {
    // Answers running ahead of the walk are held back only where the walk is carried apart from the
    // published weights, and never in a cycle whose pace the capacity guard set (answer-steering.ts).
    const holds = inForceAnswers && step.limited_by !== 'capacity' ? inForceAnswers : undefined;
    const steered = steerWholeAnswers({
      rows: n, cols: K, weights: w, plan: walkTo, demand, pick: problem.pick, order, pinned: inForce.hasConnections ? inForce.pinned : undefined, exact,
      walkApart: inForceAnswers?.walkApart, answerInForce: holds?.answer,
    });
    const ahead = steered.flipped - steered.held;
    if (ahead > 0) notes.push(`answers: ${ahead} subnet(s) answered whole flipped ahead of their shares (${fmt(steered.movedLoad - steered.heldLoad)} rps), so the answered load follows the walk`);
    if (steered.held > 0) notes.push(`answers: ${steered.held} subnet(s) answered whole held on their origin behind their shares (${fmt(steered.heldLoad)} rps), so the answered load does not outrun the walk`);
    if (steered.kept > 0) notes.push(`answers: ${steered.kept} of them kept on the answer in force while the walk catches up (each answer moves once)`);
    if (steered.flipped > 0) notes.push(`answers: ${fmt(steered.surplusBefore)} → ${fmt(steered.surplusAfter)} rps answered above the walk`);
    lap('answer steering');
  }
  // The load the next cycle will carry: pinned connections plus new traffic by these weights.
  const prediction = predict(problem, w, roleOf, origins.map((o) => o.id));
  lap('prediction');
  // The published rows (sparse: 1-3 origins a row), and the objectives summed over them.
  // Answer steering moves a row's weights only onto origins its support holds (its walk's or plan's, or
  // the answer in force, which has a share): the support still covers every weight.
  const weights = sparseRows(w, n, K, support);
  const planRows = sparseRows(planDense, n, K, support);
  const predicted = prediction.share === w ? weights : sparseRows(prediction.share, n, K);
  const totals = loadsAndObjectives(predicted, prediction.picked, planRows, latencyAt, demand, K);
  lap('objectives');

  const outcomes = originOutcomes(origins, columns, roleOf, originNotes, { ...totals, pinnedLoad: prediction.pinnedLoad }, plan.price);
  if (outcomes.planOverload > 0) notes.push(`overload: ${fmt(outcomes.planOverload)} rps above max_rps in total (demand exceeds capacity)`);

  const overrideOutcomes = resolved?.outcomes ?? dialled.outcomes;
  for (const o of overrideOutcomes) notes.push(overrideNote(o));
  const shaped = overrideOutcomes.some((o) => o.status !== 'void');
  const reason: DecisionReason = inForce.freedByHealth > 0 ? 'health' : inForce.drainShare > 0 ? 'drain' : shaped ? 'override' : 'optimize';
  const diff = diffAgainstCurrent(problem, w, weights);
  const effective = inForce.hasConnections && next ? { connections: { effective: sparseRows(next, n, K, support) } } : {};
  lap('output');
  return {
    rest: {
      status: 'ok',
      reason,
      objective: totals.objective,
      plan_objective: totals.planObjective,
      origin_load_rps: Object.fromEntries(origins.map((o, j) => [o.id, totals.load[j]!])),
      overload_rps: outcomes.overload,
      plan_overload_rps: outcomes.planOverload,
      origins: outcomes.byId,
      notes,
      step,
      solver: plan.solver,
      ...(overrideOutcomes.length > 0 ? { overrides: overrideOutcomes } : {}),
    },
    originIds: origins.map((o) => o.id),
    sourceIds: problem.sourceIds,
    weights,
    plan: planRows,
    diff,
    ...effective,
  };
}

/** The previous decision's prices per destination column (0 for a column it had none for), or none. */
function priceHint(hint: Record<string, number> | undefined, columns: OriginState[]): Float64Array | undefined {
  if (!hint) return undefined;
  return Float64Array.from(columns, (o) => {
    const p = hint[o.id];
    return p !== undefined && Number.isFinite(p) ? p : 0;
  });
}

/** Per origin: predicted and planned load, capacity, price and notes; and the load above max in total. */
function originOutcomes(origins: OriginState[], columns: OriginState[], roleOf: OriginRole[], originNotes: string[][], totals: { load: Float64Array; planLoad: Float64Array; pinnedLoad: Float64Array }, price: Float64Array) {
  const { load, planLoad, pinnedLoad } = totals;
  let overload = 0;
  let planOverload = 0;
  const byId: Record<string, OriginOutcome> = {};
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
    byId[o.id] = {
      load_rps: load[j]!,
      pinned_rps: pinnedLoad[j]!,
      planned_rps: planLoad[j]!,
      target_rps: o.target_rps,
      max_rps: o.max_rps,
      utilisation: Number.isFinite(o.max_rps) && o.max_rps > 0 ? load[j]! / o.max_rps : 0,
      price: c >= 0 ? price[c]! : 0,
      usable: roleOf[j] === 'destination',
      notes: notesFor,
    };
  });
  return { byId, overload, planOverload };
}

/**
 * The pairs sources may not use (edge-local reachability), as a sources × declared-origins mask, or
 * null when there are none. A source whose every destination is banned keeps them all (its bans are
 * lifted and the decision says so): an edge that can reach nothing usable is better served by origins
 * it doubts than by none.
 */
function bannedPairs(problem: DenseProblem, roleOf: OriginRole[], notes: string[]): Uint8Array | null {
  const pairs = problem.excluded;
  if (pairs.length === 0) return null;
  const K = roleOf.length;
  const mask = new Uint8Array(problem.sourceIds.length * K);
  for (const p of pairs) mask[p] = 1;
  const rows = [...new Set(Array.from(pairs, (p) => Math.floor(p / K)))];
  const lifted: string[] = [];
  let kept = 0;
  for (const i of rows) {
    let usable = 0;
    for (let j = 0; j < K; j++) if (roleOf[j] === 'destination' && mask[i * K + j] === 0) usable++;
    if (usable === 0) {
      mask.fill(0, i * K, i * K + K);
      lifted.push(problem.sourceIds[i]!);
    } else {
      for (let j = 0; j < K; j++) kept += mask[i * K + j]!;
    }
  }
  if (kept > 0) notes.push(`${kept} source/origin pair(s) unreachable from that source (edge-local health): share 0 at once, re-planned onto the others`);
  if (lifted.length > 0) notes.push(`${lifted.length} source(s) can reach no usable origin; their exclusions are ignored (${lifted.slice(0, 5).join(', ')}${lifted.length > 5 ? ', …' : ''})`);
  return kept > 0 ? mask : null;
}

/**
 * Latency per (source, declared origin) for the objectives: the cost matrix's (learned, estimated or
 * max_latency_ms) on destinations; elsewhere the learned RTT, or max_latency_ms. On demand: only pairs
 * with a share are read.
 */
function objectiveLatency(problem: DenseProblem, costs: Pick<CostMatrix, 'latencyAt'>, colToOrigin: number[], roleOf: OriginRole[]): (i: number, j: number) => number {
  const K = roleOf.length;
  const colOf = new Int32Array(K).fill(-1);
  colToOrigin.forEach((j, c) => (colOf[j] = c));
  const ceiling = problem.settings.max_latency_ms;
  return (i, j) => {
    const c = colOf[j]!;
    if (c >= 0) return costs.latencyAt(i, c);
    const l = rttOf(problem.rtt, i, j);
    return Number.isFinite(l) && l >= 0 ? l : ceiling;
  };
}

/** rows × C columns → rows × K declared origins (scratch space named `name`; other origins 0). */
function spreadColumns(byColumn: Float64Array, n: number, C: number, K: number, colToOrigin: number[], name: string): Float64Array {
  const dense = scratch.f64(name, n * K);
  for (let i = 0; i < n; i++) for (let c = 0; c < C; c++) dense[i * K + colToOrigin[c]!] = byColumn[i * C + c]!;
  return dense;
}

/**
 * Per source answered whole, before the damping: whether its walk is carried apart from the published
 * weights (connection state with effective shares: the damping walks those, and the decision carries the
 * walk it computed, not the weights published) and, for those that may be held back, the origin the
 * weights in force answer it. Not held (−1): rows with shares freed by a health event or an override
 * `now` (failover is never held back), rows an override fixes (`exact`).
 */
function answersInForce(problem: DenseProblem, inForce: ReturnType<typeof splitInForce>, order: readonly number[], exact: Uint8Array | undefined): { walkApart: Uint8Array; answer: Int32Array } {
  const n = problem.sourceIds.length;
  const K = problem.settings.origins.length;
  const { pick, current } = problem;
  const given = inForce.effectiveGiven;
  const walkApart = new Uint8Array(n);
  const answer = new Int32Array(n).fill(-1);
  const rank = new Int32Array(K);
  order.forEach((j, r) => (rank[j] = r));
  // The row's entries in line order (rows name 1-3 origins: sorted by insertion, not a K-wide pass).
  const entries: number[] = [];
  for (let i = 0; i < n; i++) {
    const u = pick![i]!;
    if (!Number.isFinite(u) || given === undefined || given[i] !== 1) continue;
    walkApart[i] = 1;
    if (inForce.freed[i]! > 0 || inForce.freedEffective[i]! > 0 || (exact !== undefined && exact[i] === 1)) continue;
    // The published weights as the DNS server has them (draining shares not yet released).
    entries.length = 0;
    let total = 0;
    for (let e = current.start[i]!; e < current.start[i + 1]!; e++) {
      const j = current.origin[e]!;
      const v = current.share[e]!;
      if (j < 0 || !(Number.isFinite(v) && v > 0)) continue;
      total += v;
      let at = entries.length;
      while (at > 0 && rank[current.origin[entries[at - 1]!]!]! > rank[j]!) at--;
      entries.splice(at, 0, e);
    }
    // As pickOrigin (predict.ts): the interval of the line that holds u, else the last origin.
    let acc = 0;
    for (const e of entries) {
      acc += current.share[e]! / total;
      answer[i] = current.origin[e]!;
      if (u < acc) break;
    }
  }
  return { walkApart, answer };
}

/**
 * Where this cycle walks to: the plan, with what is still draining pinned in place (draining is paced
 * by the release in splitCurrent, not by the damping fraction, so it is exactly linear).
 */
function pinDraining(planDense: Float64Array, kept: Float64Array, drainingIdx: number[], n: number, K: number): Float64Array {
  if (drainingIdx.length === 0) return planDense;
  const walkTo = scratch.f64('decide.walkTo', n * K);
  walkTo.set(planDense);
  for (let i = 0; i < n; i++) {
    let pinned = 0;
    for (const j of drainingIdx) pinned += kept[i * K + j]!;
    if (pinned === 0) continue;
    for (let j = 0; j < K; j++) walkTo[i * K + j] = planDense[i * K + j]! * (1 - pinned);
    for (const j of drainingIdx) walkTo[i * K + j] = kept[i * K + j]!;
  }
  return walkTo;
}

/**
 * Sources an override touches: those with a `now` override go straight to the plan this cycle (their
 * weights in force count as freed, like a new source's); forced sources ignore their connection
 * state (the forced weights are published as they are). Returns the rows the deadband may not hold
 * (forced and bounded sources reach their plan exactly).
 */
function steerOverridden(inForce: ReturnType<typeof splitInForce>, r: ResolvedOverrides, n: number, K: number): Uint8Array {
  const { kept, freed, keptEffective, freedEffective, pinned, hasConnections } = inForce;
  for (let i = 0; i < n; i++) {
    if (!r.nowRows[i]) continue;
    kept.fill(0, i * K, i * K + K);
    freed[i] = 1;
    if (hasConnections) {
      keptEffective.fill(0, i * K, i * K + K);
      freedEffective[i] = 1;
    }
  }
  if (hasConnections) {
    for (const i of r.forced.keys()) {
      pinned.fill(0, i * K, i * K + K);
      keptEffective.set(kept.subarray(i * K, i * K + K), i * K);
      freedEffective[i] = freed[i]!;
    }
  }
  const exact = new Uint8Array(n);
  for (const i of r.forced.keys()) exact[i] = 1;
  for (const i of r.rowBounds.keys()) exact[i] = 1;
  return exact;
}

function overrideNote(o: OverrideOutcome): string {
  const what = `override ${o.id} (${o.kind})${o.now ? ', now' : ''}: ${o.status}`;
  return o.notes.length > 0 ? `${what} — ${o.notes.join('; ')}` : what;
}

/**
 * Load per origin and Σ demand × rtt × share, for the predicted shares (or, with `picked`, the one origin
 * a source answered whole goes to) and for the plan, over their non-zero entries in row order: the same
 * sums as over the dense rows (a zero share adds 0; latencies are finite).
 */
function loadsAndObjectives(predicted: SparseShares, picked: Int32Array | undefined, plan: SparseShares, latencyAt: (i: number, j: number) => number, demand: Float64Array, K: number) {
  const load = new Float64Array(K);
  const planLoad = new Float64Array(K);
  let objective = 0;
  let planObjective = 0;
  for (let i = 0; i < predicted.rows; i++) {
    const d = demand[i]!;
    const whole = picked ? picked[i]! : -2;
    if (whole >= 0) {
      load[whole]! += d;
      objective += d * latencyAt(i, whole);
    } else if (whole === -2) {
      for (let e = predicted.start[i]!; e < predicted.start[i + 1]!; e++) {
        const j = predicted.origin[e]!;
        const x = predicted.share[e]!;
        load[j]! += d * x;
        objective += d * x * latencyAt(i, j);
      }
    }
  }
  for (let i = 0; i < plan.rows; i++) {
    const d = demand[i]!;
    for (let e = plan.start[i]!; e < plan.start[i + 1]!; e++) {
      const j = plan.origin[e]!;
      const p = plan.share[e]!;
      planLoad[j]! += d * p;
      planObjective += d * p * latencyAt(i, j);
    }
  }
  return { load, planLoad, objective, planObjective };
}

/**
 * The changes against what is in force, per source: first every origin its record names (in its order,
 * including shares on origins that no longer exist), then the origins it gets that it did not name.
 */
function diffAgainstCurrent(problem: DenseProblem, w: Float64Array, weights: SparseShares): FlatDiff {
  const { current } = problem;
  const n = problem.sourceIds.length;
  const K = problem.settings.origins.length;
  const capacity = current.origin.length + weights.origin.length;
  const source = new Int32Array(capacity);
  const originCode = new Int32Array(capacity);
  const from = new Float64Array(capacity);
  const to = new Float64Array(capacity);
  let count = 0;
  const push = (i: number, o: number, f: number, t: number): void => {
    source[count] = i;
    originCode[count] = o;
    from[count] = f;
    to[count++] = t;
  };
  // named[j] === i + 1: source i's record names declared origin j.
  const named = new Int32Array(K);
  for (let i = 0; i < n; i++) {
    const row = i * K;
    if (current.has[i]) {
      for (let e = current.start[i]!; e < current.start[i + 1]!; e++) {
        const j = current.origin[e]!;
        const v = current.share[e]!;
        const f = Number.isFinite(v) ? v : 0;
        const t = j >= 0 ? w[row + j]! : 0;
        if (j >= 0) named[j] = i + 1;
        if (Math.abs(t - f) > 1e-9) push(i, j, f, t);
      }
    }
    // The new weights' entries (sparse: the same ones, in the same order, as w's positive entries).
    for (let e = weights.start[i]!; e < weights.start[i + 1]!; e++) {
      const j = weights.origin[e]!;
      if (named[j] !== i + 1) push(i, j, 0, weights.share[e]!);
    }
  }
  return { source: source.slice(0, count), origin: originCode.slice(0, count), from: from.slice(0, count), to: to.slice(0, count), extraIds: current.extraIds };
}

/**
 * Per source, the declared origins its plan (`planColumns`, in destination columns; `colToOrigin` maps
 * them, null when they are the declared origins) or its weights in force name, ascending, each once:
 * every origin the plan, the walk (the plan with draining shares kept where they are) or the weights in
 * force can be non-zero on.
 */
function candidateColumns(problem: DenseProblem, planColumns: RowColumns, colToOrigin: number[] | null): RowColumns {
  const n = problem.sourceIds.length;
  const { current } = problem;
  const start = new Int32Array(n + 1);
  let col = new Int32Array(Math.max(16, planColumns.col.length + current.origin.length));
  const row: number[] = [];
  let count = 0;
  for (let i = 0; i < n; i++) {
    row.length = 0;
    for (let e = planColumns.start[i]!; e < planColumns.start[i + 1]!; e++) row.push(colToOrigin ? colToOrigin[planColumns.col[e]!]! : planColumns.col[e]!);
    for (let e = current.start[i]!; e < current.start[i + 1]!; e++) if (current.origin[e]! >= 0) row.push(current.origin[e]!);
    if (row.length > 1) row.sort((a, b) => a - b);
    start[i] = count;
    if (count + row.length > col.length) {
      const grown = new Int32Array(2 * (count + row.length));
      grown.set(col);
      col = grown;
    }
    for (let k = 0; k < row.length; k++) if (k === 0 || row[k] !== row[k - 1]) col[count++] = row[k]!;
  }
  start[n] = count;
  return { start, col };
}

/** Zeroes shares below MIN_SHARE and renormalises each row (rows of all zeros stay zero). */
function cleanRows(dense: Float64Array, n: number, K: number, support: RowColumns): void {
  // Only the row's support (damping.ts): every other entry is 0 already, which this would leave as it is.
  const { start, col } = support;
  for (let i = 0; i < n; i++) {
    let sum = 0;
    let dropped = false;
    for (let e = start[i]!; e < start[i + 1]!; e++) {
      const idx = i * K + col[e]!;
      const v = dense[idx]!;
      if (v < MIN_SHARE) {
        if (v !== 0) dropped = true;
        dense[idx] = 0;
      } else sum += v;
    }
    if ((dropped || Math.abs(sum - 1) > 1e-15) && sum > 0) for (let e = start[i]!; e < start[i + 1]!; e++) dense[i * K + col[e]!]! /= sum;
  }
}

function fmt(x: number): string {
  return (Math.round(x * 100) / 100).toString();
}

function emptyDecision(problem: DenseProblem, status: SchedulingDecision['status'], notes: string[]): DenseDecision {
  const origins = problem.settings.origins;
  return {
    rest: {
      status,
      reason: 'hold',
      objective: 0,
      plan_objective: 0,
      origin_load_rps: Object.fromEntries(origins.map((o) => [o.id, 0])),
      overload_rps: 0,
      plan_overload_rps: 0,
      origins: {},
      notes,
      step: { fraction: 0, limited_by: 'none', held_sources: 0, cycles_to_plan: 0 },
      solver: { method: 'none', sources: problem.sourceIds.length, merged_rows: 0, columns: 0, augmentations: 0, lp_objective: 0 },
    },
    originIds: origins.map((o) => o.id),
    sourceIds: problem.sourceIds,
    weights: emptyShares(),
    plan: emptyShares(),
    diff: emptyDiff(),
  };
}
