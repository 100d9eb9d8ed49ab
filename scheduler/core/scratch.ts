// Reusable work arrays for decide(). At 100k sources × 20 origins every sources × origins array is
// 16 MB; a decision needs half a dozen of them. Allocated afresh on every call they are ~100 MB of new
// ArrayBuffers per cycle, and V8 answers that much external memory with full garbage collections over
// the whole heap — two or three per call, which cost more than the arithmetic (measured: ~0.5 s of a
// 1.2 s decide()). Kept here and reused they cost nothing after the first cycle.
//
// Only for arrays that do not outlive the call: nothing handed back to a caller may come from here.
// decide() is synchronous and each worker thread has its own module instance, so one call at a time
// uses them. The price is memory held between calls: the sources × origins arrays of the largest
// problem seen, which that problem needed at its peak anyway — two without connection state (the rows'
// plan shares, in the cost matrix's buffer where there is one: merged-costs.ts builds none; the weights
// in force, later the new weights) plus the merged rows' costs and flows: ~590 MB at 1M subnets
// (128,850 × 200), ~50 MB at 100k × 20.
export class Scratch {
  private readonly f64s = new Map<string, Float64Array>();
  private readonly i32s = new Map<string, Int32Array>();

  /** A Float64Array of `length` (zero-filled, or `fill`) for the purpose `name`. The same name returns
   * the same memory on the next call, so one name must not be used for two arrays alive at once. */
  f64(name: string, length: number, fill = 0): Float64Array {
    const had = this.f64s.get(name);
    const buffer = this.f64Raw(name, length);
    if (buffer !== had) {
      // Fresh (zeroed) memory: only a non-zero fill has work to do.
      if (fill !== 0) buffer.fill(fill);
      return buffer;
    }
    const view = buffer.length === length ? buffer : buffer.subarray(0, length);
    view.fill(fill);
    return view;
  }

  /** A Float64Array of at least `length` (contents unspecified) for `name`; the same memory as f64(name). */
  f64Raw(name: string, length: number): Float64Array {
    return kept(this.f64s, name, length, (n) => new Float64Array(n));
  }

  /** f64Raw(name) enlarged to at least `length` (doubling), its first `used` entries kept: for an array
   * filled as it grows (merged-costs.ts). */
  f64Grow(name: string, length: number, used: number): Float64Array {
    const had = this.f64s.get(name);
    if (had && had.length >= length) return had;
    const grown = new Float64Array(Math.max(length, 2 * (had?.length ?? 0)));
    if (had) grown.set(had.subarray(0, used));
    this.f64s.set(name, grown);
    return grown;
  }

  /** Makes sure f64(name) has room for `length` and that its memory is mapped: a new array is written
   * through once, so its pages are faulted in now (prepare.ts) rather than inside the next decide().
   * Nothing to do when the array is already that large. */
  prefault(name: string, length: number): boolean {
    const had = this.f64s.get(name);
    if (had && had.length >= length) return false;
    this.f64Raw(name, length).fill(0, 0, length);
    return true;
  }

  /** The Float64Arrays kept, by name (prepare.test.ts: which arrays a decision allocated). */
  f64Arrays(): ReadonlyMap<string, Float64Array> {
    return this.f64s;
  }

  /** An Int32Array of at least `length` (contents unspecified) for the purpose `name`, kept like f64's. */
  i32(name: string, length: number): Int32Array {
    return kept(this.i32s, name, length, (n) => new Int32Array(n));
  }
}

/**
 * The array kept under `name`, replaced by a new one of `length` when it is shorter. Kept at the largest
 * size asked for: the live loop decides load balancers of very different sizes in one worker, and
 * shrinking for the small ones would reallocate for the large one every cycle.
 */
function kept<T extends { length: number }>(arrays: Map<string, T>, name: string, length: number, make: (length: number) => T): T {
  let buffer = arrays.get(name);
  if (!buffer || buffer.length < length) {
    buffer = make(length);
    arrays.set(name, buffer);
  }
  return buffer;
}

/** The module's scratch space (one per thread). */
export const scratch = new Scratch();
