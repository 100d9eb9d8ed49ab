// Damping: how far to move from the weights in force towards the plan this cycle.
//
// 1. Shares on removed origins (unhealthy, disabled, undeclared) are freed at once — never damped —
//    and re-planned immediately: x⁰_s = kept_s + freed_s · x*_s. A new source (nothing in force) is
//    all "freed": it gets its plan at once.
// 2. Every source whose plan differs from x⁰ by at least the deadband somewhere moves the same
//    fraction α of the way: x = x⁰ + α(x* − x⁰), with α = min(1, max_shift / max|x* − x⁰|). So no
//    weight moves more than max_shift, every source's shares still sum to 1, and — the point of a
//    single α — every origin's load moves along the straight line between its load now and its
//    planned load: L(α) = (1 − α)L(x⁰) + αL(x*). An origin is never pushed above both, i.e. damping
//    itself can never overload an origin the plan keeps within max. (Clamping each weight on its own
//    does not have this property: one source moving fast onto an origin that another source is only
//    slowly leaving overshoots it.) All sources reach the plan in the same cycle, which is also when a
//    per-weight clamp would finish, because the largest move sets the pace either way.
// 3. Capacity protection beats damping for health events: if re-planning freed shares (step 1)
//    would put an origin above max(max_rps, its load before the event, its planned load), α is raised
//    to the smallest value that brings every origin back under that ceiling. Demand growth alone never
//    triggers it — the write-up's experiment (all traffic on one origin, demand jumps above its max)
//    walks at max_shift, as it should — but an origin failing never overloads its neighbours because
//    of damping.
// 4. Proportional band (gain): α ≤ gain. Far from the plan the step is max_shift (α = max_shift/gap);
//    within max_shift/gain of it the loop closes a fixed fraction of the remaining gap per cycle instead
//    of jumping onto it. Why: the plan moves with the demand it causes (the write-up's clients send
//    fewer requests when sent farther) and is measured one cycle late. A pure rate limiter lands on the
//    target every time and, wherever that feedback's local gain |g'| exceeds 1, bangs around it for
//    ever with amplitude ~max_shift (the write-up's damped curve, at elasticity 0.5: ±3 % of US load).
//    With a proportional band the loop near the set point is x ← x + κ(g(x) − x), stable for
//    κ < 2/(1 + |g'|); κ = 0.5 tolerates |g'| < 3. max_shift = 1 turns all damping off (gain included).
// Sources within the deadband keep x⁰ (no flapping on sub-deadband gains); if holding them would
// keep an origin above its ceiling, the deadband is ignored for that cycle. A share left below the
// deadband on an origin the plan gives nothing is dropped (and the source renormalised), so a source
// that moves off an origin leaves it completely instead of trickling on with a 0.25 % share.
//
// Established connections (connections.ts): with connection state the walk is on the *effective*
// shares e (where the load is), x⁰ = e_kept + freed·x*, and steps 1–5 hold for the load: the cycle's
// target e' = x⁰ + α(x* − x⁰) is reached by new weights w = (e' − π)⁺/(1 − Σπ), π the share still
// pinned on established connections at the end of the cycle. The capacity guard (step 3) therefore
// judges the load the next cycle will really carry. A source whose target needs more to leave an origin
// than its connections release there moves as far as they allow (counted in `pinnedSources`).
import { scratch } from './scratch.ts';
import type { StepInfo } from './types.ts';

export interface DampingInput {
  rows: number;
  /** Number of declared origins (dense index). */
  cols: number;
  demand: Float64Array;
  /** Where this cycle walks to, rows × cols, rows sum to 1 (the plan x*, with shares still draining
   * pinned where they are: draining is paced separately). */
  plan: Float64Array;
  /** Where freed shares go at once (the plan x*); defaults to `plan`. */
  refill?: Float64Array;
  /** Weights in force on kept origins (destination or draining), normalised; rows × cols. */
  kept: Float64Array;
  /** Share per row that was on removed origins (or 1 for a new source). */
  freed: Float64Array;
  maxShift: number;
  /** Fraction of the remaining gap closed per cycle near the plan (≤ 1); ignored when maxShift = 1. */
  gain: number;
  deadband: number;
  maxRps: Float64Array;
  /** Connection state (connections.ts): effective shares on kept origins and the freed rest; default kept/freed. */
  keptEffective?: Float64Array | undefined;
  freedEffective?: Float64Array | undefined;
  /** π: share pinned on established connections at the end of the cycle (rows × cols); absent = none. */
  pinned?: Float64Array | undefined;
  /** Rows the deadband may not hold (forced and bounded sources: their plan is reached exactly); absent = none. */
  exact?: Uint8Array | undefined;
  /** Per row, a superset of the columns where kept, keptEffective, plan or refill is non-zero, ascending
   * (decide.ts: the plan's and the weights in force's columns): the first pass reads only these instead
   * of every column. Absent: every column. */
  candidates?: RowColumns | undefined;
  /** Where to write the weights (rows × cols); default scratch space. May be `kept` itself: each entry of
   * `kept` is read once, before the weight at the same place is written (spares a 206 MB array at 1M subnets). */
  weightsInto?: Float64Array | undefined;
}

export interface DampingResult {
  /** rows × cols; scratch space (scratch.ts): valid until the next call. */
  weights: Float64Array;
  step: StepInfo;
  /** With connection state: the effective shares at the end of the cycle, π + (1 − Σπ)·w (scratch). */
  next?: Float64Array | undefined;
  /** Sources whose target needed more to leave an origin than its established connections release. */
  pinnedSources: number;
  /** Per row, the columns it has anything on in force, effective, plan or refill, ascending (CSR): the
   * weights, `next` and the plan and refill are 0 everywhere else (rows have 1–3 of 200 at 1M subnets),
   * so later passes may visit only these (decide.ts). */
  support: RowColumns;
}

/** Some columns of each row, ascending: row i's are col[start[i] .. start[i + 1]). */
export interface RowColumns {
  start: Int32Array;
  col: Int32Array;
}

export function damp(input: DampingInput): DampingResult {
  const { rows: n, cols: K, demand, plan, kept, freed, maxShift, deadband, maxRps, pinned, exact, candidates } = input;
  // Whether row i moves this cycle; `finishes`: it goes all the way (its gap is below the deadband).
  const movesAt = (i: number, withDeadband: boolean): boolean => gap[i]! > 0 && (!withDeadband || gap[i]! >= deadband || (exact !== undefined && exact[i] === 1));
  const finishesAt = (i: number, withDeadband: boolean): boolean => gap[i]! < deadband && (!withDeadband || (exact !== undefined && exact[i] === 1));
  const refill = input.refill ?? plan;
  const keptEff = input.keptEffective ?? kept;
  const freedEff = input.freedEffective ?? freed;
  const gain = maxShift >= 1 ? 1 : Math.min(1, Math.max(input.gain, 1e-3));
  // x0: the weights in force with freed shares re-planned (what a held source keeps publishing);
  // e0: the same for the effective shares — the start of the walk (the same array without pinning).
  const x0 = input.weightsInto ?? scratch.f64('damp.weights', n * K);
  const e0 = pinned ? scratch.f64('damp.effective', n * K) : x0;
  // Per source, 1 − Σπ: the share new weights steer this cycle.
  const steer = new Float64Array(n).fill(1);
  const baseLoad = new Float64Array(K);
  const planLoad = new Float64Array(K);
  const gap = new Float64Array(n);
  // The columns each row has anything on (in force, effective, plan or refill): everything else is 0 in
  // every array here and stays 0 in the weights, so the passes after this one visit only these (rows
  // have 1-3 of 200 at 1M subnets: four dense passes over 25.8M entries were ~0.4 s).
  const rowStart = new Int32Array(n + 1);
  let active = new Int32Array(Math.max(16, 2 * n));
  let count = 0;
  for (let i = 0; i < n; i++) {
    const f = freed[i]!;
    const fe = freedEff[i]!;
    const d = demand[i]!;
    let g = 0;
    let p = 0;
    rowStart[i] = count;
    const first = candidates ? candidates.start[i]! : 0;
    const end = candidates ? candidates.start[i + 1]! : K;
    for (let k = first; k < end; k++) {
      const j = candidates ? candidates.col[k]! : k;
      const idx = i * K + j;
      if (kept[idx] === 0 && keptEff[idx] === 0 && plan[idx] === 0 && refill[idx] === 0) continue;
      if (count === active.length) {
        const grown = new Int32Array(2 * count);
        grown.set(active);
        active = grown;
      }
      active[count++] = j;
      baseLoad[j]! += d * keptEff[idx]!;
      planLoad[j]! += d * plan[idx]!;
      x0[idx] = kept[idx]! + f * refill[idx]!;
      if (pinned) {
        e0[idx] = keptEff[idx]! + fe * refill[idx]!;
        p += pinned[idx]!;
      }
      const delta = Math.abs(plan[idx]! - e0[idx]!);
      if (delta > g) g = delta;
    }
    gap[i] = g;
    steer[i] = Math.max(0, 1 - p);
  }
  rowStart[n] = count;
  const ceiling = Float64Array.from(maxRps, (m, j) => Math.max(m, baseLoad[j]!, planLoad[j]!));

  const solveAlpha = (useDeadband: boolean): { alpha: number; alphaShift: number; maxGap: number; held: number; fits: boolean; overMax: boolean; A: Float64Array; B: Float64Array } => {
    const A = new Float64Array(K);
    const B = new Float64Array(K);
    let maxGap = 0;
    let held = 0;
    for (let i = 0; i < n; i++) {
      const moving = movesAt(i, useDeadband);
      if (!moving && gap[i]! > 0) held++;
      if (moving && gap[i]! > maxGap) maxGap = gap[i]!;
      const d = demand[i]!;
      if (d === 0) continue;
      for (let e = rowStart[i]!; e < rowStart[i + 1]!; e++) {
        const j = active[e]!;
        const idx = i * K + j;
        // A held source keeps its weights: what is pinned stays, the rest arrives by those weights.
        A[j]! += d * (moving || !pinned ? e0[idx]! : pinned[idx]! + steer[i]! * x0[idx]!);
        if (moving) B[j]! += d * (plan[idx]! - e0[idx]!);
      }
    }
    // Every remaining gap below the deadband (we only get here when holding them would leave an origin
    // above max): finish the move, it is smaller than max_shift anyway.
    const finishing = !useDeadband && maxGap < deadband;
    const alphaShift = maxGap > 0 ? Math.min(1, maxShift / maxGap, finishing ? 1 : gain) : 1;
    let alpha = alphaShift;
    let fits = true;
    let overMax = false;
    for (let j = 0; j < K; j++) {
      if (A[j]! + alpha * B[j]! <= ceiling[j]! * (1 + 1e-12)) continue;
      if (B[j]! < 0) alpha = Math.min(1, Math.max(alpha, (A[j]! - ceiling[j]!) / -B[j]!));
      if (A[j]! + alpha * B[j]! > ceiling[j]! * (1 + 1e-9)) fits = false;
    }
    for (let j = 0; j < K; j++) {
      if (A[j]! + alpha * B[j]! > maxRps[j]! * (1 + 1e-9) + 1e-9 && planLoad[j]! <= maxRps[j]! * (1 + 1e-9) + 1e-9) overMax = true;
    }
    return { alpha, alphaShift, maxGap, held, fits, overMax, A, B };
  };
  // The deadband never keeps an origin above its max (or its ceiling) that the plan would relieve.
  let r = solveAlpha(true);
  if ((!r.fits || r.overMax) && r.held > 0) r = solveAlpha(false);
  const useDeadband = r.held > 0 && r.fits && !r.overMax;
  const fraction = ownFractions(r, useDeadband);

  const weights = x0; // computed in place: each row reads its own x0 before writing it
  const next = pinned ? scratch.f64('damp.next', n * K) : undefined;
  let pinnedSources = 0;
  for (let i = 0; i < n; i++) {
    const moving = movesAt(i, useDeadband);
    // Everything pinned: new weights steer nothing this cycle; keep them.
    const steers = !pinned || steer[i]! > 1e-9;
    let sum = 0;
    let limited = false;
    for (let e = rowStart[i]!; e < rowStart[i + 1]!; e++) {
      const idx = i * K + active[e]!;
      let v = x0[idx]!;
      if (moving && steers) {
        const target = e0[idx]! + fraction[i]! * (plan[idx]! - e0[idx]!);
        v = pinned ? target - pinned[idx]! : target;
        if (v < -1e-12) limited = true;
      }
      if (v < 1e-12 || (moving && plan[idx]! === 0 && v < deadband)) v = 0;
      weights[idx] = v;
      sum += v;
    }
    if (limited) pinnedSources++;
    if (sum > 0 && sum !== 1) for (let e = rowStart[i]!; e < rowStart[i + 1]!; e++) weights[i * K + active[e]!]! /= sum;
    if (next) for (let e = rowStart[i]!; e < rowStart[i + 1]!; e++) next[i * K + active[e]!] = pinned![i * K + active[e]!]! + steer[i]! * weights[i * K + active[e]!]!;
  }
  /**
   * Each source's own fraction: at least the common one (r.alpha, which the capacity guard may have
   * raised), and as far as max_shift (or the band) lets *its* weights go. The common fraction is set
   * by the source with the longest way to go; the others need not crawl along with it — a subnet the
   * plan newly sends elsewhere (gap 1) would otherwise hold every subnet already walking to 5 % of its
   * remaining way per cycle. Kept only if no origin then ends above what the common fraction gives or
   * above its ceiling (the guarantee of step 2 holds either way); else the common fraction for all.
   */
  function ownFractions(common: ReturnType<typeof solveAlpha>, withDeadband: boolean): Float64Array {
    const frac = new Float64Array(n).fill(common.alpha);
    const load = Float64Array.from(common.A);
    for (let i = 0; i < n; i++) {
      const g = gap[i]!;
      if (!movesAt(i, withDeadband)) continue;
      const finishing = finishesAt(i, withDeadband);
      frac[i] = Math.max(common.alpha, Math.min(1, maxShift / g, finishing ? 1 : gain));
      const d = demand[i]!;
      for (let e = rowStart[i]!; e < rowStart[i + 1]!; e++) load[active[e]!]! += d * frac[i]! * (plan[i * K + active[e]!]! - e0[i * K + active[e]!]!);
    }
    for (let j = 0; j < K; j++) {
      const uniform = common.A[j]! + common.alpha * common.B[j]!;
      const worse = load[j]! > uniform * (1 + 1e-9) + 1e-9;
      if (worse && (load[j]! > ceiling[j]! * (1 + 1e-9) || load[j]! > maxRps[j]! * (1 + 1e-9) + 1e-9)) return frac.fill(common.alpha);
    }
    return frac;
  }

  // Cycles to the plan at this pace: linear at max_shift, then geometric at `gain` until the deadband.
  let remaining = (1 - r.alpha) * r.maxGap;
  let cycles = 0;
  while (remaining >= Math.max(deadband, 1e-9) && cycles < 10_000) {
    remaining -= Math.min(maxShift, gain * remaining);
    cycles++;
  }
  return {
    weights,
    next,
    pinnedSources,
    support: { start: rowStart, col: active },
    step: {
      fraction: r.alpha,
      limited_by: r.alpha > r.alphaShift ? 'capacity' : r.alpha >= 1 ? 'none' : 'max_shift',
      held_sources: useDeadband ? r.held : 0,
      cycles_to_plan: cycles,
    },
  };
}
