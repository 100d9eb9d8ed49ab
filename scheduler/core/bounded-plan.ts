// The plan under operator overrides (model/override.ts), as exact reformulations of the transportation
// LP — no per-arc bounds are added to the solver, whose network stays K+1 nodes:
//
//   dial            an origin's target and max are scaled before anything else (applyDials);
//   force           the source's row is fixed at the forced weights and leaves the LP; its load is
//                   taken off the columns' capacities (CapacityAdjust.fixed);
//   min share m     (of one source) m·d is assigned to the origin up front, taken off its capacity;
//   max share M     (of one source) the rest of the row is split into segments that may or may not use
//                   the origin (splitBounds: M·d that may, (1 − M)·d that may not, and the exact
//                   generalisations for several maxes on one source);
//   LB-wide max M   the column's total is limited to M·D (CapacityAdjust.limit);
//   LB-wide min m   a reward tier of m·D (minus what is already fixed there) at the bottom of the column
//                   (solver/transport.ts): filled first whenever the hard max allows it.
//
// Each is an equivalence, not a heuristic: the LP over the reformulated rows and columns has the same
// optimum as the LP with the bounds as constraints (test/override-exactness.test.ts checks both against
// HiGHS on random bounded instances). Precedence where the demand or health makes bounds collide (the
// API refuses what collides by itself): health first (an unhealthy, disabled or draining origin takes no
// new forced or minimum share), then the hard capacity (a minimum share never pushes an origin above
// max), then the override. Every override's fate is reported (OverrideOutcome) and in the notes.
import { splitBounds } from '../../model/override.ts';
import type { CostMatrix } from './costs.ts';
import type { DenseProblem } from './input.ts';
import { lpPlan, makePlan, type Plan } from './plan.ts';
import { scratch } from './scratch.ts';
import type { OriginState, OverrideOutcome, Policy, ProblemOverrides } from './types.ts';

/** Overrides resolved to rows (sources) and columns (destination origins). */
export interface ResolvedOverrides {
  /** Rows whose plan is fixed whole: forced weights per column (sum 1). */
  forced: Map<number, Float64Array>;
  /** Per row: minimum and maximum share per column, and the overrides they come from. */
  rowBounds: Map<number, { mins: Map<number, number>; maxes: Map<number, number>; ids: string[] }>;
  /** Load balancer-wide minimum / maximum share per column (0 / Infinity: none), and their overrides. */
  colMin: Float64Array;
  colMax: Float64Array;
  colIds: { min: (string | undefined)[]; max: (string | undefined)[] };
  /** Rows that go straight to the plan this cycle (a `now` override touches them). */
  nowRows: Uint8Array;
  outcomes: OverrideOutcome[];
  /** Outcome by override id (the same objects). */
  byId: Map<string, OverrideOutcome>;
}

const EPS = 1e-9;

/** Origins with the dials applied (target and max scaled), and the dials' outcomes. */
export function applyDials(origins: OriginState[], overrides: ProblemOverrides | undefined): { origins: OriginState[]; outcomes: OverrideOutcome[] } {
  const dials = overrides?.dials ?? [];
  if (dials.length === 0) return { origins, outcomes: [] };
  const outcomes: OverrideOutcome[] = [];
  const byOrigin = new Map<string, { fraction: number; id: string }>();
  for (const d of dials) {
    const known = origins.some((o) => o.id === d.origin);
    const fraction = Math.min(1, Math.max(0, Number.isFinite(d.fraction) ? d.fraction : 1));
    outcomes.push({ id: d.id, kind: 'dial', status: known ? 'applied' : 'void', sources: 0, now: d.now === true, notes: known ? [`${d.origin}: ${round(fraction * 100)} % of its capacity offered`] : [`no origin ${d.origin}`] });
    if (known && !byOrigin.has(d.origin)) byOrigin.set(d.origin, { fraction, id: d.id });
  }
  return {
    origins: origins.map((o) => {
      const d = byOrigin.get(o.id);
      return d ? { ...o, target_rps: o.target_rps * d.fraction, max_rps: o.max_rps * d.fraction } : o;
    }),
    outcomes,
  };
}

/** The share and force overrides mapped onto rows and destination columns (`colOf`: origin id -> column). */
export function resolveOverrides(problem: DenseProblem, overrides: ProblemOverrides, colOf: Map<string, number>, C: number, dialOutcomes: OverrideOutcome[]): ResolvedOverrides {
  const n = problem.sourceIds.length;
  const wanted = new Set<string>();
  for (const f of overrides.force ?? []) for (const s of f.sources) wanted.add(s);
  for (const b of overrides.shares ?? []) if (b.source !== undefined) wanted.add(b.source);
  // One pass over the sources, looking up only the ones overrides name (100k ids: no full map).
  const rowOf = new Map<string, number>();
  if (wanted.size > 0) for (let i = 0; i < n; i++) if (wanted.has(problem.sourceIds[i]!)) rowOf.set(problem.sourceIds[i]!, i);

  const r: ResolvedOverrides = {
    forced: new Map(),
    rowBounds: new Map(),
    colMin: new Float64Array(C),
    colMax: new Float64Array(C).fill(Infinity),
    colIds: { min: new Array(C).fill(undefined), max: new Array(C).fill(undefined) },
    nowRows: new Uint8Array(n),
    outcomes: [...dialOutcomes],
    byId: new Map(),
  };
  for (const o of dialOutcomes) {
    o.sources = n;
    if (o.now) r.nowRows.fill(1);
  }

  for (const f of overrides.force ?? []) {
    const out: OverrideOutcome = { id: f.id, kind: 'force', status: 'applied', sources: 0, now: f.now === true, notes: [] };
    r.outcomes.push(out);
    const w = new Float64Array(C);
    let total = 0;
    const dropped: string[] = [];
    for (const [origin, share] of Object.entries(f.weights)) {
      const c = colOf.get(origin);
      if (!(share > 0)) continue;
      if (c === undefined) dropped.push(origin);
      else {
        w[c]! += share;
        total += share;
      }
    }
    if (total <= 0) {
      out.status = 'void';
      out.notes.push(`none of the forced origins (${Object.keys(f.weights).join(', ')}) is usable now (unhealthy, disabled or draining): planned as usual`);
      continue;
    }
    for (let c = 0; c < C; c++) w[c]! /= total;
    if (dropped.length > 0) {
      out.status = 'relaxed';
      out.notes.push(`${dropped.join(', ')} not usable now (unhealthy, disabled or draining): its forced share goes to the other forced origins in proportion`);
    }
    for (const s of f.sources) {
      const i = rowOf.get(s);
      if (i === undefined || r.forced.has(i)) continue;
      r.forced.set(i, w);
      out.sources++;
      if (out.now) r.nowRows[i] = 1;
    }
    if (out.sources === 0 && out.status === 'applied') {
      out.status = 'void';
      out.notes.push('no source it names has demand this cycle');
    }
  }

  for (const b of overrides.shares ?? []) {
    const out: OverrideOutcome = { id: b.id, kind: 'share', status: 'applied', sources: b.source === undefined ? n : 0, now: b.now === true, notes: [] };
    r.outcomes.push(out);
    const c = colOf.get(b.origin);
    if (c === undefined) {
      // Not a destination (unhealthy, disabled, draining or gone): it gets no new share anyway.
      if (b.min !== undefined && b.min > 0) {
        out.status = 'relaxed';
        out.notes.push(`${b.origin} is not usable now: its minimum share ${b.min} cannot be met (health first)`);
      } else out.notes.push(`${b.origin} is not usable now: its maximum share holds trivially`);
      continue;
    }
    if (b.source === undefined) {
      if (b.min !== undefined) {
        r.colMin[c] = Math.max(r.colMin[c]!, b.min);
        r.colIds.min[c] = b.id;
      }
      if (b.max !== undefined) {
        r.colMax[c] = Math.min(r.colMax[c]!, b.max);
        r.colIds.max[c] = b.id;
      }
      if (out.now) r.nowRows.fill(1);
      continue;
    }
    const i = rowOf.get(b.source);
    if (i === undefined) {
      out.status = 'void';
      out.notes.push(`${b.source} has no demand this cycle`);
      continue;
    }
    if (r.forced.has(i)) {
      out.notes.push(`${b.source} is forced: the forced weights apply`);
      continue;
    }
    let rb = r.rowBounds.get(i);
    if (!rb) r.rowBounds.set(i, (rb = { mins: new Map(), maxes: new Map(), ids: [] }));
    if (b.min !== undefined) rb.mins.set(c, b.min);
    if (b.max !== undefined) rb.maxes.set(c, b.max);
    rb.ids.push(b.id);
    out.sources = 1;
    if (out.now) r.nowRows[i] = 1;
  }
  for (const o of r.outcomes) r.byId.set(o.id, o);
  return r;
}

function relax(r: ResolvedOverrides, id: string | undefined, note: string): void {
  const o = id === undefined ? undefined : r.byId.get(id);
  if (!o) return;
  if (o.status === 'applied') o.status = 'relaxed';
  if (!o.notes.includes(note)) o.notes.push(note);
}

/** The plan with the overrides as exact reformulations (see the header). */
export function makeBoundedPlan(policy: Policy, columns: OriginState[], costs: CostMatrix, demand: Float64Array, r: ResolvedOverrides): Plan {
  const { rows: n, cols: C, cost } = costs;
  let D = 0;
  for (let i = 0; i < n; i++) D += demand[i]!;

  if (policy === 'weighted') {
    // Static weights are not optimised: only forced rows change; bounds cannot be honoured.
    const plan = makePlan(policy, columns, costs, demand);
    for (const [i, w] of r.forced) plan.share.set(w, i * C);
    for (const o of r.outcomes) if (o.kind === 'share') relax(r, o.id, 'the weighted policy publishes static weights: share bounds do not apply');
    return plan;
  }

  // 1. Fixed load (forced rows, pre-assigned minimums) and the LP's rows (segments of bounded sources).
  const fixedLoad = new Float64Array(C);
  const fixedRow = new Map<number, Float64Array>();
  const segSource: number[] = [];
  const segFrac: number[] = [];
  const segExcluded: (number[] | null)[] = [];
  for (let i = 0; i < n; i++) {
    const d = demand[i]!;
    const forced = r.forced.get(i);
    if (forced) {
      fixedRow.set(i, forced);
      for (let c = 0; c < C; c++) fixedLoad[c]! += d * forced[c]!;
      continue;
    }
    const rb = r.rowBounds.get(i);
    if (!rb) {
      segSource.push(i);
      segFrac.push(1);
      segExcluded.push(null);
      continue;
    }
    const cols = Array.from({ length: C }, (_, c) => String(c));
    const key = (m: Map<number, number>) => new Map([...m].map(([c, v]) => [String(c), v]));
    let split = splitBounds(key(rb.mins), key(rb.maxes), cols);
    if ('unsatisfiable' in split) {
      // Only health can bring this about (the API refuses such a set): keep the minimums if they fit.
      for (const id of rb.ids) relax(r, id, `cannot be honoured exactly with the origins usable now (${split.unsatisfiable}): maximum shares of this source dropped`);
      split = splitBounds(key(rb.mins), new Map(), cols);
      if ('unsatisfiable' in split) split = { pre: new Map(), segments: [{ frac: 1, excluded: [] }] };
    }
    const pre = new Float64Array(C);
    for (const [c, m] of split.pre) {
      pre[Number(c)] = m;
      fixedLoad[Number(c)]! += d * m;
    }
    fixedRow.set(i, pre);
    for (const seg of split.segments) {
      segSource.push(i);
      segFrac.push(seg.frac);
      segExcluded.push(seg.excluded.map(Number));
    }
  }

  // 2. The LP's cost rows: a segment may not use its excluded columns. A segment left with no column
  //    within max_latency_ms may use the others at their latency (the bound beats the ceiling).
  const m = segSource.length;
  const lpCost = scratch.f64('bounded.cost', m * C);
  const lpDemand = new Float64Array(m);
  for (let s = 0; s < m; s++) {
    const i = segSource[s]!;
    lpDemand[s] = demand[i]! * segFrac[s]!;
    lpCost.set(cost.subarray(i * C, i * C + C), s * C);
    const excluded = segExcluded[s];
    if (!excluded || excluded.length === 0) continue;
    for (const c of excluded) lpCost[s * C + c] = Infinity;
    let allowed = false;
    for (let c = 0; c < C && !allowed; c++) allowed = lpCost[s * C + c] !== Infinity;
    if (!allowed) {
      for (let c = 0; c < C; c++) if (!excluded.includes(c)) lpCost[s * C + c] = costs.latencyAt(i, c);
      allowed = excluded.length < C;
    }
    if (!allowed) {
      // Every usable column excluded (health took the others): the maximums cannot hold for this row.
      lpCost.set(cost.subarray(i * C, i * C + C), s * C);
      for (const id of r.rowBounds.get(i)?.ids ?? []) relax(r, id, 'no other usable origin to take the rest: maximum share dropped for this cycle');
    }
  }

  // 3. Columns: limits (LB-wide maximums), the reward tier (LB-wide minimums), fixed load off capacity.
  const limit = Float64Array.from(r.colMax, (M) => (M === Infinity ? Infinity : M * D));
  const anyMin = r.colMin.some((x) => x > 0);
  const minLoad = anyMin ? Float64Array.from(r.colMin, (mn, c) => Math.max(0, mn * D - fixedLoad[c]!)) : undefined;
  const lp = lpPlan(policy, columns, lpCost, lpDemand, m, { adjust: { fixed: fixedLoad, limit }, minLoad });
  if (lp.limitsRelaxed) for (let c = 0; c < C; c++) relax(r, r.colIds.max[c], 'the maximum shares leave no feasible plan with the origins usable now: not applied this cycle');

  // 4. Each source's plan: what was fixed plus its segments' shares.
  const share = scratch.f64('bounded.share', n * C);
  for (const [i, f] of fixedRow) share.set(f, i * C);
  for (let s = 0; s < m; s++) {
    const base = segSource[s]! * C;
    const frac = segFrac[s]!;
    for (let c = 0; c < C; c++) share[base + c]! += frac * lp.share[s * C + c]!;
  }

  // 5. What the plan honours: the load balancer-wide bounds depend on demand and capacity.
  if (D > 0) {
    const load = new Float64Array(C);
    for (let i = 0; i < n; i++) for (let c = 0; c < C; c++) load[c]! += demand[i]! * share[i * C + c]!;
    for (let c = 0; c < C; c++) {
      const s = load[c]! / D;
      if (r.colMin[c]! > 0 && s < r.colMin[c]! - EPS) relax(r, r.colIds.min[c], `${columns[c]!.id} gets ${round(s)} of the demand, not ${r.colMin[c]}: its capacity (max_rps ${round(columns[c]!.max_rps)}) comes first`);
      if (r.colMax[c]! < Infinity && s > r.colMax[c]! + EPS) relax(r, r.colIds.max[c], `${columns[c]!.id} gets ${round(s)} of the demand, above ${r.colMax[c]}: the other origins cannot take the rest`);
    }
  }
  const notes = [...lp.notes];
  return { share, price: lp.price, notes, solver: { ...lp.solver, sources: n } };
}

function round(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
