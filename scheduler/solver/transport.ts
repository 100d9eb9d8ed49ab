// The transportation problem every policy reduces to, and its exact solver.
//
//   minimise   Σ_ij c_ij f_ij  +  P · Σ_j max(0, load_j − cap1_j)
//   subject to Σ_j f_ij = d_i            (every source's demand is placed)
//              load_j = Σ_i f_ij ≤ cap2_j (hard capacity of column j)
//              f_ij ≥ 0, f_ij = 0 where c_ij = +∞ (pair not allowed)
//
// Rows are (merged) traffic sources, columns are origins. Each column has two capacity tiers: up to
// cap1 (the soft target) load is free, between cap1 and cap2 (the hard max, or max plus a share of an
// unavoidable overflow) every unit costs the penalty P on top of its latency. P is chosen by the caller
// larger than any latency saving a chain of exchanges can buy, which makes the objective lexicographic:
// first as little load above target as possible, then the lowest demand-weighted latency.
//
// Method: successive shortest paths (primal-dual) on a network of K+1 nodes — the columns and a sink —
// never on the rows. Every row sits on a column of minimal c_ij + λ_j (λ = column prices); column j
// "routes" its load to the sink through its tiers (cost 0 up to cap1, P up to cap2). Residual arcs:
//   exchange j → j'     move some row k from j to j'   reduced cost c_kj' − c_kj + λ_j' − λ_j
//   tier j → sink       route more at j (spare tier t)  p_t − λ_j + λ_sink
//   tier sink → j       route less at j (used tier t)   λ_j − p_t − λ_sink
// The cheapest row of each ordered column pair sits on top of a lazily built min-heap keyed by the
// price-independent c_kj' − c_kj, so one Dijkstra costs O(K²) heap peeks whatever the number of rows.
// Imbalances (a column whose rows exceed what it routes, or the sink short of the total demand) are
// removed along shortest paths; after each Dijkstra the prices rise by (D* − dist)⁺, which keeps every
// residual reduced cost ≥ 0 — the textbook SSP invariant — so the final flow is optimal: λ_j − λ_sink
// are the capacity duals and every row uses only columns of minimal c_ij + λ_j.
//
// Warm start: any prices are a valid start once every row is put on its cheapest column at those
// prices and each column routes what its price implies (λ > 0: tier 1 full; λ > P: tier 2 full). Good
// prices leave few imbalances, so for large problems the prices are first found on a systematic sample
// of the rows (demand and capacities scaled), recursively; the full problem then only repairs the rows
// near the price boundaries. On the benchmark's 100k × 20 instance this cuts the augmenting paths from
// ~87k to ~9k; the result is the same optimum (the warm start only changes where the SSP begins).
//
// Termination: every augmentation removes an imbalance, fills or empties a tier, or empties one row's
// flow on a column, and prices only rise; if no deficit is reachable the rest cannot be placed within
// cap2 and stays on its columns (reported as `unplaced`, never dropped).
import { HeapArrays, MinHeap } from './heap.ts';

/** Heap arrays reused from solve to solve (heap.ts). Solves are synchronous: one at a time per thread. */
const heapArrays = new HeapArrays();

export interface TransportProblem {
  /** Number of rows (sources). */
  rows: number;
  /** Number of columns (origins). */
  cols: number;
  /** Demand per row, ≥ 0. */
  demand: Float64Array;
  /** rows × cols, row-major; +Infinity marks a pair that must not be used. */
  cost: Float64Array;
  /** Load per column that is free of the penalty (soft target); may be +Infinity. */
  cap1: Float64Array;
  /** Hard capacity per column, ≥ cap1; may be +Infinity. */
  cap2: Float64Array;
  /** Cost per unit of load between cap1 and cap2. */
  penalty: number;
}

export interface TransportSolution {
  /** rows × cols flows (demand units), row-major. */
  flow: Float64Array;
  /** Load per column. */
  load: Float64Array;
  /** Capacity dual (price) per column: every row uses only columns minimising c_ij + price_j. */
  price: Float64Array;
  /** Σ c·f + P·(load above cap1), the LP objective. */
  objective: number;
  /** Demand that could not be placed within cap2 (0 when the caller sized cap2 to be feasible). It is
   * left on the rows' cheapest columns, above cap2, rather than dropped. */
  unplaced: number;
  /** Augmenting paths used (a measure of how contested capacity was). */
  augmentations: number;
}

export interface SolveOptions {
  /** Start from these column prices (length cols); default: found on a sample for large problems. */
  initialPrice?: Float64Array;
  /** Rows above which the warm start from a sample is used (default 8000). */
  warmStartRows?: number;
  /** Write the flows here (rows × cols, zero-filled) instead of a new array: the caller's reusable
   * buffer, which spares a large allocation per solve (see core/scratch.ts). Returned as `flow`. */
  flow?: Float64Array;
}

/** Solves the problem exactly (see the header). Rows with no allowed column throw. */
export function solveTransport(p: TransportProblem, options: SolveOptions = {}): TransportSolution {
  const threshold = options.warmStartRows ?? 8000;
  let initial = options.initialPrice;
  let augmentations = 0;
  if (!initial && p.rows > threshold) {
    const sample = sampleRows(p, 8);
    const s = solveTransport(sample, { warmStartRows: threshold });
    initial = s.price;
    augmentations += s.augmentations;
  }
  const sol = solveFrom(p, initial, options.flow);
  sol.augmentations += augmentations;
  return sol;
}

/** Every `step`-th row, demand and capacities scaled so the sample is the problem in miniature. */
function sampleRows(p: TransportProblem, step: number): TransportProblem {
  const { rows: n, cols: K } = p;
  const m = Math.ceil(n / step);
  const demand = new Float64Array(m);
  const cost = new Float64Array(m * K);
  let total = 0;
  let sampled = 0;
  for (let i = 0; i < n; i++) total += p.demand[i]!;
  for (let s = 0; s < m; s++) {
    const i = s * step;
    demand[s] = p.demand[i]!;
    sampled += demand[s]!;
    cost.set(p.cost.subarray(i * K, i * K + K), s * K);
  }
  const scale = total > 0 ? sampled / total : 1 / step;
  return { rows: m, cols: K, demand, cost, cap1: p.cap1.map((c) => c * scale), cap2: p.cap2.map((c) => c * scale), penalty: p.penalty };
}

function solveFrom(p: TransportProblem, initialPrice: Float64Array | undefined, flowBuffer: Float64Array | undefined): TransportSolution {
  const { rows: n, cols: K, demand, cost, cap1, cap2, penalty } = p;
  const SINK = K;
  if (flowBuffer && flowBuffer.length !== n * K) throw new Error(`transport: flow buffer has ${flowBuffer.length} entries, expected ${n * K}`);
  const flow = flowBuffer ?? new Float64Array(n * K);
  const load = new Float64Array(K);
  // price[0..K-1] columns, price[K] the sink. Only differences matter.
  const price = new Float64Array(K + 1);
  let totalDemand = 0;
  for (let i = 0; i < n; i++) totalDemand += demand[i]!;
  // "Empty" threshold for flows and imbalances: relative to the problem's scale, far below what shows
  // in a share rounded to 1e-9.
  const tol = Math.max(totalDemand, 1) * 1e-13;
  if (initialPrice) {
    for (let j = 0; j < K; j++) {
      let l = Math.max(0, initialPrice[j]!);
      // A price may only ask a tier to be full if the tier is finite.
      if (cap2[j] === Infinity && l > penalty) l = penalty;
      if (cap1[j] === Infinity) l = 0;
      price[j] = l;
    }
  }

  // Members of each column: rows that have (or had) flow there. Stale entries are filtered on use.
  const members: Int32Array[] = [];
  const memberCount = new Int32Array(K);
  for (let j = 0; j < K; j++) members.push(new Int32Array(16));
  const addMember = (j: number, i: number): void => {
    let arr = members[j]!;
    if (memberCount[j] === arr.length) {
      const bigger = new Int32Array(arr.length * 2);
      bigger.set(arr);
      members[j] = arr = bigger;
    }
    arr[memberCount[j]!++] = i;
  };

  // 1. Every row on its cheapest allowed column at the starting prices (ties: lowest index).
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
      addMember(best, i);
    }
  }

  // routed_j: what column j sends to the sink through its tiers, as its price implies.
  const routed = new Float64Array(K);
  for (let j = 0; j < K; j++) {
    const l = price[j]!;
    const lo = l > penalty ? cap2[j]! : l > 0 ? cap1[j]! : 0;
    const hi = l >= penalty ? cap2[j]! : cap1[j]!;
    routed[j] = Math.min(Math.max(load[j]!, lo), hi);
  }
  const excessOf = (v: number): number => {
    if (v < K) return load[v]! - routed[v]!;
    let r = 0;
    for (let j = 0; j < K; j++) r += routed[j]!;
    return r - totalDemand;
  };

  // 2. Lazily built heaps: heap[u*K+v] holds rows with flow on u, keyed by c_kv − c_ku.
  const heaps: (MinHeap | undefined)[] = new Array<MinHeap | undefined>(K * K);
  // The heaps out of u are built together, for every v the Dijkstra step at u looks at (not yet
  // done): one pass over u's rows reads each row's costs once (a cache line or two) rather than once
  // per v (19 scattered reads per row at 20 columns). Nothing changes flows during that step, so each
  // heap holds exactly what building it on first use would.
  const wanted = new Int32Array(K);
  const wantedKeys = new Array<Float64Array>(K);
  const wantedIds = new Array<Int32Array>(K);
  const wantedSize = new Int32Array(K);
  const buildHeaps = (u: number): void => {
    let count = 0;
    for (let v = 0; v < K; v++) if (v !== u && !done[v] && heaps[u * K + v] === undefined) wanted[count++] = v;
    if (count === 0) return;
    const arr = members[u]!;
    const rows = memberCount[u]!;
    for (let q = 0; q < count; q++) {
      const a = heapArrays.take(rows);
      wantedKeys[q] = a.keys;
      wantedIds[q] = a.ids;
      wantedSize[q] = 0;
    }
    for (let t = 0; t < rows; t++) {
      const i = arr[t]!;
      const base = i * K;
      if (flow[base + u]! <= 0) continue;
      const cu = cost[base + u]!;
      for (let q = 0; q < count; q++) {
        const cv = cost[base + wanted[q]!]!;
        if (cv === Infinity) continue;
        const m = wantedSize[q]!;
        wantedKeys[q]![m] = cv - cu;
        wantedIds[q]![m] = i;
        wantedSize[q] = m + 1;
      }
    }
    for (let q = 0; q < count; q++) heaps[u * K + wanted[q]!] = MinHeap.adopt(wantedKeys[q]!, wantedIds[q]!, wantedSize[q]!, heapArrays);
  };
  /** Cheapest row to move from u to v (key = c_kv − c_ku), or −1. Drops rows no longer on u. The heap
   * exists: buildHeaps(u) ran at the start of this Dijkstra step. */
  const topRow = (u: number, v: number): number => {
    const h = heaps[u * K + v]!;
    while (h.size > 0) {
      const i = h.topId();
      if (flow[i * K + u]! > 0) return i;
      h.pop();
    }
    return -1;
  };
  const onNewFlow = (i: number, v: number): void => {
    addMember(v, i);
    for (let w = 0; w < K; w++) {
      const h = heaps[v * K + w];
      if (h === undefined || w === v) continue;
      const cw = cost[i * K + w]!;
      if (cw !== Infinity) h.push(cw - cost[i * K + v]!, i);
    }
  };

  // Tier arcs. Forward (route more): the cheapest tier with room. Reverse (route less): the most
  // expensive tier in use.
  const forwardCost = (j: number): number => {
    const r = routed[j]!;
    if (r < cap1[j]! - tol) return 0;
    if (r < cap2[j]! - tol) return penalty;
    return Infinity;
  };
  const forwardRoom = (j: number): number => {
    const r = routed[j]!;
    if (r < cap1[j]! - tol) return cap1[j]! - r;
    return cap2[j]! - Math.max(r, cap1[j]!);
  };
  const reverseCost = (j: number): number => {
    const r = routed[j]!;
    if (r > cap1[j]! + tol) return -penalty;
    if (r > tol) return 0;
    return Infinity;
  };
  const reverseRoom = (j: number): number => {
    const r = routed[j]!;
    return r > cap1[j]! + tol ? r - cap1[j]! : r;
  };

  const N = K + 1;
  const dist = new Float64Array(N);
  const done = new Uint8Array(N);
  const pred = new Int32Array(N);
  const predRow = new Int32Array(N);
  let augmentations = 0;

  // 3. Successive shortest paths from every node with excess to the nearest node with a deficit.
  for (;;) {
    let anyExcess = false;
    let anyDeficit = false;
    for (let v = 0; v < N; v++) {
      done[v] = 0;
      pred[v] = -1;
      const e = excessOf(v);
      if (e > tol) {
        dist[v] = 0;
        anyExcess = true;
      } else {
        dist[v] = Infinity;
        if (e < -tol) anyDeficit = true;
      }
    }
    if (!anyExcess || !anyDeficit) break;
    let target = -1;
    for (;;) {
      let u = -1;
      let du = Infinity;
      for (let v = 0; v < N; v++) {
        if (!done[v] && dist[v]! < du) {
          du = dist[v]!;
          u = v;
        }
      }
      if (u < 0) break;
      done[u] = 1;
      if (excessOf(u) < -tol) {
        target = u;
        break;
      }
      const pu = price[u]!;
      if (u === SINK) {
        for (let j = 0; j < K; j++) {
          if (done[j]) continue;
          const rc = reverseCost(j);
          if (rc === Infinity) continue;
          let d = du + rc + price[j]! - pu;
          if (d < du) d = du; // reduced costs are ≥ 0 up to rounding
          if (d < dist[j]!) {
            dist[j] = d;
            pred[j] = SINK;
            predRow[j] = -1;
          }
        }
        continue;
      }
      if (!done[SINK]) {
        const fc = forwardCost(u);
        if (fc !== Infinity) {
          let d = du + fc + price[SINK]! - pu;
          if (d < du) d = du;
          if (d < dist[SINK]!) {
            dist[SINK] = d;
            pred[SINK] = u;
            predRow[SINK] = -1;
          }
        }
      }
      buildHeaps(u);
      for (let v = 0; v < K; v++) {
        if (v === u || done[v]) continue;
        const i = topRow(u, v);
        if (i < 0) continue;
        let d = du + heaps[u * K + v]!.topKey() + price[v]! - pu;
        if (d < du) d = du;
        if (d < dist[v]!) {
          dist[v] = d;
          pred[v] = u;
          predRow[v] = i;
        }
      }
    }
    if (target < 0) break; // no deficit reachable: the rest cannot be placed within the capacities
    const dStar = dist[target]!;
    for (let v = 0; v < N; v++) if (done[v] && dist[v]! < dStar) price[v]! += dStar - dist[v]!;

    // Bottleneck along the path.
    let a = -excessOf(target);
    let v = target;
    while (pred[v]! >= 0) {
      const u = pred[v]!;
      const room = v === SINK ? forwardRoom(u) : u === SINK ? reverseRoom(v) : flow[predRow[v]! * K + u]!;
      if (room < a) a = room;
      v = u;
    }
    const ex = excessOf(v);
    if (ex < a) a = ex;
    // Apply.
    v = target;
    while (pred[v]! >= 0) {
      const u = pred[v]!;
      if (v === SINK) routed[u]! += a;
      else if (u === SINK) routed[v] = Math.max(0, routed[v]! - a);
      else {
        const i = predRow[v]!;
        const before = flow[i * K + u]!;
        // Snap a row's flow to exactly 0 when it is (numerically) emptied, so it leaves u's heaps.
        const after = before - a <= tol ? 0 : before - a;
        const moved = before - after;
        flow[i * K + u] = after;
        if (flow[i * K + v] === 0) onNewFlow(i, v);
        flow[i * K + v]! += moved;
        load[u]! -= moved;
        load[v]! += moved;
      }
      v = u;
    }
    augmentations++;
  }

  for (const h of heaps) h?.release();

  let objective = 0;
  let unplaced = 0;
  for (let j = 0; j < K; j++) {
    unplaced += Math.max(0, load[j]! - cap2[j]!);
    objective += penalty * Math.max(0, Math.min(load[j]!, cap2[j]!) - cap1[j]!);
  }
  for (let idx = 0; idx < n * K; idx++) {
    const f = flow[idx]!;
    if (f > 0) objective += f * cost[idx]!;
  }
  const dual = new Float64Array(K);
  for (let j = 0; j < K; j++) dual[j] = price[j]! - price[SINK]!;
  return { flow, load, price: dual, objective, unplaced, augmentations };
}
