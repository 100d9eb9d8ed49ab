// The state of one successive-shortest-paths solve (transport.ts has the model): flows, column loads,
// prices and what each column routes to the sink, all in typed arrays so the hot loops stay monomorphic
// and allocate nothing. `seatRows` builds it (phase 1); the tier-arc functions below give the residual
// arcs between a column and the sink.
import type { TransportProblem } from './transport.ts';

export class SspState {
  readonly n: number;
  readonly K: number;
  /** The sink's node index (the columns are 0..K-1). */
  readonly SINK: number;
  readonly demand: Float64Array;
  readonly cost: Float64Array;
  readonly cap1: Float64Array;
  readonly cap2: Float64Array;
  readonly penalty: number;
  /** The reward tier's width per column (transport.ts header), or null: tiers are exactly 0 and P. */
  readonly minLoad: Float64Array | null;
  /** R: with a reward tier every tier is shifted by +R (the reward tier costs 0); 0 without one. */
  readonly reward: number;
  readonly totalDemand: number;
  /** "Empty" threshold for flows and imbalances: relative to the problem's scale, far below what shows
   * in a share rounded to 1e-9. */
  readonly tol: number;
  /** rows × cols flows, row-major. */
  readonly flow: Float64Array;
  /** Load per column. */
  readonly load: Float64Array;
  /** price[0..K-1] columns, price[K] the sink. Only differences matter. */
  readonly price: Float64Array;
  /** What column j sends to the sink through its tiers. */
  readonly routed: Float64Array;
  /** Rows that have (or had) flow on each column; stale entries are filtered on use. */
  readonly members: Int32Array[] = [];
  readonly memberCount: Int32Array;

  constructor(p: TransportProblem, flow: Float64Array) {
    this.n = p.rows;
    this.K = p.cols;
    this.SINK = p.cols;
    this.demand = p.demand;
    this.cost = p.cost;
    this.cap1 = p.cap1;
    this.cap2 = p.cap2;
    this.penalty = p.penalty;
    this.minLoad = p.minLoad ? Float64Array.from(p.minLoad, (b, j) => Math.max(0, Math.min(b, p.cap2[j]!))) : null;
    this.reward = p.minLoad ? (p.reward ?? 0) : 0;
    if (p.minLoad && !(this.reward > 0)) throw new Error('transport: minLoad needs a positive reward');
    let total = 0;
    for (let i = 0; i < p.rows; i++) total += p.demand[i]!;
    this.totalDemand = total;
    this.tol = Math.max(total, 1) * 1e-13;
    this.flow = flow;
    this.load = new Float64Array(p.cols);
    this.price = new Float64Array(p.cols + 1);
    this.routed = new Float64Array(p.cols);
    this.memberCount = new Int32Array(p.cols);
    for (let j = 0; j < p.cols; j++) this.members.push(new Int32Array(16));
  }

  addMember(j: number, i: number): void {
    let arr = this.members[j]!;
    if (this.memberCount[j] === arr.length) {
      const bigger = new Int32Array(arr.length * 2);
      bigger.set(arr);
      this.members[j] = arr = bigger;
    }
    arr[this.memberCount[j]!++] = i;
  }

  /** Excess of node v: a column's load beyond what it routes, or the sink's intake beyond the demand. */
  excessOf(v: number): number {
    if (v < this.K) return this.load[v]! - this.routed[v]!;
    let r = 0;
    for (let j = 0; j < this.K; j++) r += this.routed[j]!;
    return r - this.totalDemand;
  }
}

/**
 * Phase 1: prices clamped to what the tiers allow, every row on its cheapest allowed column at those
 * prices (ties: lowest index), and each column routing what its price implies (λ > 0: tier 1 full;
 * λ > P: tier 2 full) — a valid start for the SSP whatever the prices.
 */
export function seatRows(p: TransportProblem, initialPrice: Float64Array | undefined, flowBuffer: Float64Array | undefined): SspState {
  const { rows: n, cols: K, demand, cost, cap1, cap2, penalty } = p;
  if (flowBuffer && flowBuffer.length !== n * K) throw new Error(`transport: flow buffer has ${flowBuffer.length} entries, expected ${n * K}`);
  const s = new SspState(p, flowBuffer ?? new Float64Array(n * K));
  const { flow, load, price, routed } = s;
  if (initialPrice) {
    for (let j = 0; j < K; j++) {
      let l = Math.max(0, initialPrice[j]!);
      if (s.minLoad) l = Math.min(l, segmentsOf(s, j).at(-1)!.cost);
      else {
        // A price may only ask a tier to be full if the tier is finite.
        if (cap2[j] === Infinity && l > penalty) l = penalty;
        if (cap1[j] === Infinity) l = 0;
      }
      price[j] = l;
    }
  }
  for (let i = 0; i < n; i++) {
    const d = demand[i]!;
    const base = i * K;
    let best = -1;
    let bestCost = Infinity;
    for (let j = 0; j < K; j++) {
      const c = cost[base + j]! + price[j]!;
      if (c < bestCost) {
        bestCost = c;
        best = j;
      }
    }
    if (best < 0) throw new Error(`transport: row ${i} has no allowed column`);
    if (d > 0) {
      flow[base + best] = d;
      load[best]! += d;
      s.addMember(best, i);
    }
  }
  for (let j = 0; j < K; j++) {
    const l = price[j]!;
    let lo: number;
    let hi: number;
    if (s.minLoad) {
      // Tiers whose cost is below the price are full, those above it empty (costs rise with the level).
      lo = 0;
      hi = 0;
      for (const seg of segmentsOf(s, j)) {
        if (seg.cost < l) lo = seg.to;
        if (seg.cost <= l) hi = seg.to;
      }
    } else {
      lo = l > penalty ? cap2[j]! : l > 0 ? cap1[j]! : 0;
      hi = l >= penalty ? cap2[j]! : cap1[j]!;
    }
    routed[j] = Math.min(Math.max(load[j]!, lo), hi);
  }
  return s;
}

/** Column j's tiers in level order with their (shifted) cost per unit; the last one may be unbounded. */
function segmentsOf(s: SspState, j: number): { to: number; cost: number }[] {
  const b = s.minLoad![j]!;
  const c1 = s.cap1[j]!;
  const c2 = s.cap2[j]!;
  const edges = [...new Set([b, c1, c2].filter((x) => x > 0 && x <= c2))].sort((x, y) => x - y);
  let from = 0;
  return edges.map((to) => {
    const seg = { to, cost: (from < b ? 0 : s.reward) + (from < c1 ? 0 : s.penalty) };
    from = to;
    return seg;
  });
}

// Tier arcs between column j and the sink. Forward (route more at j): the cheapest tier with room.
// Reverse (route less): the most expensive tier in use.

// With a reward tier (width b = minLoad_j), every tier costs R more except the reward tier itself.

/** Cost of routing one more unit at j: 0 in tier 1, P in tier 2, +∞ when both are full (+R beyond the reward tier). */
export function forwardCost(s: SspState, j: number): number {
  const r = s.routed[j]!;
  if (!(r < s.cap2[j]! - s.tol)) return Infinity;
  const c = r < s.cap1[j]! - s.tol ? 0 : s.penalty;
  if (s.minLoad === null) return c;
  return r < s.minLoad[j]! - s.tol ? c : c + s.reward;
}

/** How much more j can route in the tier forwardCost prices. */
export function forwardRoom(s: SspState, j: number): number {
  const r = s.routed[j]!;
  let level = r;
  let next = s.cap2[j]!;
  if (r < s.cap1[j]! - s.tol) next = s.cap1[j]!;
  else level = Math.max(level, s.cap1[j]!);
  if (s.minLoad !== null) {
    const b = s.minLoad[j]!;
    if (r < b - s.tol) next = Math.min(next, b);
    else level = Math.max(level, b);
  }
  return next - level;
}

/** Cost of routing one unit less at j: −P out of tier 2, 0 out of tier 1, +∞ when j routes nothing (−R beyond the reward tier). */
export function reverseCost(s: SspState, j: number): number {
  const r = s.routed[j]!;
  if (!(r > s.tol)) return Infinity;
  const c = r > s.cap1[j]! + s.tol ? -s.penalty : 0;
  if (s.minLoad === null) return c;
  return r > s.minLoad[j]! + s.tol ? c - s.reward : c;
}

/** How much less j can route in the tier reverseCost prices. */
export function reverseRoom(s: SspState, j: number): number {
  const r = s.routed[j]!;
  let lower = r > s.cap1[j]! + s.tol ? s.cap1[j]! : 0;
  if (s.minLoad !== null && r > s.minLoad[j]! + s.tol) lower = Math.max(lower, s.minLoad[j]!);
  return r - lower;
}
