// Whole answers follow the walk: which DNS subnets flip, chosen rather than left to their points.
//
// A source answered whole (`pick`: a DNS subnet, answered by where its sticky point u falls on the
// cumulative line of its weights, origins in id order) sends all of its new connections to one
// origin. The damping walks its shares; its answer moves only when the shares pass u. Across the
// subnets of a group moving together, the answered load therefore runs ahead of or behind the walk by
// where their points happen to fall: in the keep-alive lab (40 subnets a group) up to 8 subnets'
// load stayed on the origin they were leaving, 3.4 cycles behind the law, whenever the random origin
// ids put that origin last on the line.
//
// Model: per origin o, the surplus X_o = Σ_i m_i ([a_i = o] − w_io) over the sources answered whole,
// a_i the answer the walk's weights w give, m_i the load the new weights steer (demand × (1 − what
// established connections pin)). Where X_o > 0 the answers hold more on o than the walk does; the
// sources answered o whose plan takes them off o and onto some b (plan_ib > w_ib) with X_b < 0 are
// flipped to b, cheapest first, while a flip makes Σ|X| smaller by at least 5 % of its load. A flip mixes the row's
// weights towards b just enough that u falls in b's interval, w' = (1 − λ)w + λ·e_b with λ smallest
// (b's interval only widens with λ, so one formula gives it), which keeps the proportions of the rest.
// The cost of a flip is λ: the subnets nearest to flipping go first.
//
// Invariants:
// - Only ahead of the walk, never back: a flip is taken only when it does not take the row farther
//   from its plan (max_j |plan_ij − w'_ij| ≤ the row's distance before), so the damping's one pace for
//   all sources (damping.ts) is not slowed by it next cycle. Answers that run *ahead* of the walk are
//   left as they are: holding them back would.
// - An origin gains load from a flip only while the answers give it less than the walk does (X_b < 0);
//   the load capped by damping's capacity guard is the walk's, which this step approaches from below.
// - Rows an override fixes exactly (`exact`) are never changed. Sources not answered whole are untouched.
// - Pure and deterministic: ties by row index.
import { pickOrigin } from './predict.ts';

export interface AnswerSteeringInput {
  rows: number;
  cols: number;
  /** The walk's weights (rows × cols, rows normalised): changed in place for the flipped rows. */
  weights: Float64Array;
  /** Where each row walks to (rows × cols). */
  plan: Float64Array;
  demand: Float64Array;
  /** Sticky point per row, NaN for rows not answered whole. */
  pick: Float64Array;
  /** Origin indexes in id order (pickOrder). */
  order: readonly number[];
  /** Share per (row, origin) established connections keep over the cycle; absent without connection state. */
  pinned?: Float64Array | undefined;
  exact?: Uint8Array | undefined;
}

export interface AnswerSteering {
  flipped: number;
  /** Load (demand units) the flips moved from origins the answers held too much on. */
  movedLoad: number;
  /** Σ_o max(0, X_o) before and after: the answered load above the walk's, over all origins. */
  surplusBefore: number;
  surplusAfter: number;
}

interface Candidate {
  row: number;
  from: number;
  to: number;
  lambda: number;
}

export function steerWholeAnswers(input: AnswerSteeringInput): AnswerSteering {
  const { rows: n, cols: K, weights: w, plan, demand, pick, order, pinned, exact } = input;
  const surplus = new Float64Array(K);
  const answer = new Int32Array(n).fill(-1);
  const movable = new Float64Array(n);
  let any = false;
  for (let i = 0; i < n; i++) {
    const u = pick[i]!;
    if (!Number.isFinite(u)) continue;
    const row = i * K;
    const a = pickOrigin(w, row, order, u);
    if (a < 0) continue;
    let held = 0;
    if (pinned) for (let j = 0; j < K; j++) held += pinned[row + j]!;
    const m = demand[i]! * Math.max(0, 1 - held);
    if (!(m > 0)) continue;
    answer[i] = a;
    movable[i] = m;
    surplus[a]! += m;
    for (let j = 0; j < K; j++) surplus[j]! -= m * w[row + j]!;
    any = true;
  }
  const before = positiveSum(surplus);
  const out: AnswerSteering = { flipped: 0, movedLoad: 0, surplusBefore: before, surplusAfter: before };
  if (!any || before <= 0) return out;

  const candidates: Candidate[] = [];
  for (let i = 0; i < n; i++) {
    const a = answer[i]!;
    if (a < 0 || !(surplus[a]! > 0) || (exact !== undefined && exact[i] === 1)) continue;
    const row = i * K;
    if (!(plan[row + a]! < w[row + a]!)) continue; // not leaving a: its answer is not behind the walk
    for (const b of order) {
      if (b === a || !(plan[row + b]! > w[row + b]!) || !(surplus[b]! < 0)) continue;
      const lambda = lambdaFor(w, row, order, b, pick[i]!);
      if (lambda !== null && !fartherFromPlan(w, plan, row, K, b, lambda)) candidates.push({ row: i, from: a, to: b, lambda });
    }
  }
  candidates.sort((x, y) => x.lambda - y.lambda || x.row - y.row);
  const done = new Uint8Array(n);
  const next = new Float64Array(K);
  const change = new Float64Array(K);
  // A pair (from, to) whose cheapest remaining flip does not pay is done: the next ones sit farther from
  // their boundaries (a farther subnet could fit a small remainder better, but flips in order of their
  // points are what the walk itself would make next).
  const exhausted = new Set<number>();
  for (const c of candidates) {
    if (done[c.row] || exhausted.has(c.from * K + c.to)) continue;
    const m = movable[c.row]!;
    const row = c.row * K;
    // The surplus is answered minus walk: the flip moves the answer, and the mix moves the row's walk
    // share (towards b). Taken only while it brings the answered load closer to the walk's overall.
    let gain = 0;
    for (let j = 0; j < K; j++) {
      next[j] = (1 - c.lambda) * w[row + j]! + (j === c.to ? c.lambda : 0);
      change[j] = -m * (next[j]! - w[row + j]!) + (j === c.from ? -m : j === c.to ? m : 0);
      if (change[j] !== 0) gain += Math.abs(surplus[j]!) - Math.abs(surplus[j]! + change[j]!);
    }
    // A flip churns a subnet's answer: worth it only for a real gain (5 % of its load), not a tie.
    if (!(gain > 0.05 * m)) {
      exhausted.add(c.from * K + c.to);
      continue;
    }
    for (let j = 0; j < K; j++) {
      surplus[j]! += change[j]!;
      w[row + j] = next[j]!;
    }
    done[c.row] = 1;
    out.flipped++;
    out.movedLoad += m;
  }
  out.surplusAfter = positiveSum(surplus);
  return out;
}

function positiveSum(x: Float64Array): number {
  let s = 0;
  for (const v of x) if (v > 0) s += v;
  return s;
}

/**
 * The smallest λ for which u falls in b's interval of (1 − λ)w + λe_b (a margin more, so that the
 * rounded weights the DNS server sums land inside too), or null when it cannot without taking b's whole line.
 * With S the (normalised) weight before b and W b's own, b's interval is [(1 − λ)S, (1 − λ)(S + W) + λ).
 */
function lambdaFor(w: Float64Array, row: number, order: readonly number[], b: number, u: number): number | null {
  let total = 0;
  for (const j of order) if (w[row + j]! > 0) total += w[row + j]!;
  if (!(total > 0)) return null;
  let before = 0;
  for (const j of order) {
    if (j === b) break;
    if (w[row + j]! > 0) before += w[row + j]! / total;
  }
  const S = before;
  const E = S + Math.max(0, w[row + b]!) / total;
  // Published weights are rounded to 1e-6 (scheduler/loop/problem.ts) and the DNS server sums them
  // again: land well inside the interval.
  const MARGIN = 1e-4;
  let lambda: number;
  if (u < S) lambda = 1 - (u - MARGIN) / S;
  else if (u >= E) lambda = (u + MARGIN - E) / (1 - E);
  else return 0;
  return lambda > 0 && lambda < 1 ? lambda : null;
}

/** Whether mixing λ towards b takes the row farther from its plan (the largest per-origin distance). */
function fartherFromPlan(w: Float64Array, plan: Float64Array, row: number, K: number, b: number, lambda: number): boolean {
  let now = 0;
  let then = 0;
  for (let j = 0; j < K; j++) {
    const p = plan[row + j]!;
    const v = w[row + j]!;
    now = Math.max(now, Math.abs(p - v));
    then = Math.max(then, Math.abs(p - ((1 - lambda) * v + (j === b ? lambda : 0))));
  }
  return then > now + 1e-12;
}
