// Phases 3 and 4 of the SSP (transport.ts): Dijkstra on the K+1 nodes (columns and the sink) from every
// node with excess to the nearest node with a deficit, with reduced costs c + λ_v − λ_u; then the price
// rise that keeps every residual reduced cost ≥ 0; then the augmentation along the path.
import type { ExchangeHeaps } from './exchange-heaps.ts';
import { forwardCost, forwardRoom, reverseCost, reverseRoom, type SspState } from './ssp-state.ts';

/** One Dijkstra's scratch: distances, settled nodes, and the path as predecessors (and moved rows). */
export class PathSearch {
  readonly dist: Float64Array;
  readonly done: Uint8Array;
  readonly pred: Int32Array;
  /** For an exchange arc into v: the row that moves; −1 for a tier arc. */
  readonly predRow: Int32Array;
  /** The deficit node the last search reached, or −1. */
  target = -1;

  constructor(nodes: number) {
    this.dist = new Float64Array(nodes);
    this.done = new Uint8Array(nodes);
    this.pred = new Int32Array(nodes);
    this.predRow = new Int32Array(nodes);
  }
}

/**
 * Finds a shortest path from the nodes with excess to the nearest node with a deficit. False when
 * there is nothing to do (no excess or no deficit) or no deficit is reachable: the rest cannot be placed
 * within the capacities.
 */
export function shortestPath(s: SspState, heaps: ExchangeHeaps, path: PathSearch): boolean {
  const { K, SINK, price, tol } = s;
  const N = K + 1;
  const { dist, done, pred, predRow } = path;
  let anyExcess = false;
  let anyDeficit = false;
  for (let v = 0; v < N; v++) {
    done[v] = 0;
    pred[v] = -1;
    const e = s.excessOf(v);
    if (e > tol) {
      dist[v] = 0;
      anyExcess = true;
    } else {
      dist[v] = Infinity;
      if (e < -tol) anyDeficit = true;
    }
  }
  path.target = -1;
  if (!anyExcess || !anyDeficit) return false;
  // The next node to settle: the first scan looks at every node; after that each settled node's
  // relaxation pass visits every unsettled node anyway and finds the next one on the way (`next`), so a
  // search is one pass per settled node instead of two (at 1M subnets × 200 origins a search settles
  // ~87 of 201 nodes; the separate scan was about half of the solver's time). Ties go to the lowest
  // index, columns before the sink, as a scan in index order would.
  let u = -1;
  let du = Infinity;
  for (let v = 0; v < N; v++) {
    if (dist[v]! < du) {
      du = dist[v]!;
      u = v;
    }
  }
  for (;;) {
    if (u < 0) return false;
    done[u] = 1;
    if (s.excessOf(u) < -tol) {
      path.target = u;
      return true;
    }
    const pu = price[u]!;
    let next = -1;
    let dNext = Infinity;
    if (u === SINK) {
      for (let j = 0; j < K; j++) {
        if (done[j]) continue;
        const rc = reverseCost(s, j);
        if (rc !== Infinity) {
          let d = du + rc + price[j]! - pu;
          if (d < du) d = du; // reduced costs are ≥ 0 up to rounding
          if (d < dist[j]!) {
            dist[j] = d;
            pred[j] = SINK;
            predRow[j] = -1;
          }
        }
        if (dist[j]! < dNext) {
          dNext = dist[j]!;
          next = j;
        }
      }
      u = next;
      du = dNext;
      continue;
    }
    if (!done[SINK]) {
      const fc = forwardCost(s, u);
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
    heaps.build(u);
    // One contiguous row of the dense top-of-heap keys (exchange-heaps.ts): +∞ where no row can move.
    const { topKey, topRow } = heaps;
    const at = u * K;
    for (let v = 0; v < K; v++) {
      if (done[v]) continue;
      const key = topKey[at + v]!;
      if (key !== Infinity) {
        let d = du + key + price[v]! - pu;
        if (d < du) d = du;
        if (d < dist[v]!) {
          dist[v] = d;
          pred[v] = u;
          predRow[v] = topRow[at + v]!;
        }
      }
      if (dist[v]! < dNext) {
        dNext = dist[v]!;
        next = v;
      }
    }
    if (!done[SINK] && dist[SINK]! < dNext) {
      dNext = dist[SINK]!;
      next = SINK;
    }
    u = next;
    du = dNext;
  }
}

/** Raises the prices of the settled nodes by (D* − dist)⁺: every residual reduced cost stays ≥ 0. */
export function raisePrices(s: SspState, path: PathSearch): void {
  const dStar = path.dist[path.target]!;
  for (let v = 0; v <= s.K; v++) if (path.done[v] && path.dist[v]! < dStar) s.price[v]! += dStar - path.dist[v]!;
}

/** Sends the bottleneck amount along the path found: tier arcs change `routed`, exchange arcs move a row. */
export function augment(s: SspState, heaps: ExchangeHeaps, path: PathSearch): void {
  const { K, SINK, flow, load, routed, tol } = s;
  const { pred, predRow, target } = path;
  let a = -s.excessOf(target);
  let v = target;
  while (pred[v]! >= 0) {
    const u = pred[v]!;
    const room = v === SINK ? forwardRoom(s, u) : u === SINK ? reverseRoom(s, v) : flow[predRow[v]! * K + u]!;
    if (room < a) a = room;
    v = u;
  }
  const ex = s.excessOf(v);
  if (ex < a) a = ex;
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
      if (after === 0) heaps.rowLeft(i, u);
      if (flow[i * K + v] === 0) heaps.onNewFlow(i, v);
      flow[i * K + v]! += moved;
      load[u]! -= moved;
      load[v]! += moved;
    }
    v = u;
  }
}
