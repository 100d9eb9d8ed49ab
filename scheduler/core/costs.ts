// The cost matrix: one row per source, one column per destination origin.
//
// Latency of a pair: the learned RTT when there is one (finite, ≥ 0), else the great-circle estimate
// when both locations are known, else unknown — priced at max_latency_ms (usable, but last choice).
// Pairs above max_latency_ms are excluded (+∞), and so are banned pairs (a source that cannot reach
// that origin: edge-local reachability). A source left with no pair within the ceiling falls back to
// its nearest destination it may use rather than being dropped, and the decision says so; a banned
// pair is never a fallback (decide() lifts a source's bans before they could leave it nothing).
//
// Policy transforms: failover adds rank(priority)·B to every cost, with B larger than any latency
// saving, so a lower priority origin is used only once the higher ones are at target (the above-target
// penalty is larger still, so headroom is used only when every target is full, again by priority);
// latency stays the tie-break within one priority level.
import { DEFAULT_RTT_MODEL, estimateRttMs } from './geo.ts';
import type { DenseProblem } from './input.ts';
import { scratch } from './scratch.ts';
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

/** Distinct source locations whose estimates buildCosts keeps (× columns × 8 bytes: 13 MB at 200). */
const MAX_CACHED_LOCATIONS = 8192;

/**
 * One row per source, one column per destination; `originOf[c]` is column c's index among the declared
 * origins (the dense RTT rows). The arrays are scratch space (see scratch.ts): valid until the next call.
 */
export function buildCosts(problem: DenseProblem, columns: OriginState[], originOf: ArrayLike<number>, banned: Uint8Array | null = null): CostMatrix {
  const { settings, rtt, hasLocation, lat, lon } = problem;
  const n = problem.sourceIds.length;
  const K = columns.length;
  const declared = settings.origins.length;
  const ceiling = settings.max_latency_ms;
  const latency = scratch.f64('costs.latency', n * K);
  const cost = scratch.f64('costs.cost', n * K);
  const fallbacks: string[] = [];
  let estimated = 0;
  let unknown = 0;
  const model = settings.rtt_model ?? DEFAULT_RTT_MODEL;
  // Great-circle estimates per distinct source location, computed once: sources located by the same
  // CIDR mapping or city share one (1M subnets × 200 origins is ~25M estimates otherwise: 1.3 s).
  const estimates = new Map<string, Float64Array>();
  for (let i = 0; i < n; i++) {
    const row = i * K;
    let allowed = 0;
    let nearest = -1;
    let here: Float64Array | undefined;
    for (let j = 0; j < K; j++) {
      const ban = banned !== null && banned[i * declared + originOf[j]!] === 1;
      let ms = rtt[i * declared + originOf[j]!]!;
      if (!(ms >= 0) || ms === Infinity) {
        const o = columns[j]!;
        if (hasLocation[i] && o.location) {
          if (here === undefined) {
            const key = `${lat[i]},${lon[i]}`;
            here = estimates.get(key) ?? new Float64Array(K).fill(NaN);
            // Bounded: past MAX_CACHED_LOCATIONS, new locations are estimated without being kept.
            if (estimates.size < MAX_CACHED_LOCATIONS) estimates.set(key, here);
          }
          ms = here[j]!;
          if (Number.isNaN(ms)) ms = here[j] = estimateRttMs({ lat: lat[i]!, lon: lon[i]! }, o.location, model);
          estimated++;
        } else {
          ms = ceiling;
          unknown++;
        }
      }
      latency[row + j] = ms;
      const ok = ms <= ceiling && !ban;
      cost[row + j] = ok ? ms : Infinity;
      if (ok) allowed++;
      if (!ban && (nearest < 0 || ms < latency[row + nearest]!)) nearest = j;
    }
    if (allowed === 0 && nearest >= 0) {
      cost[row + nearest] = latency[row + nearest]!;
      fallbacks.push(problem.sourceIds[i]!);
    }
  }
  if (settings.policy === 'failover') applyPriorityRanks(cost, n, columns);
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
  for (let k = 0; k < values.length; k++) {
    const v = values[k]!;
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
