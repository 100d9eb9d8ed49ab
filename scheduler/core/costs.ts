// The cost matrix: one row per source, one column per destination origin.
//
// Latency of a pair: the learned RTT when there is one (finite, ≥ 0), else the great-circle estimate
// when both locations are known, else unknown — priced at max_latency_ms (usable, but last choice).
// Pairs above max_latency_ms are excluded (+∞). A source left with no pair at all falls back to its
// nearest destination rather than being dropped, and the decision says so.
//
// Policy transforms: failover adds rank(priority)·B to every cost, with B larger than any latency
// saving, so a lower priority origin is used only once the higher ones are at target (the above-target
// penalty is larger still, so headroom is used only when every target is full, again by priority);
// latency stays the tie-break within one priority level.
import { DEFAULT_RTT_MODEL, estimateRttMs } from './geo.ts';
import type { OriginState, SchedulingProblem, SourceState } from './types.ts';

export interface CostMatrix {
  rows: number;
  cols: number;
  /** Latency (ms) per pair used for the reported objective; unknown → max_latency_ms. */
  latency: Float64Array;
  /** Solver cost per pair (+∞ excluded). */
  cost: Float64Array;
  /** Sources that fell back to their nearest origin (every pair above the ceiling). */
  fallbacks: string[];
  /** Pairs whose latency was estimated from geography / unknown. */
  estimated: number;
  unknown: number;
}

export function latencyOf(problem: SchedulingProblem, s: SourceState, o: OriginState): { ms: number; kind: 'learned' | 'estimated' | 'unknown' } {
  const learned = s.rtt_ms[o.id];
  if (learned !== undefined && Number.isFinite(learned) && learned >= 0) return { ms: learned, kind: 'learned' };
  if (s.location && o.location) return { ms: estimateRttMs(s.location, o.location, problem.rtt_model ?? DEFAULT_RTT_MODEL), kind: 'estimated' };
  return { ms: problem.max_latency_ms, kind: 'unknown' };
}

export function buildCosts(problem: SchedulingProblem, columns: OriginState[]): CostMatrix {
  const n = problem.sources.length;
  const K = columns.length;
  const latency = new Float64Array(n * K);
  const cost = new Float64Array(n * K);
  const fallbacks: string[] = [];
  let estimated = 0;
  let unknown = 0;
  const model = problem.rtt_model ?? DEFAULT_RTT_MODEL;
  const colOf = new Map(columns.map((o, j) => [o.id, j]));
  // Reading 2M RTTs by key is slow (megamorphic keyed loads); sources built the same way share their
  // key order, so map key positions to columns once per distinct key list and read values by position.
  let lastKeys: string[] = [];
  let position = new Int32Array(0);
  for (let i = 0; i < n; i++) {
    const s = problem.sources[i]!;
    const keys = Object.keys(s.rtt_ms);
    let same = keys.length === lastKeys.length;
    for (let t = 0; same && t < keys.length; t++) same = keys[t] === lastKeys[t];
    if (!same) {
      lastKeys = keys;
      position = Int32Array.from(keys, (k) => colOf.get(k) ?? -1);
    }
    const values = Object.values(s.rtt_ms);
    latency.fill(NaN, i * K, i * K + K);
    for (let t = 0; t < values.length; t++) {
      const j = position[t]!;
      if (j >= 0) latency[i * K + j] = values[t]!;
    }
    let allowed = 0;
    let nearest = 0;
    for (let j = 0; j < K; j++) {
      let ms = latency[i * K + j]!;
      if (!(ms >= 0) || ms === Infinity) {
        const o = columns[j]!;
        if (s.location && o.location) {
          ms = estimateRttMs(s.location, o.location, model);
          estimated++;
        } else {
          ms = problem.max_latency_ms;
          unknown++;
        }
        latency[i * K + j] = ms;
      }
      const ok = ms <= problem.max_latency_ms;
      cost[i * K + j] = ok ? ms : Infinity;
      if (ok) allowed++;
      if (ms < latency[i * K + nearest]!) nearest = j;
    }
    if (allowed === 0 && K > 0) {
      cost[i * K + nearest] = latency[i * K + nearest]!;
      fallbacks.push(s.id);
    }
  }
  if (problem.policy === 'failover') applyPriorityRanks(cost, n, columns);
  return { rows: n, cols: K, latency, cost, fallbacks, estimated, unknown };
}

function applyPriorityRanks(cost: Float64Array, n: number, columns: OriginState[]): void {
  const K = columns.length;
  const levels = [...new Set(columns.map((o) => o.priority))].sort((a, b) => a - b);
  const rank = columns.map((o) => levels.indexOf(o.priority));
  const { min, max } = finiteRange(cost);
  const step = (max - min + 1) * (K + 1);
  for (let i = 0; i < n; i++) for (let j = 0; j < K; j++) cost[i * K + j]! += rank[j]! * step;
}

export function finiteRange(values: Float64Array): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (v === Infinity) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return min === Infinity ? { min: 0, max: 0 } : { min, max };
}

/** Above-target penalty: larger than any latency a chain of up to K exchanges can save. */
export function aboveTargetPenalty(cost: Float64Array, cols: number): number {
  const { min, max } = finiteRange(cost);
  return (max - min + 1) * (cols + 1);
}
