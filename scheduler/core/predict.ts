// The next cycle's load per origin, as the data planes will really carry it: what established
// connections keep where they are over the cycle — measured (`pinned`: the connections open now and
// their ages), else modelled (S̄ · effective) — plus what is released and arrives on new connections by
// the new weights, all of a source answered whole (`pick`, a DNS subnet) to the one origin its answer
// names. Connections on an origin the new answer no longer names keep `answer_survival` of their share
// (clients that follow answers drop them: connections.ts); on the answered origin they stay. Pure; without connection state and sticky points it is just Σ demand × weights, with no copies.
import type { DenseProblem } from './input.ts';
import { answerSurvival, clamp01, rowTotal, shareIn } from './connections.ts';
import type { OriginRole } from './origins.ts';
import { scratch } from './scratch.ts';

export interface Prediction {
  /** Predicted mean share per (source, origin) over the next cycle (the weights themselves when nothing
   * is pinned; with `picked`, only for the sources it does not name). */
  share: Float64Array;
  /** Without connection state, sources answered whole: per source the origin all of it goes to, or −2 for
   * a source not answered whole (its `share` row holds), −1 for one with no origin. Spares a rows ×
   * origins array that would be one-hot in nearly every row (206 MB at 1M subnets). */
  picked?: Int32Array;
  /** Per origin: load on established connections over the next cycle. */
  pinnedLoad: Float64Array;
}

/** Origin indexes in id order: the order of a DNS answer's cumulative line (dns/answer/view-index.ts). */
export function pickOrder(ids: readonly string[]): number[] {
  return ids.map((_, j) => j).sort((a, b) => (ids[a]! < ids[b]! ? -1 : ids[a]! > ids[b]! ? 1 : 0));
}

/**
 * The origin a source answered whole sends its new connections to: among origins with a share, in id
 * order, the one whose interval of the cumulative line contains u (as sluice dns picks, hash.ts).
 */
export function pickOrigin(w: Float64Array, row: number, order: readonly number[], u: number): number {
  let total = 0;
  for (const j of order) if (w[row + j]! > 0) total += w[row + j]!;
  if (total <= 0) return -1;
  let acc = 0;
  let last = -1;
  for (const j of order) {
    const v = w[row + j]!;
    if (!(v > 0)) continue;
    acc += v / total;
    last = j;
    if (u < acc) return j;
  }
  return last;
}

export function predict(problem: DenseProblem, weights: Float64Array, roleOf: OriginRole[], originIds: readonly string[]): Prediction {
  const n = problem.sourceIds.length;
  const K = roleOf.length;
  const conn = problem.connections;
  const pick = problem.pick;
  const pinnedLoad = new Float64Array(K);
  if (!conn && !pick) return { share: weights, pinnedLoad };

  const order = pickOrder(originIds);
  if (!conn) {
    const picked = new Int32Array(n);
    for (let i = 0; i < n; i++) picked[i] = Number.isFinite(pick![i]!) ? pickOrigin(weights, i * K, order, pick![i]!) : -2;
    return { share: weights, picked, pinnedLoad };
  }
  const share = scratch.f64('predict.share', n * K);
  const arrivals = new Float64Array(K);
  for (let i = 0; i < n; i++) {
    const row = i * K;
    // Where new connections go: the weights, or all of them to the picked origin.
    const u = pick ? pick[i]! : NaN;
    const picked = Number.isFinite(u) ? pickOrigin(weights, row, order, u) : -2;
    for (let j = 0; j < K; j++) arrivals[j] = picked === -2 ? weights[row + j]! : j === picked ? 1 : 0;
    const pinnedShare = pinnedRow(problem, i, K, order, u);
    // Answered whole: what is pinned off the new answer stays only as far as connections outlive an
    // answer change; a fractional source's every share may see its answer change (as in the walk).
    const stays = answerSurvival(conn.answerSurvival[i]!);
    let pinned = 0;
    for (let j = 0; j < K; j++) {
      // A removed origin's connections break: nothing stays pinned there.
      const p = roleOf[j] === 'removed' ? 0 : (picked >= 0 && j === picked ? 1 : stays) * pinnedShare(j);
      share[row + j] = p;
      pinnedLoad[j]! += problem.demand[i]! * p;
      pinned += p;
    }
    for (let j = 0; j < K; j++) share[row + j]! += Math.max(0, 1 - pinned) * arrivals[j]!;
  }
  return { share, pinnedLoad };
}

/**
 * The share of source i's demand its established connections keep on origin j over the next cycle:
 * measured (`pinned.mean`) when given, else S̄ × where its load is — for a source answered whole, all of
 * it on the origin its answer in force names; else its effective shares, else the weights in force.
 *
 * Why whole: a DNS subnet the agents report no open connection for has one younger than their
 * `min_connection_age` (or none), opened by the answer in force. Its carried effective shares are the
 * walk's expectation — 0.9 near, 0.1 far while the answers are moving — but its connection is on one
 * origin: read as fractions, each subnet that had just reconnected after its answer moved was predicted
 * mostly where it had left (the keep-alive lab's early cycles: the far origin under-predicted by a
 * few subnets, up to 5 % of its load).
 */
function pinnedRow(problem: DenseProblem, i: number, K: number, order: readonly number[], pick: number): (j: number) => number {
  const conn = problem.connections!;
  const row = i * K;
  if (!Number.isNaN(conn.pinnedMean[row]!)) return (j) => clamp01(conn.pinnedMean[row + j]!);
  const meanSurvival = (j: number) => {
    const sEnd = clamp01(conn.survival[row + j]!);
    const m = conn.meanSurvival[row + j]!;
    return Number.isNaN(m) ? sEnd : Math.max(sEnd, clamp01(m));
  };
  if (Number.isFinite(pick)) {
    const answered = pickOrigin(weightsInForce(problem, i, K), 0, order, pick);
    if (answered >= 0) return (j) => (j === answered ? meanSurvival(j) : 0);
  }
  const effTotal = rowTotal(conn.effective, row, K);
  if (effTotal > 0) return (j) => meanSurvival(j) * shareIn(conn.effective, row + j, effTotal);
  const inForce = weightsInForce(problem, i, K);
  let total = 0;
  for (let j = 0; j < K; j++) total += inForce[j]!;
  return (j) => (total > 0 ? (meanSurvival(j) * inForce[j]!) / total : 0);
}

/** Source i's weights in force per declared origin (not normalised; undeclared origins left out). */
function weightsInForce(problem: DenseProblem, i: number, K: number): Float64Array {
  const { start, origin, share } = problem.current;
  const inForce = new Float64Array(K);
  for (let e = start[i]!; e < start[i + 1]!; e++) {
    const v = share[e]!;
    if (origin[e]! >= 0 && Number.isFinite(v) && v > 0) inForce[origin[e]!]! += v;
  }
  return inForce;
}
