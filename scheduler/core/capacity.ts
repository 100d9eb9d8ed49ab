// Capacity plan: the two tiers (cap1 free, cap2 hard) per destination column, per policy.
//
// latency, failover — cap1 = target_rps, cap2 = max_rps. If the demand cannot be placed within max
//   (total demand above total capacity, or latency ceilings leave some sources too few origins), the
//   overflow is spread in proportion to headroom (max − target): cap2 = max + θ·headroom with the
//   smallest θ that makes the plan feasible. Without ceilings that gives every origin exactly
//   max + overflow·headroom/Σheadroom; with ceilings it minimises the largest overflow/headroom ratio.
//   If no origin has headroom (target = max everywhere) the overflow is spread in proportion to max.
// balance — even utilisation first: cap = ρ·target with the smallest feasible ρ (all origins at the same
//   utilisation when nothing is excluded); above target, the headroom is shared evenly the same way
//   (cap = target + σ·headroom); above max, as for latency.
//
// Feasibility of a scale is a max-flow on allowed-set groups (solver/max-flow.ts); the smallest feasible
// scale is the closed form (D − Σbase)/Σweight when that is feasible, else found by bisection.
import { groupByAllowedSet, maxPlaceable, type FeasibilityGroups } from '../solver/max-flow.ts';
import type { OriginState, Policy } from './types.ts';

export interface CapacityPlan {
  cap1: Float64Array;
  cap2: Float64Array;
  /** Scale used for overflow beyond max (0 = none). */
  overflowScale: number;
  notes: string[];
  /** The adjust's limits could not all hold (the plan ignores them this cycle). */
  limitsRelaxed?: boolean;
}

/** Load placed outside the LP and limits on each column's total (see the header). */
export interface CapacityAdjust {
  fixed: Float64Array;
  limit: Float64Array;
}

/** Caps found by bisection are padded by this (relative) so the plan at the feasible boundary is not
 * lost to rounding; closed-form caps are exact. */
const PAD = 1e-12;

export function planCapacity(policy: Policy, columns: OriginState[], cost: Float64Array, demand: Float64Array, rows: number, adjust?: CapacityAdjust): CapacityPlan {
  if (adjust) {
    const plan = planWith(policy, columns, cost, demand, rows, adjust);
    if (plan) return plan;
    const relaxed = planWith(policy, columns, cost, demand, rows, { fixed: adjust.fixed, limit: new Float64Array(columns.length).fill(Infinity) })!;
    return { ...relaxed, limitsRelaxed: true };
  }
  return planWith(policy, columns, cost, demand, rows, undefined)!;
}

/** The plan with these adjustments, or null when its limits leave no feasible scale. */
function planWith(policy: Policy, columns: OriginState[], cost: Float64Array, demand: Float64Array, rows: number, adjust: CapacityAdjust | undefined): CapacityPlan | null {
  const K = columns.length;
  const lp = (total: Float64Array): Float64Array => (adjust ? Float64Array.from(total, (t, j) => Math.max(0, Math.min(t, adjust.limit[j]!) - adjust.fixed[j]!)) : total);
  const limited = adjust !== undefined && adjust.limit.some((l) => l !== Infinity);
  const groups = groupByAllowedSet(cost, demand, rows, K);
  const D = groups.demand.reduce((a, b) => a + b, 0);
  const target = Float64Array.from(columns, (o) => o.target_rps);
  const max = Float64Array.from(columns, (o) => o.max_rps);
  const headroom = Float64Array.from(columns, (o) => (Number.isFinite(o.max_rps) ? o.max_rps - o.target_rps : 0));
  const notes: string[] = [];

  const overflowPlan = (): CapacityPlan | null => {
    let w = headroom;
    let theta = minimalScale(groups, D, max, w, adjust);
    if (theta === Infinity) {
      w = Float64Array.from(max, (m) => (Number.isFinite(m) ? m : 0));
      theta = minimalScale(groups, D, max, w, adjust);
    }
    if (theta === Infinity && limited) return null;
    const cap2 = theta === Infinity ? new Float64Array(K).fill(Infinity) : Float64Array.from(max, (m, j) => (theta > 0 ? pad(m + theta * w[j]!) : m));
    if (theta > 0) {
      const spread = w === headroom ? 'headroom (max − target)' : 'max (no origin has headroom)';
      notes.push(`demand ${round(D + sum(adjust?.fixed))} rps cannot be placed within max_rps: overflow spread over origins in proportion to ${spread}`);
    }
    return { cap1: lp(target), cap2: lp(cap2), overflowScale: theta, notes };
  };

  if (policy === 'balance') {
    const unlimited = Float64Array.from(target, (t) => (Number.isFinite(t) ? 0 : Infinity));
    const finiteTarget = Float64Array.from(target, (t) => (Number.isFinite(t) ? t : 0));
    const rho = minimalScale(groups, D, unlimited, finiteTarget, adjust);
    if (rho <= 1) {
      const cap = Float64Array.from(target, (t) => (Number.isFinite(t) ? pad(rho * t) : Infinity));
      return { cap1: lp(cap), cap2: lp(cap), overflowScale: 0, notes };
    }
    const sigma = minimalScale(groups, D, target, headroom, adjust);
    if (sigma <= 1) {
      const cap = Float64Array.from(target, (t, j) => pad(t + sigma * headroom[j]!));
      notes.push('demand above total target: headroom shared evenly (same fraction of max − target everywhere)');
      return { cap1: lp(cap), cap2: lp(cap), overflowScale: 0, notes };
    }
  }
  return overflowPlan();
}

function sum(a: Float64Array | undefined): number {
  let s = 0;
  if (a) for (const x of a) s += x;
  return s;
}

/**
 * Smallest t ≥ 0 such that all demand fits in base + t·weight; Infinity if no t does. With `adjust`,
 * base + t·weight is each column's total: the LP rows get max(0, min(total, limit) − fixed).
 */
export function minimalScale(groups: FeasibilityGroups, D: number, base: Float64Array, weight: Float64Array, adjust?: CapacityAdjust): number {
  if (D <= 0) return 0;
  const feasible = (t: number): boolean => {
    const caps = Float64Array.from(base, (b, j) => (adjust ? Math.max(0, Math.min(b + t * weight[j]!, adjust.limit[j]!) - adjust.fixed[j]!) : b + t * weight[j]!));
    return maxPlaceable(groups, caps) >= D * (1 - 1e-12);
  };
  let sumBase = 0;
  let sumWeight = 0;
  for (let j = 0; j < base.length; j++) {
    sumBase += base[j]!;
    sumWeight += weight[j]!;
  }
  const total = D + sum(adjust?.fixed);
  const t0 = sumBase >= total ? 0 : sumWeight > 0 ? (total - sumBase) / sumWeight : Infinity;
  if (t0 === Infinity) return feasible(0) ? 0 : Infinity;
  if (feasible(t0)) return t0;
  let lo = t0;
  let hi = Math.max(t0 * 2, 1e-6);
  while (!feasible(hi)) {
    lo = hi;
    hi *= 2;
    if (hi > 1e15) return Infinity;
  }
  for (let k = 0; k < 100 && hi - lo > hi * 1e-13; k++) {
    const mid = (lo + hi) / 2;
    if (feasible(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

function pad(x: number): number {
  return x * (1 + PAD);
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
