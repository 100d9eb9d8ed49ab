// A binary min-heap of (key, id) pairs on typed arrays. The transportation solver keeps one per ordered
// pair of columns (hundreds of heaps, millions of entries at 100k sources), so it avoids per-entry
// objects; deletion is lazy (the caller checks the top entry is still valid and pops it if not).
export class MinHeap {
  private keys: Float64Array;
  private ids: Int32Array;
  size = 0;

  constructor(capacity = 16) {
    this.keys = new Float64Array(Math.max(4, capacity));
    this.ids = new Int32Array(Math.max(4, capacity));
  }

  /** Builds a heap from parallel arrays in O(n) (Floyd). */
  static from(keys: Float64Array, ids: Int32Array, count: number): MinHeap {
    const h = new MinHeap(count);
    h.keys.set(keys.subarray(0, count));
    h.ids.set(ids.subarray(0, count));
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
      const k = new Float64Array(this.size * 2);
      k.set(this.keys);
      this.keys = k;
      const d = new Int32Array(this.size * 2);
      d.set(this.ids);
      this.ids = d;
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
