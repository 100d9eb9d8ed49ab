// The exchange arcs of the SSP (transport.ts): for each ordered column pair (u, v), a min-heap of the
// rows with flow on u keyed by c_kv − c_ku, which does not depend on prices — so the cheapest row to
// move from u to v is the top of one heap, and a Dijkstra step costs O(K) peeks whatever the number of
// rows. Heaps are built lazily and lazily cleaned: a row that left u is dropped when it reaches the top.
import { HeapArrays, MinHeap } from './heap.ts';
import type { SspState } from './ssp-state.ts';

/** Heap arrays reused from solve to solve (heap.ts). Solves are synchronous: one at a time per thread. */
const heapArrays = new HeapArrays();

export class ExchangeHeaps {
  private readonly heaps: (MinHeap | undefined)[];
  // Scratch for build(): the columns wanted and the arrays being filled for each.
  private readonly wanted: Int32Array;
  private readonly wantedKeys: Float64Array[];
  private readonly wantedIds: Int32Array[];
  private readonly wantedSize: Int32Array;

  constructor(private readonly s: SspState) {
    const K = s.K;
    this.heaps = new Array<MinHeap | undefined>(K * K);
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
    for (let q = 0; q < count; q++) heaps[u * K + wanted[q]!] = MinHeap.adopt(wantedKeys[q]!, wantedIds[q]!, wantedSize[q]!, heapArrays);
  }

  /** Cheapest row to move from u to v, or −1. Drops rows no longer on u. build(u) ran this step. */
  topRow(u: number, v: number): number {
    const { K, flow } = this.s;
    const h = this.heaps[u * K + v]!;
    while (h.size > 0) {
      const i = h.topId();
      if (flow[i * K + u]! > 0) return i;
      h.pop();
    }
    return -1;
  }

  /** c_kv − c_ku of the row topRow(u, v) returned. */
  topKey(u: number, v: number): number {
    return this.heaps[u * this.s.K + v]!.topKey();
  }

  /** Row i now has flow on v (it had none): it becomes a candidate in every heap out of v. */
  onNewFlow(i: number, v: number): void {
    const { K, cost } = this.s;
    this.s.addMember(v, i);
    for (let w = 0; w < K; w++) {
      const h = this.heaps[v * K + w];
      if (h === undefined || w === v) continue;
      const cw = cost[i * K + w]!;
      if (cw !== Infinity) h.push(cw - cost[i * K + v]!, i);
    }
  }

  /** Gives every heap's arrays back for the next solve. */
  release(): void {
    for (const h of this.heaps) h?.release();
  }
}
