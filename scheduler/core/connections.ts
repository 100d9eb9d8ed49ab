// What is in force, and what established connections hold in place: the phase between the plan and the
// damping.
//
// A weight change (a DNS answer, an HAProxy or IPVS weight) steers *new* connections; established ones
// keep loading their origin until they close. Per source and origin, with the effective share e (where
// its load is now) and S(Δ) the fraction of that load still on its connections at the end of the next
// cycle, the load there at the end of the cycle is
//
//     e'_o = π_o + (1 − Σπ) · w_o,        π_o = S_o(Δ) · e_o   ("pinned")
//
// where w are the new weights: what is released (connections that close, and all of the share on an
// origin that is removed — its connections break) arrives on new connections by the new weights. The
// damping walks e, not w (damping.ts): it picks the target e' on its straight line towards the plan and
// sets w = (e' − π)⁺ / (1 − Σπ), so the *load* moves at max_shift per cycle even when most of it is
// pinned; a target that would need more to leave an origin than its connections release is the most
// that can leave (the source lags, and the decision says so). With no connection state (S = 0, e = the
// weights in force) this is exactly the weight walk of a per-request data plane.
//
// The prediction (predict.ts) uses what is measured where it can: `pinned`, the share the source's
// connections open now will keep on each origin given their ages (the agents' survivors). A source
// answered whole (a DNS subnet, `pick`) has its load in whole connections while the damping walks its
// expected shares; the measurement says where they really are.
//
// Clients that follow answers. S(Δ) says how long connections live, not whether they outlive a change
// of answer: a browser keeps its connection to the old answer, a client that resolves before every
// request drops it and reconnects to the new one. `answer_survival` a ∈ [0, 1] (learned from what the
// agents saw happen to connections after their subnet's answer moved: loop/answer-survival.ts) is the
// fraction of the pinned share that does stay: the walk uses π_o = a · S_o(Δ) · e_o (with a = 0 the walk
// is the plain weight walk, exact for such clients: their load is where the answers are), and the
// prediction keeps a source's measured pinned share whole only on the origin its new answer still
// names, a of it elsewhere.
import type { DenseProblem } from './input.ts';
import type { OriginRole } from './origins.ts';
import { scratch } from './scratch.ts';

export interface InForce {
  /** Normalised weights in force on destination and draining origins (rows × declared origins), the
   * draining ones already released by max_shift. */
  kept: Float64Array;
  /** Share per source that was on removed or undeclared origins (1 for a new source). */
  freed: Float64Array;
  /** Effective shares the damping walks from, on kept origins (released like `kept`); = kept without connection state. */
  keptEffective: Float64Array;
  /** 1 − Σ keptEffective per source. */
  freedEffective: Float64Array;
  /** π: pinned share per (source, origin) at the end of the next cycle, from the effective shares;
   * empty without connection state (nothing is pinned: no sources × origins array of zeros). */
  pinned: Float64Array;
  /** Demand that was on removed (declared) origins: a health event. */
  freedByHealth: number;
  drainShare: number;
  /** Whether any source has connection state. */
  hasConnections: boolean;
  /** Per source, 1 where the damping walks effective shares that were given (carried or measured), not the
   * weights in force: its walk is apart from the published weights (answer-steering.ts). Absent without connection state. */
  effectiveGiven?: Uint8Array;
}

/**
 * The weights in force split into kept and freed, and the connection state on top of them. `banned`:
 * pairs a source may not use (edge-local reachability): freed like an unhealthy origin's share, and
 * its connections there count as broken.
 */
export function splitInForce(problem: DenseProblem, roleOf: OriginRole[], banned: Uint8Array | null = null): InForce {
  const { settings, demand, current } = problem;
  const n = problem.sourceIds.length;
  const K = roleOf.length;
  const kept = scratch.f64('decide.kept', n * K);
  const freed = new Float64Array(n);
  let freedByHealth = 0;
  let drainShare = 0;
  const { start, origin, share: given } = current;
  for (let i = 0; i < n; i++) {
    const first = start[i]!;
    const end = start[i + 1]!;
    let total = 0;
    for (let e = first; e < end; e++) {
      const v = given[e]!;
      if (Number.isFinite(v) && v > 0) total += v;
    }
    if (!current.has[i] || total <= 0) {
      freed[i] = 1;
      continue;
    }
    let keptSum = 0;
    for (let e = first; e < end; e++) {
      const v = given[e]!;
      if (!(Number.isFinite(v) && v > 0)) continue;
      const j = origin[e]!;
      const role = j < 0 || (banned !== null && banned[i * K + j] === 1) ? 'removed' : roleOf[j]!;
      if (role === 'removed') {
        if (j >= 0) freedByHealth += (v / total) * demand[i]!;
        continue;
      }
      let share = v / total;
      if (role === 'draining') {
        // Draining: released at max_shift per cycle (exactly linear), re-planned like a freed share.
        drainShare += share;
        share = release(share, settings.max_shift, settings.deadband);
      }
      kept[i * K + j] = share;
      keptSum += share;
    }
    freed[i] = Math.max(0, 1 - keptSum);
  }
  const conn = problem.connections;
  if (!conn) return { kept, freed, keptEffective: kept, freedEffective: freed, pinned: new Float64Array(0), freedByHealth, drainShare, hasConnections: false };

  // Effective shares (where the load is) on kept origins; the weights' split where none is given.
  const keptEffective = scratch.f64('conn.keptEffective', n * K);
  const freedEffective = new Float64Array(n);
  const pinned = scratch.f64('conn.pinned', n * K);
  const effectiveGiven = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const row = i * K;
    const stays = answerSurvival(conn.answerSurvival[i]!);
    const total = rowTotal(conn.effective, row, K);
    if (total === 0) {
      for (let j = 0; j < K; j++) keptEffective[row + j] = kept[row + j]!;
      freedEffective[i] = freed[i]!;
    } else {
      effectiveGiven[i] = 1;
      let sum = 0;
      for (let j = 0; j < K; j++) {
        if (roleOf[j] === 'removed' || (banned !== null && banned[row + j] === 1)) continue;
        const e = shareIn(conn.effective, row + j, total);
        pinned[row + j] = stays * clamp01(conn.survival[row + j]!) * e;
        const share = roleOf[j] === 'draining' ? release(e, settings.max_shift, settings.deadband) : e;
        keptEffective[row + j] = share;
        sum += share;
      }
      freedEffective[i] = Math.max(0, 1 - sum);
      continue;
    }
    for (let j = 0; j < K; j++) if (roleOf[j] !== 'removed' && !(banned !== null && banned[row + j] === 1)) pinned[row + j] = stays * clamp01(conn.survival[row + j]!) * kept[row + j]!;
  }
  return { kept, freed, keptEffective, freedEffective, pinned, freedByHealth, drainShare, hasConnections: true, effectiveGiven };
}

/** A draining share after this cycle's release (max_shift; below the deadband it is gone). */
function release(share: number, maxShift: number, deadband: number): number {
  const left = Math.max(0, share - maxShift);
  return left < deadband ? 0 : left;
}

/**
 * Σ of a source's given shares over all declared origins (removed ones included: their share is what
 * breaks); 0 when none were given (a NaN row) — then the caller falls back. shareIn() normalises by it.
 */
export function rowTotal(m: Float64Array, row: number, K: number): number {
  if (Number.isNaN(m[row]!)) return 0;
  let total = 0;
  for (let j = 0; j < K; j++) {
    const v = m[row + j]!;
    if (Number.isFinite(v) && v > 0) total += v;
  }
  return total;
}

export function shareIn(m: Float64Array, idx: number, total: number): number {
  const v = m[idx]!;
  return Number.isFinite(v) && v > 0 ? v / total : 0;
}

/** SourceConnections.answer_survival as given (NaN: not given = 1, connections outlive answer changes). */
export function answerSurvival(a: number): number {
  return Number.isNaN(a) ? 1 : clamp01(a);
}

export function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}
