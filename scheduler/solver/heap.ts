// A binary min-heap of (key, id) pairs on typed arrays. The transportation solver keeps one per ordered
// pair of columns (hundreds of heaps, millions of entries at 100k sources), so it avoids per-entry
// objects; deletion is lazy (the caller checks the top entry is still valid and pops it if not).

/**
 * Recycles heap arrays between solves. One 100k-source solve fills ~25 MB of heap arrays; allocated
 * afresh each time, that much new ArrayBuffer memory per cycle makes V8 run a full garbage collection
 * over the whole heap (external memory pressure). Capacities are powers of two so arrays fit again.
 */
export class HeapArrays {
  private readonly free = new Map<number, { keys: Float64Array; ids: Int32Array }[]>();
  private pooled = 0;

  /** @param maxPooledEntries what the free lists may hold in total (12 bytes an entry; 100k × 20
   * needs ~3M); beyond it, returned arrays are left to the garbage collector. */
  constructor(private readonly maxPooledEntries = 4 << 20) {}

  /** Arrays with room for at least `count` entries. */
  take(count: number): { keys: Float64Array; ids: Int32Array } {
    let capacity = 4;
    while (capacity < count) capacity *= 2;
    const reused = this.free.get(capacity)?.pop();
    if (!reused) return { keys: new Float64Array(capacity), ids: new Int32Array(capacity) };
    this.pooled -= capacity;
    return reused;
  }

  give(keys: Float64Array, ids: Int32Array): void {
    const capacity = keys.length;
    // Only arrays this class made (power-of-two capacity, matching lengths) go back on a list.
    if ((capacity & (capacity - 1)) !== 0 || ids.length !== capacity || capacity < 4) return;
    if (this.pooled + capacity > this.maxPooledEntries) return;
    let list = this.free.get(capacity);
    if (!list) this.free.set(capacity, (list = []));
    list.push({ keys, ids });
    this.pooled += capacity;
  }
}

export class MinHeap {
  private keys: Float64Array;
  private ids: Int32Array;
  private storage: HeapArrays | undefined;
  size = 0;

  constructor(capacity = 16) {
    this.keys = new Float64Array(Math.max(4, capacity));
    this.ids = new Int32Array(Math.max(4, capacity));
  }

  /** Builds a heap from parallel arrays in O(n) (Floyd); the arrays are copied. */
  static from(keys: Float64Array, ids: Int32Array, count: number): MinHeap {
    return MinHeap.adopt(keys.slice(0, Math.max(4, count)), ids.slice(0, Math.max(4, count)), count);
  }

  /** Like `from`, but the heap takes the arrays over (no copy: the solver builds hundreds of heaps with
   * millions of entries in total, and a copy of each would double that memory). With `storage`, the
   * arrays came from it, growing takes from it, and `release()` gives them back. */
  static adopt(keys: Float64Array, ids: Int32Array, count: number, storage?: HeapArrays): MinHeap {
    const h = new MinHeap(0);
    h.keys = keys;
    h.ids = ids;
    h.storage = storage;
    h.size = count;
    for (let i = (count >> 1) - 1; i >= 0; i--) h.down(i);
    return h;
  }

  topKey(): number {
    return this.keys[0]!;
  }

  topId(): number {
    return this.ids[0]!;
  }

  push(key: number, id: number): void {
    if (this.size === this.keys.length) {
      const grown = Math.max(4, this.size * 2);
      const next = this.storage ? this.storage.take(grown) : { keys: new Float64Array(grown), ids: new Int32Array(grown) };
      next.keys.set(this.keys);
      next.ids.set(this.ids);
      this.storage?.give(this.keys, this.ids);
      this.keys = next.keys;
      this.ids = next.ids;
    }
    let i = this.size++;
    const keys = this.keys;
    const ids = this.ids;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (keys[p]! <= key) break;
      keys[i] = keys[p]!;
      ids[i] = ids[p]!;
      i = p;
    }
    keys[i] = key;
    ids[i] = id;
  }

  /** Hands the arrays back to the storage they came from; the heap is empty and unusable after. */
  release(): void {
    this.storage?.give(this.keys, this.ids);
    this.storage = undefined;
    this.keys = new Float64Array(0);
    this.ids = new Int32Array(0);
    this.size = 0;
  }

  pop(): void {
    const last = --this.size;
    if (last <= 0) return;
    this.keys[0] = this.keys[last]!;
    this.ids[0] = this.ids[last]!;
    this.down(0);
  }

  private down(start: number): void {
    const keys = this.keys;
    const ids = this.ids;
    const n = this.size;
    let i = start;
    const key = keys[i]!;
    const id = ids[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && keys[c + 1]! < keys[c]!) c++;
      if (keys[c]! >= key) break;
      keys[i] = keys[c]!;
      ids[i] = ids[c]!;
      i = c;
    }
    keys[i] = key;
    ids[i] = id;
  }
}
