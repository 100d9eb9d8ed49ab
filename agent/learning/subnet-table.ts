// The per-client-subnet table. Pure data structure, no I/O, no clock (callers pass `nowMs`).
//
// Layout (why): an agent tracks up to max_subnets (default 100k) subnets for days, so each entry is a
// slot in a set of typed-array columns (struct of arrays) rather than an object: ~110 bytes per subnet
// (the subnet string, its Map entry, 11 numbers) against ~290 for an object with boxed numbers, and the
// garbage collector scans no per-subnet objects at all. Columns grow by doubling up to max_subnets;
// removed slots are reused through a free list.
//
// Recency order is a doubly linked list through the slots (prev/next columns): touching an entry moves
// it to the tail, so the head is always the least recently seen subnet. LRU eviction (drop the head when
// full) and TTL expiry (drop from the head while expired) are O(1) per removed entry, never a scan.
//
// Readers get SubnetEntry views: live accessors onto a slot, valid until that subnet is evicted or
// expired (a view is not kept across polls by any caller).
//
// The table also holds each subnet's connection turnover (closes, connection-seconds: learning/
// turnover.ts counts them, as its SubnetCounters), so the agent keeps one entry per subnet, not a second
// map of objects beside this one (100k subnets: ~10 MB of heap less), and a subnet's turnover goes with
// it when it is evicted or expires.
import { resized } from './columns.ts';
import type { RttStat } from './rtt-stat.ts';
import type { SubnetCounters, SubnetTurnover } from './turnover.ts';

export interface SubnetEntry extends Readonly<RttStat> {
  readonly subnet: string;
}

export interface SubnetTableOptions {
  maxSubnets: number;
  ttlMs: number;
  alpha: number;
}

const NONE = -1;
const INITIAL_SLOTS = 1024;

export class SubnetTable implements SubnetCounters {
  private readonly index = new Map<string, number>();
  private keys: string[] = [];
  private ewmaUs = new Float64Array(0); // NaN: no sample yet
  private minRttUs = new Float64Array(0); // NaN: no sample yet
  private samples = new Float64Array(0);
  private connections = new Float64Array(0);
  private firstSeenMs = new Float64Array(0);
  private lastSeenMs = new Float64Array(0);
  private lastSampleMs = new Float64Array(0); // NaN: no sample yet
  private closes = new Float64Array(0);
  private connectionSeconds = new Float64Array(0);
  private prev = new Int32Array(0);
  private next = new Int32Array(0);
  private head = NONE;
  private tail = NONE;
  private free = NONE;
  private used = 0;
  /** Subnets dropped because the table was full (LRU). */
  evicted = 0;
  /** Subnets dropped because nothing was seen from them for ttlMs. */
  expired = 0;

  constructor(private readonly opts: SubnetTableOptions) {}

  get size(): number {
    return this.index.size;
  }

  /** The table's own string for a subnet it holds (callers keep it instead of an equal copy). */
  keyOf(subnet: string): string | undefined {
    const slot = this.index.get(subnet);
    return slot === undefined ? undefined : this.keys[slot];
  }

  get(subnet: string): SubnetEntry | undefined {
    const slot = this.index.get(subnet);
    return slot === undefined ? undefined : new SubnetView(this, slot);
  }

  /** Marks the subnet as seen now (creating it if new) and moves it to the most-recent end. */
  touch(subnet: string, nowMs: number): SubnetEntry {
    return new SubnetView(this, this.touchSlot(subnet, nowMs));
  }

  /** Counts one new connection from the subnet (demand). */
  countConnection(subnet: string, nowMs: number): void {
    const i = this.touchSlot(subnet, nowMs); // first: it may grow (replace) the columns
    this.connections[i]! += 1;
  }

  /**
   * Folds a poll's representative RTT for the subnet: EWMA new = alpha * value + (1 - alpha) * old (the
   * first sample initialises it), minimum, sample count (rtt-stat.ts does the same for upstreams).
   */
  observe(subnet: string, valueUs: number, minUs: number, count: number, nowMs: number): void {
    const i = this.touchSlot(subnet, nowMs);
    const old = this.ewmaUs[i]!;
    this.ewmaUs[i] = Number.isNaN(old) ? valueUs : this.opts.alpha * valueUs + (1 - this.opts.alpha) * old;
    const min = this.minRttUs[i]!;
    this.minRttUs[i] = Number.isNaN(min) ? minUs : Math.min(min, minUs);
    this.samples[i]! += count;
    this.lastSampleMs[i] = nowMs;
  }

  /** Adds turnover to a subnet the table holds; a subnet it no longer holds (evicted, expired) is skipped. */
  addTurnover(subnet: string, connectionSeconds: number, closes: number): void {
    const i = this.index.get(subnet);
    if (i === undefined) return;
    this.connectionSeconds[i]! += connectionSeconds;
    this.closes[i]! += closes;
  }

  /**
   * A subnet's cumulative turnover since it entered the table; undefined when it holds no such subnet.
   * `out`: filled and returned instead of a new object.
   */
  turnoverOf(subnet: string, out?: SubnetTurnover): SubnetTurnover | undefined {
    const i = this.index.get(subnet);
    if (i === undefined) return undefined;
    if (!out) return { closes: this.closes[i]!, connectionSeconds: this.connectionSeconds[i]! };
    out.closes = this.closes[i]!;
    out.connectionSeconds = this.connectionSeconds[i]!;
    return out;
  }

  /** Drops subnets not seen for ttlMs; returns how many. Walks only the expired prefix. */
  expire(nowMs: number): number {
    let n = 0;
    while (this.head !== NONE && nowMs - this.lastSeenMs[this.head]! > this.opts.ttlMs) {
      this.remove(this.head);
      n++;
    }
    this.expired += n;
    return n;
  }

  /** Least recently seen first. */
  *values(): IterableIterator<SubnetEntry> {
    for (let i = this.head; i !== NONE; i = this.next[i]!) yield new SubnetView(this, i);
  }

  /** Every subnet, least recently seen first, as one array (no generator: no result object per subnet). */
  list(): SubnetEntry[] {
    const out = new Array<SubnetEntry>(this.size);
    let k = 0;
    for (let i = this.head; i !== NONE; i = this.next[i]!) out[k++] = new SubnetView(this, i);
    return out;
  }

  /** Most recently seen first, at most `limit`. */
  recent(limit: number): SubnetEntry[] {
    const out: SubnetEntry[] = [];
    for (let i = this.tail; i !== NONE && out.length < limit; i = this.prev[i]!) out.push(new SubnetView(this, i));
    return out;
  }

  /**
   * The `limit` subnets with the most traffic (connections, then samples, then name) among those with
   * at least `minSamples` samples (and an RTT, when minSamples > 0): the ones worth a Prometheus series.
   * A bounded heap of `limit` slots: O(n log limit) and no array of the whole table per poll.
   */
  top(limit: number, minSamples: number): SubnetEntry[] {
    if (limit <= 0) return [];
    const heap = new Int32Array(Math.min(limit, this.size));
    let n = 0;
    // heap[0] is the least busy of those kept: a candidate replaces it when busier.
    for (let i = this.head; i !== NONE; i = this.next[i]!) {
      if (this.samples[i]! < minSamples || (minSamples > 0 && Number.isNaN(this.ewmaUs[i]!))) continue;
      if (n < heap.length) {
        heap[n] = i;
        siftUp(this, heap, n++);
      } else if (this.busier(i, heap[0]!)) {
        heap[0] = i;
        siftDown(this, heap, n);
      }
    }
    const slots = Array.from(heap.subarray(0, n)).sort((a, b) => (this.busier(a, b) ? -1 : 1));
    return slots.map((i) => new SubnetView(this, i));
  }

  /** True when slot a ranks before slot b: more connections, then more samples, then the smaller name. */
  busier(a: number, b: number): boolean {
    const c = this.connections[a]! - this.connections[b]!;
    if (c !== 0) return c > 0;
    const s = this.samples[a]! - this.samples[b]!;
    if (s !== 0) return s > 0;
    return this.keys[a]! < this.keys[b]!;
  }

  /** Reads one column of a slot (SubnetView's accessors). */
  read(slot: number, field: 'subnet'): string;
  read(slot: number, field: NumericField): number;
  read(slot: number, field: 'subnet' | NumericField): string | number {
    return field === 'subnet' ? this.keys[slot]! : this[field][slot]!;
  }

  private touchSlot(subnet: string, nowMs: number): number {
    let i = this.index.get(subnet);
    if (i !== undefined) {
      if (i !== this.tail) {
        this.unlink(i);
        this.linkTail(i);
      }
      if (nowMs > this.lastSeenMs[i]!) this.lastSeenMs[i] = nowMs;
      return i;
    }
    while (this.index.size >= this.opts.maxSubnets && this.head !== NONE) {
      this.remove(this.head);
      this.evicted++;
    }
    i = this.allocate();
    this.index.set(subnet, i);
    this.keys[i] = subnet;
    this.ewmaUs[i] = NaN;
    this.minRttUs[i] = NaN;
    this.samples[i] = 0;
    this.connections[i] = 0;
    this.firstSeenMs[i] = nowMs;
    this.lastSeenMs[i] = nowMs;
    this.lastSampleMs[i] = NaN;
    this.closes[i] = 0;
    this.connectionSeconds[i] = 0;
    this.linkTail(i);
    return i;
  }

  private allocate(): number {
    if (this.free !== NONE) {
      const i = this.free;
      this.free = this.next[i]!;
      return i;
    }
    if (this.used === this.ewmaUs.length) this.grow();
    return this.used++;
  }

  private grow(): void {
    const size = Math.min(Math.max(INITIAL_SLOTS, this.ewmaUs.length * 2), Math.max(this.opts.maxSubnets, 1));
    this.ewmaUs = resized(this.ewmaUs, size);
    this.minRttUs = resized(this.minRttUs, size);
    this.samples = resized(this.samples, size);
    this.connections = resized(this.connections, size);
    this.firstSeenMs = resized(this.firstSeenMs, size);
    this.lastSeenMs = resized(this.lastSeenMs, size);
    this.lastSampleMs = resized(this.lastSampleMs, size);
    this.closes = resized(this.closes, size);
    this.connectionSeconds = resized(this.connectionSeconds, size);
    this.prev = resized(this.prev, size);
    this.next = resized(this.next, size);
  }

  private remove(i: number): void {
    this.unlink(i);
    this.index.delete(this.keys[i]!);
    this.keys[i] = '';
    this.next[i] = this.free;
    this.free = i;
  }

  private unlink(i: number): void {
    const p = this.prev[i]!;
    const n = this.next[i]!;
    if (p === NONE) this.head = n;
    else this.next[p] = n;
    if (n === NONE) this.tail = p;
    else this.prev[n] = p;
  }

  private linkTail(i: number): void {
    this.prev[i] = this.tail;
    this.next[i] = NONE;
    if (this.tail === NONE) this.head = i;
    else this.next[this.tail] = i;
    this.tail = i;
  }
}

type NumericField = 'ewmaUs' | 'minRttUs' | 'samples' | 'connections' | 'firstSeenMs' | 'lastSeenMs' | 'lastSampleMs';

/** A live, read-only view of one slot, shaped like the RttStat objects upstreams use. */
class SubnetView implements SubnetEntry {
  constructor(
    private readonly t: SubnetTable,
    private readonly slot: number,
  ) {}
  get subnet(): string {
    return this.t.read(this.slot, 'subnet');
  }
  get ewmaUs(): number | undefined {
    return orUndefined(this.t.read(this.slot, 'ewmaUs'));
  }
  get minRttUs(): number | undefined {
    return orUndefined(this.t.read(this.slot, 'minRttUs'));
  }
  get samples(): number {
    return this.t.read(this.slot, 'samples');
  }
  get connections(): number {
    return this.t.read(this.slot, 'connections');
  }
  get firstSeenMs(): number {
    return this.t.read(this.slot, 'firstSeenMs');
  }
  get lastSeenMs(): number {
    return this.t.read(this.slot, 'lastSeenMs');
  }
  get lastSampleMs(): number | undefined {
    return orUndefined(this.t.read(this.slot, 'lastSampleMs'));
  }
}

const orUndefined = (x: number) => (Number.isNaN(x) ? undefined : x);

/** Min-heap on "busier": heap[0] is the least busy slot kept. */
function siftUp(t: SubnetTable, heap: Int32Array, k: number): void {
  while (k > 0) {
    const parent = (k - 1) >> 1;
    if (!t.busier(heap[parent]!, heap[k]!)) return;
    swap(heap, parent, k);
    k = parent;
  }
}

function siftDown(t: SubnetTable, heap: Int32Array, n: number): void {
  let k = 0;
  for (;;) {
    const l = 2 * k + 1;
    const r = l + 1;
    let least = k;
    if (l < n && t.busier(heap[least]!, heap[l]!)) least = l;
    if (r < n && t.busier(heap[least]!, heap[r]!)) least = r;
    if (least === k) return;
    swap(heap, least, k);
    k = least;
  }
}

function swap(heap: Int32Array, a: number, b: number): void {
  const x = heap[a]!;
  heap[a] = heap[b]!;
  heap[b] = x;
}
