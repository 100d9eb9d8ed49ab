// The exchange arcs of the SSP (transport.ts): for each ordered column pair (u, v), a min-heap of the
// rows with flow on u keyed by c_kv − c_ku, which does not depend on prices — so the cheapest row to
// move from u to v is the top of one heap. Heaps are built lazily (when the Dijkstra first settles u)
// and lazily cleaned: a row that left u is dropped when it reaches the top.
//
// The tops are mirrored in two dense K × K arrays (`topKey`, `topRow`) that are kept exact eagerly:
// a Dijkstra step at u then reads one contiguous row of K keys instead of touching K heap objects and
// K random rows' flows. At K = 200 this is what makes a search cheap (40,000 arcs: a cache-missing peek
// each cost ~1.3 ms per search; the dense scan a few tens of µs). Invariant, for every built heap
// (u, v): topRow[u·K+v] is its top entry's row and has flow on u, topKey its key; an empty heap has
// topRow −1 and topKey +∞. Only two events can break it, and both repair it at once: a row's flow on u
// reaching 0 (rowLeft: heaps out of u whose top it is are popped down to a live row), and a row gaining
// flow on v (onNewFlow: pushed into every heap out of v, which may become its new top).
import { HeapArrays, MinHeap } from './heap.ts';
import type { SspState } from './ssp-state.ts';

/** Heap arrays reused from solve to solve (heap.ts). Solves are synchronous: one at a time per thread. */
const heapArrays = new HeapArrays();

export class ExchangeHeaps {
  private readonly heaps: (MinHeap | undefined)[];
  /** K × K: key of the cheapest live row to move u → v (+∞: none); valid where the heap is built. */
  readonly topKey: Float64Array;
  /** K × K: that row, or −1. */
  readonly topRow: Int32Array;
  // Scratch for build(): the columns wanted and the arrays being filled for each.
  private readonly wanted: Int32Array;
  private readonly wantedKeys: Float64Array[];
  private readonly wantedIds: Int32Array[];
  private readonly wantedSize: Int32Array;

  constructor(private readonly s: SspState) {
    const K = s.K;
    this.heaps = new Array<MinHeap | undefined>(K * K);
    this.topKey = new Float64Array(K * K).fill(Infinity);
    this.topRow = new Int32Array(K * K).fill(-1);
    this.wanted = new Int32Array(K);
    this.wantedKeys = new Array<Float64Array>(K);
    this.wantedIds = new Array<Int32Array>(K);
    this.wantedSize = new Int32Array(K);
  }

  /**
   * Builds the heaps out of u for every column v the Dijkstra step at u will look at (not `done`) and
   * that has none yet, in one pass over u's rows: each row's costs are read once (a cache line or two)
   * rather than once per v. Nothing changes flows during that step, so each heap holds exactly what
   * building it on first use would.
   */
  build(u: number, done: Uint8Array): void {
    const { K, flow, cost } = this.s;
    const { heaps, wanted, wantedKeys, wantedIds, wantedSize } = this;
    let count = 0;
    for (let v = 0; v < K; v++) if (v !== u && !done[v] && heaps[u * K + v] === undefined) wanted[count++] = v;
    if (count === 0) return;
    const arr = this.s.members[u]!;
    const rows = this.s.memberCount[u]!;
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
    for (let q = 0; q < count; q++) {
      const at = u * K + wanted[q]!;
      const h = MinHeap.adopt(wantedKeys[q]!, wantedIds[q]!, wantedSize[q]!, heapArrays);
      heaps[at] = h;
      this.mirror(at, h);
    }
  }

  /** Row i's flow on u has just reached 0: every heap out of u whose top it was moves to a live row. */
  rowLeft(i: number, u: number): void {
    const { K, flow } = this.s;
    const { heaps, topRow } = this;
    for (let w = 0; w < K; w++) {
      const at = u * K + w;
      if (topRow[at] !== i) continue;
      const h = heaps[at]!;
      while (h.size > 0 && flow[h.topId() * K + u]! <= 0) h.pop();
      this.mirror(at, h);
    }
  }

  /** Row i now has flow on v (it had none): it becomes a candidate in every heap out of v. */
  onNewFlow(i: number, v: number): void {
    const { K, cost } = this.s;
    const { heaps, topKey, topRow } = this;
    this.s.addMember(v, i);
    const cv = cost[i * K + v]!;
    for (let w = 0; w < K; w++) {
      const at = v * K + w;
      const h = heaps[at];
      if (h === undefined || w === v) continue;
      const cw = cost[i * K + w]!;
      if (cw === Infinity) continue;
      const key = cw - cv;
      h.push(key, i);
      if (key < topKey[at]! || topRow[at] === -1) {
        topKey[at] = key;
        topRow[at] = i;
      }
    }
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
