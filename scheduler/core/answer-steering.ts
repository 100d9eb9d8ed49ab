// Whole answers follow the walk: which DNS subnets flip, chosen rather than left to their points.
//
// A source answered whole (`pick`: a DNS subnet, answered by where its sticky point u falls on the
// cumulative line of its weights, origins in id order) sends all of its new connections to one
// origin. The damping walks its shares; its answer moves only when the shares pass u. Across the
// subnets of a group moving together, the answered load therefore runs ahead of or behind the walk by
// where their points happen to fall: in the keep-alive lab (40 subnets a group) up to 8 subnets'
// load stayed on the origin they were leaving, 3.4 cycles behind the law, whenever the random origin
// ids put that origin last on the line; when they put it first, up to 5 subnets left it in one cycle
// against the law's ~2.4 — load arriving on the origin joined faster than max_shift allows.
//
// Model: per origin o, the surplus X_o = Σ_i m_i ([a_i = o] − w_io) over the sources answered whole,
// a_i the answer the walk's weights w give, m_i the load the new weights steer (demand × (1 − what
// established connections pin)). Where X_o > 0 the answers hold more on o than the walk does. Two
// kinds of flip take a row answered o (X_o > 0) to an origin b with X_b < 0, cheapest first, while a
// flip makes Σ|X| smaller by at least 5 % of its load:
// - ahead (answers behind the walk): b is where the row's plan takes it (plan_ib > w_ib), o one it
//   is leaving (plan_io < w_io);
// - held back (answers ahead of the walk): b is the origin the row is answered now (the weights in
//   force), which the walk has just taken its answer off; taken only while the answers on b stay at or
//   below the walk's (X_b + m ≤ 0): a hold never puts more on the origin being left than the walk
//   does, so it approaches the walk from below there and from above on the origin joined.
// A flip mixes the row's weights towards b just enough that u falls in b's interval,
// w' = (1 − λ)w + λ·e_b with λ smallest (b's interval only widens with λ, so one formula gives it),
// which keeps the proportions of the rest. The cost of a flip is λ: the subnets nearest to flipping go
// first. Both kinds keep |answered − walk| per origin within about one subnet's load, both ways. A row
// stays held while the answers need it and no subnet nearer its boundary can take its place, so its
// published weights may trail its walk by a few cycles' steps (0.154 of a share, three steps, in the
// 40-subnet test); its walk, and so its pace, never trails.
//
// Invariants:
// - The walk is not slowed. A flip ahead is taken only when it does not take the row farther from its
//   plan (max_j |plan_ij − w'_ij| ≤ the row's distance before): without connection state the published
//   weights are where the next cycle's walk starts. A row is held back only where its walk is carried
//   apart from what is published (`walkApart`: connection state with effective shares — the damping
//   walks e, the decision carries e' = π + (1 − Σπ)·w computed *before* this step, connections.ts), so
//   the held row's widened distance to its plan is never seen by damping: its pace (max_shift over
//   max|x* − x⁰|, x⁰ the carried walk) and every other row's are what they would be unheld, every
//   origin's walked load is still the straight line L(α) = (1 − α)L(x⁰) + αL(x*), and the walk reaches
//   the plan in the same cycle. What a hold changes is which origin the row's new connections are
//   answered this cycle, i.e. how closely the answered load follows L(α). For the walk's surplus such a
//   row's walk share does not move with the flip (it is the carried e', not the published w'). Two
//   places still read the published weights: a row the deadband holds keeps publishing them (and
//   carries them as its walk: the deadband means "keep what is in force"), and the loop's re-reading of
//   a carried row when the answer survival changes (loop/answer-survival.ts reconcile) mixes them in by
//   1 − a/a′; both move a held row by at most its hold, never another row's pace.
// - Failover and the capacity guard are never held back: rows with shares freed by a health event (or
//   an override `now`) carry no in-force answer, an origin with no share left (removed) cannot be held
//   on, and a cycle whose pace the capacity guard raised (damping step 3) holds nothing (the caller
//   passes no `answerInForce`).
// - An origin gains load from a flip ahead only while the answers give it less than the walk does
//   (X_b < 0); from a hold only up to the walk's load on it (X_b + m ≤ 0). The load capped by damping's
//   capacity guard is the walk's, which the answers approach from below on the origin they move to.
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
  /** 1 for rows whose walk is carried apart from the published weights (effective shares): only those
   * may be held back, and their walk share does not move with a flip. Absent = none. */
  walkApart?: Uint8Array | undefined;
  /** Per row, the origin the weights in force answer it (−1: none, or not to be held: freed by a health
   * event). Absent = hold nothing (no connection state, or the capacity guard set this cycle's pace). */
  answerInForce?: Int32Array | undefined;
}

export interface AnswerSteering {
  flipped: number;
  /** Load (demand units) the flips moved from origins the answers held too much on. */
  movedLoad: number;
  /** Of those, the subnets held back on the origin they are answered now, and their load. */
  held: number;
  heldLoad: number;
  /** Σ_o max(0, X_o) before and after: the answered load above the walk's, over all origins. */
  surplusBefore: number;
  surplusAfter: number;
}

interface Candidate {
  row: number;
  from: number;
  to: number;
  lambda: number;
  hold: boolean;
}

export function steerWholeAnswers(input: AnswerSteeringInput): AnswerSteering {
  const { rows: n, cols: K, weights: w, plan, demand, pick, order, pinned, exact, walkApart, answerInForce } = input;
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
  const out: AnswerSteering = { flipped: 0, movedLoad: 0, held: 0, heldLoad: 0, surplusBefore: before, surplusAfter: before };
  if (!any || before <= 0) return out;

  const candidates: Candidate[] = [];
  for (let i = 0; i < n; i++) {
    const a = answer[i]!;
    if (a < 0 || !(surplus[a]! > 0) || (exact !== undefined && exact[i] === 1)) continue;
    const row = i * K;
    // Held back: the walk took the answer off the origin it is answered now, where the answers are
    // short of the walk (it still has a share there: not removed).
    const now = answerInForce !== undefined && walkApart !== undefined && walkApart[i] === 1 ? answerInForce[i]! : -1;
    if (now >= 0 && now !== a && surplus[now]! < 0 && w[row + now]! > 0) {
      const lambda = lambdaFor(w, row, order, now, pick[i]!);
      if (lambda !== null) candidates.push({ row: i, from: a, to: now, lambda, hold: true });
    }
    if (!(plan[row + a]! < w[row + a]!)) continue; // not leaving a: its answer is not behind the walk
    for (const b of order) {
      if (b === a || b === now || !(plan[row + b]! > w[row + b]!) || !(surplus[b]! < 0)) continue;
      const lambda = lambdaFor(w, row, order, b, pick[i]!);
      if (lambda !== null && !fartherFromPlan(w, plan, row, K, b, lambda)) candidates.push({ row: i, from: a, to: b, lambda, hold: false });
    }
  }
  candidates.sort((x, y) => x.lambda - y.lambda || x.row - y.row || x.to - y.to);
  const done = new Uint8Array(n);
  const next = new Float64Array(K);
  const change = new Float64Array(K);
  // A pair (from, to) whose cheapest remaining flip (of its kind) does not pay is done: the next ones sit farther from
  // their boundaries (a farther subnet could fit a small remainder better, but flips in order of their
  // points are what the walk itself would make next).
  const exhausted = new Set<number>();
  for (const c of candidates) {
    const pair = (c.from * K + c.to) * 2 + (c.hold ? 1 : 0);
    if (done[c.row] || exhausted.has(pair)) continue;
    const m = movable[c.row]!;
    const row = c.row * K;
    // The surplus is answered minus walk: the flip moves the answer, and the mix moves the row's walk
    // share (towards b) unless its walk is carried apart. Taken only while it brings the answered load
    // closer to the walk's overall.
    const walkMoves = walkApart === undefined || walkApart[c.row] !== 1;
    let gain = 0;
    for (let j = 0; j < K; j++) {
      next[j] = (1 - c.lambda) * w[row + j]! + (j === c.to ? c.lambda : 0);
      change[j] = (walkMoves ? -m * (next[j]! - w[row + j]!) : 0) + (j === c.from ? -m : j === c.to ? m : 0);
      if (change[j] !== 0) gain += Math.abs(surplus[j]!) - Math.abs(surplus[j]! + change[j]!);
    }
    // A flip churns a subnet's answer: worth it only for a real gain (5 % of its load), not a tie. A hold
    // never lifts the answers on the origin held on above the walk's (1e-9: rounding of equal loads).
    const overWalk = c.hold && surplus[c.to]! + change[c.to]! > 1e-9 * m;
    if (!(gain > 0.05 * m) || overWalk) {
      exhausted.add(pair);
      continue;
    }
    for (let j = 0; j < K; j++) {
      surplus[j]! += change[j]!;
      w[row + j] = next[j]!;
    }
    done[c.row] = 1;
    out.flipped++;
    out.movedLoad += m;
    if (c.hold) {
      out.held++;
      out.heldLoad += m;
    }
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
