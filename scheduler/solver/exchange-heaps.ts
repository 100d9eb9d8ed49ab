// The exchange arcs of the SSP (transport.ts): for each ordered column pair (u, v), the rows with flow
// on u keyed by c_kv − c_ku, which does not depend on prices — so the cheapest row to move from u to v
// is the minimum of one fixed key set. The minima are kept in two dense K × K arrays (`topKey`,
// `topRow`): a Dijkstra step at u reads one contiguous row of K keys instead of touching K heap
// objects and K random rows' flows (at K = 200, 40,000 arcs: a cache-missing peek each cost ~1.3 ms per
// search; the dense scan a few tens of µs).
//
// A pair goes through up to two states, each entered lazily:
//   scanned  when the Dijkstra first settles u: one pass over u's rows finds the minimum for every pair
//            out of u at once (reads only: no per-pair arrays are written);
//   heap     when that minimum's row leaves u: a min-heap of u's live rows for that pair is built, and
//            popped from then on (lazily cleaned: a row that left u is dropped when it reaches the top).
// Most pairs never need the heap: at 1M subnets (55,421 rows × 200 columns) building every heap on the
// first settle wrote ~11M entries per solve and was the solver's largest cost.
//
// Invariant, for every scanned pair (u, v): topRow[u·K+v] is a row with flow on u whose key is the
// minimum over u's rows with flow, topKey that key; none: topRow −1, topKey +∞. Only two events can
// break it, and both repair it at once: a row's flow on u reaching 0 (rowLeft: the pair's heap is
// built if it has none and popped down to a live row), and a row gaining flow on v (onNewFlow: it joins
// every heap out of v and may become a pair's new minimum).
import { HeapArrays, MinHeap } from './heap.ts';
import type { SspState } from './ssp-state.ts';

/** Heap arrays reused from solve to solve (heap.ts). Solves are synchronous: one at a time per thread. */
const heapArrays = new HeapArrays();

export class ExchangeHeaps {
  /** Per pair: its heap once its first minimum has left (see the header), else undefined. */
  private readonly heaps: (MinHeap | undefined)[];
  /** Per pair: 1 once its minimum is known (scanned). */
  private readonly scanned: Uint8Array;
  /** Per column u: pairs out of u not scanned yet (a settle at u with none left skips build's pass). */
  private readonly unscanned: Int32Array;
  /** K × K: key of the cheapest live row to move u → v (+∞: none); valid where scanned. */
  readonly topKey: Float64Array;
  /** K × K: that row, or −1. */
  readonly topRow: Int32Array;
  // Scratch for scan(): the columns wanted and the best key and row found for each.
  private readonly wanted: Int32Array;
  private readonly bestKey: Float64Array;
  private readonly bestRow: Int32Array;

  constructor(private readonly s: SspState) {
    const K = s.K;
    this.heaps = new Array<MinHeap | undefined>(K * K);
    this.scanned = new Uint8Array(K * K);
    this.unscanned = new Int32Array(K).fill(K - 1);
    this.topKey = new Float64Array(K * K).fill(Infinity);
    this.topRow = new Int32Array(K * K).fill(-1);
    this.wanted = new Int32Array(K);
    this.bestKey = new Float64Array(K);
    this.bestRow = new Int32Array(K);
  }

  /**
   * Finds the minimum of every pair out of u not scanned yet, in one pass over u's rows: each row's
   * costs are read once rather than once per v. Every pair, not only those the Dijkstra step at u will
   * look at (its unsettled v): the pairs to settled v were needed by a later search's settle at u, and
   * each such settle cost another pass over u's rows, which are scattered rows of the n × K costs. At 1M
   * subnets × 200 origins (cold, 11,722 searches) those repeated passes were half of the searches' time:
   * the solve went from 2.3 to 1.6 s CPU, the same paths and the same optimum.
   */
  build(u: number): void {
    const { K, flow, cost } = this.s;
    const { scanned, wanted, bestKey, bestRow } = this;
    // Once every pair out of u is scanned (most columns, a few searches into a solve) there is nothing
    // to find: skip the pass over u's K pairs (one of the two O(K) passes a settle costs).
    if (this.unscanned[u] === 0) return;
    let count = 0;
    for (let v = 0; v < K; v++) if (v !== u && scanned[u * K + v] === 0) wanted[count++] = v;
    if (count === 0) return;
    bestKey.fill(Infinity, 0, count);
    bestRow.fill(-1, 0, count);
    const arr = this.s.members[u]!;
    const rows = this.s.memberCount[u]!;
    for (let t = 0; t < rows; t++) {
      const i = arr[t]!;
      const base = i * K;
      if (flow[base + u]! <= 0) continue;
      const cu = cost[base + u]!;
      for (let q = 0; q < count; q++) {
        const key = cost[base + wanted[q]!]! - cu; // +∞ for a pair not allowed: never below bestKey's +∞
        if (key < bestKey[q]!) {
          bestKey[q] = key;
          bestRow[q] = i;
        }
      }
    }
    for (let q = 0; q < count; q++) {
      const at = u * K + wanted[q]!;
      scanned[at] = 1;
      this.unscanned[u]!--;
      this.topKey[at] = bestKey[q]!;
      this.topRow[at] = bestRow[q]!;
    }
  }

  /** Row i's flow on u has just reached 0: every pair out of u whose minimum it was moves to a live row. */
  rowLeft(i: number, u: number): void {
    const { K, flow } = this.s;
    const { heaps, topRow } = this;
    for (let w = 0; w < K; w++) {
      const at = u * K + w;
      if (topRow[at] !== i) continue;
      let h = heaps[at];
      if (h === undefined) heaps[at] = h = this.heapOf(u, w);
      while (h.size > 0 && flow[h.topId() * K + u]! <= 0) h.pop();
      this.mirror(at, h);
    }
  }

  /** Row i now has flow on v (it had none): it becomes a candidate for every scanned pair out of v. */
  onNewFlow(i: number, v: number): void {
    const { K, cost } = this.s;
    const { heaps, scanned, topKey, topRow } = this;
    this.s.addMember(v, i);
    const cv = cost[i * K + v]!;
    for (let w = 0; w < K; w++) {
      const at = v * K + w;
      if (scanned[at] === 0 || w === v) continue;
      const cw = cost[i * K + w]!;
      if (cw === Infinity) continue;
      const key = cw - cv;
      heaps[at]?.push(key, i);
      if (key < topKey[at]! || topRow[at] === -1) {
        topKey[at] = key;
        topRow[at] = i;
      }
    }
  }

  /** The heap of pair (u, w): u's rows with flow whose cost on w is finite, keyed c_kw − c_ku. */
  private heapOf(u: number, w: number): MinHeap {
    const { K, flow, cost } = this.s;
    const arr = this.s.members[u]!;
    const rows = this.s.memberCount[u]!;
    const { keys, ids } = heapArrays.take(rows);
    let size = 0;
    for (let t = 0; t < rows; t++) {
      const i = arr[t]!;
      const base = i * K;
      if (flow[base + u]! <= 0) continue;
      const cw = cost[base + w]!;
      if (cw === Infinity) continue;
      keys[size] = cw - cost[base + u]!;
      ids[size++] = i;
    }
    return MinHeap.adopt(keys, ids, size, heapArrays);
  }

  /** Gives every heap's arrays back for the next solve. */
  release(): void {
    for (const h of this.heaps) h?.release();
  }

  /** Copies heap `at`'s top (its entries are all live or it is empty) into the dense arrays. */
  private mirror(at: number, h: MinHeap): void {
    if (h.size > 0) {
      this.topKey[at] = h.topKey();
      this.topRow[at] = h.topId();
    } else {
      this.topKey[at] = Infinity;
      this.topRow[at] = -1;
    }
  }
}
