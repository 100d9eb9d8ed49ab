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
// a_i the row's answer, m_i the load the new weights steer (demand × (1 − what established connections
// pin)). Where X_o > 0 the answers hold more on o than the walk does.
// Hysteresis (each answer moves once per plan move): a row whose walk is carried apart from the
// published weights (`walkApart`, below) STARTS from the answer in force (`answerInForce`, decide.ts
// answersInForce), not from the fresh walk's answer, while the walk still gives that origin a share.
// Without it a flip ahead lasted one cycle: the decision carries the walk e′ computed before steering,
// so the next cycle's walk alone fell short of the point and, unless the surplus test flipped it again,
// the answer went back — 3–5 changes for one subnet in the dns-failover lab's recovery. Kept that way,
// a row flipped ahead stays flipped while the walk catches up (the walk moves towards its answer, so
// X on it only falls), and a row held back stays on the origin being left until the surplus test
// releases it (the walk moves away, so X there only rises): either way its answer changes once.
// Moves from the starting answers, cheapest first, while a move makes Σ|X| smaller by at least 5 % of
// the row's load (the surplus test):
// - release (a kept row to the walk's own answer), farthest past its point first (cost −λ_keep):
//   with the plan (a hold on an origin the walk leaves) whenever the answers there exceed the walk's
//   (X_c > 0: a hold never puts more on the origin being left than the walk does); against the
//   plan (a flip ahead undone) only while the origin it leaves stays at or above the walk without it
//   (X_c − m ≥ 0, a whole subnet's surplus) — a smaller surplus the walk's next step removes itself, and
//   undoing it would be undone again (flapping);
// - flip ahead (answers behind the walk): from c, an origin the row's plan is leaving (plan_ic < w_ic,
//   X_c > 0), to b where its plan takes it (plan_ib > w_ib, X_b < 0).
// A row published on an answer b other than its walk's mixes its weights towards b just enough that u
// falls in b's interval, w' = (1 − λ)w + λ·e_b with λ smallest (b's interval only widens with λ, so one
// formula gives it), which keeps the proportions of the rest; λ is also a flip's cost: the subnets
// nearest to flipping go first. Both kinds keep |answered − walk| per origin within about one subnet's
// load both ways. A held row's published weights may trail its walk by a few cycles' steps (0.154 of a
// share, three steps, in the 40-subnet test); its walk, and so its pace, never trails.
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
//   (X_b < 0); from a hold only up to the walk's load on it (holds are released while X_c > 0). A flip
//   ahead kept is undone only for a whole subnet's surplus, so answers on the origin joined may stay up
//   to one subnet above the walk's there until it catches up. The load capped by damping's
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
  /** Subnets published on an answer other than the walk's (flipped ahead, kept ahead, held back), and their load. */
  flipped: number;
  movedLoad: number;
  /** Of those, the subnets held back on the origin the walk is leaving (answered there now), and their load. */
  held: number;
  heldLoad: number;
  /** Of the flipped, those left on the answer in force (flipped or held in an earlier cycle), not moved this cycle. */
  kept: number;
  /** Σ_o max(0, X_o) with the walk's own answers, and after the steering: the answered load above the walk's. */
  surplusBefore: number;
  surplusAfter: number;
}

interface Candidate {
  row: number;
  from: number;
  to: number;
  /** Order: a release (to the walk's own answer) costs −(the mix that would keep it), a flip ahead its mix λ. */
  cost: number;
  lambda: number;
  /** A release of a row kept ahead back to the walk's answer: against the plan, so only for a whole subnet's surplus. */
  back: boolean;
}

export function steerWholeAnswers(input: AnswerSteeringInput): AnswerSteering {
  const { rows: n, cols: K, weights: w, plan, demand, pick, order, pinned, exact, walkApart, answerInForce } = input;
  const surplus = new Float64Array(K);
  const walkSurplus = new Float64Array(K);
  // Per row: the answer it starts from (the one in force where it is kept, else the walk's), the walk's
  // own answer, and for a kept row the mix towards its answer in force that keeps it there.
  const answer = new Int32Array(n).fill(-1);
  const walkAnswer = new Int32Array(n).fill(-1);
  const keep = new Float64Array(n);
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
    // Hysteresis: a row whose walk is carried apart stays on the answer in force while the walk still
    // gives that origin a share (a removed or left origin is not kept on); the surplus test below moves it.
    let c = a;
    const now = answerInForce !== undefined && walkApart !== undefined && walkApart[i] === 1 && (exact === undefined || exact[i] !== 1) ? answerInForce[i]! : -1;
    if (now >= 0 && now !== a && w[row + now]! > 0) {
      const lambda = lambdaFor(w, row, order, now, u);
      if (lambda !== null) {
        c = now;
        keep[i] = lambda;
      }
    }
    answer[i] = c;
    walkAnswer[i] = a;
    movable[i] = m;
    surplus[c]! += m;
    walkSurplus[a]! += m;
    for (let j = 0; j < K; j++) {
      surplus[j]! -= m * w[row + j]!;
      walkSurplus[j]! -= m * w[row + j]!;
    }
    any = true;
  }
  const before = positiveSum(walkSurplus);
  const out: AnswerSteering = { flipped: 0, movedLoad: 0, held: 0, heldLoad: 0, kept: 0, surplusBefore: before, surplusAfter: before };
  if (!any) return out;

  const candidates: Candidate[] = [];
  for (let i = 0; i < n; i++) {
    const c = answer[i]!;
    if (c < 0 || !(surplus[c]! > 0) || (exact !== undefined && exact[i] === 1)) continue;
    const row = i * K;
    const a = walkAnswer[i]!;
    // A kept row may go back to the walk's answer: with the plan (a hold released: the walk left c), or
    // against it (a flip ahead undone: only for a whole subnet's surplus, below).
    if (c !== a) candidates.push({ row: i, from: c, to: a, cost: -keep[i]!, lambda: 0, back: !(plan[row + c]! < w[row + c]!) });
    if (!(plan[row + c]! < w[row + c]!)) continue; // not leaving c: its answer is not behind the walk
    for (const b of order) {
      if (b === c || b === a || !(plan[row + b]! > w[row + b]!) || !(surplus[b]! < 0)) continue;
      const lambda = lambdaFor(w, row, order, b, pick[i]!);
      if (lambda !== null && !fartherFromPlan(w, plan, row, K, b, lambda)) candidates.push({ row: i, from: c, to: b, cost: lambda, lambda, back: false });
    }
  }
  candidates.sort((x, y) => x.cost - y.cost || x.row - y.row || x.to - y.to);
  const target = Int32Array.from(answer);
  const lambdaOf = Float64Array.from(keep);
  const next = new Float64Array(K);
  const change = new Float64Array(K);
  // A pair (from, to) whose cheapest remaining move (of its kind) does not pay is done: the next ones sit farther from
  // their boundaries (a farther subnet could fit a small remainder better, but moves in order of their
  // points are what the walk itself would make next).
  const exhausted = new Set<number>();
  const moved = new Uint8Array(n);
  for (const c of candidates) {
    const kind = c.to === walkAnswer[c.row] ? (c.back ? 2 : 1) : 0;
    const pair = (c.from * K + c.to) * 3 + kind;
    if (moved[c.row] || exhausted.has(pair)) continue;
    const m = movable[c.row]!;
    const row = c.row * K;
    // The surplus is answered minus walk: the move shifts the answer and, unless the row's walk is
    // carried apart, the mix moves its walk share (towards `to`, from the kept mix or the walk).
    const walkMoves = walkApart === undefined || walkApart[c.row] !== 1;
    let gain = 0;
    for (let j = 0; j < K; j++) {
      next[j] = (1 - c.lambda) * w[row + j]! + (j === c.to ? c.lambda : 0);
      change[j] = (walkMoves ? -m * (next[j]! - w[row + j]!) : 0) + (j === c.from ? -m : j === c.to ? m : 0);
      if (change[j] !== 0) gain += Math.abs(surplus[j]!) - Math.abs(surplus[j]! + change[j]!);
    }
    // A move churns a subnet's answer: worth it only for a real gain (5 % of its load), not a tie. Against
    // the plan only while the origin it leaves stays at or above the walk without it (a whole subnet's
    // surplus): what a smaller surplus undid, the walk's next step would redo — the flapping hysteresis prevents.
    // A hold, released with the plan, goes whenever the answers on its origin exceed the walk's (1e-9:
    // rounding of equal loads): a hold never puts more on the origin being left than the walk does.
    const tooSmall = c.back && surplus[c.from]! - m < -1e-9 * m;
    const pays = kind === 1 ? surplus[c.from]! > 1e-9 * m : gain > 0.05 * m && !tooSmall;
    if (!pays) {
      exhausted.add(pair);
      continue;
    }
    for (let j = 0; j < K; j++) surplus[j]! += change[j]!;
    moved[c.row] = 1;
    target[c.row] = c.to;
    lambdaOf[c.row] = c.lambda;
  }
  for (let i = 0; i < n; i++) {
    const t = target[i]!;
    if (t < 0 || t === walkAnswer[i]) continue;
    const row = i * K;
    const lambda = lambdaOf[i]!;
    // Held back: on an origin the walk is leaving (the walk's own answer has already moved on).
    const held = plan[row + t]! < w[row + t]!;
    for (let j = 0; j < K; j++) w[row + j] = (1 - lambda) * w[row + j]! + (j === t ? lambda : 0);
    out.flipped++;
    out.movedLoad += movable[i]!;
    if (!moved[i]) out.kept++;
    if (held) {
      out.held++;
      out.heldLoad += movable[i]!;
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
