// Reusable work arrays for decide(). At 100k sources × 20 origins every sources × origins array is
// 16 MB; a decision needs half a dozen of them. Allocated afresh on every call they are ~100 MB of new
// ArrayBuffers per cycle, and V8 answers that much external memory with full garbage collections over
// the whole heap — two or three per call, which cost more than the arithmetic (measured: ~0.5 s of a
// 1.2 s decide()). Kept here and reused they cost nothing after the first cycle.
//
// Only for arrays that do not outlive the call: nothing handed back to a caller may come from here.
// decide() is synchronous and each worker thread has its own module instance, so one call at a time
// uses them. The price is memory held between calls: six sources × origins arrays of the largest
// problem seen (~100 MB at 100k × 20), which that problem needed at its peak anyway.
export class Scratch {
  private readonly f64s = new Map<string, Float64Array>();

  /** A Float64Array of `length` (zero-filled, or `fill`) for the purpose `name`. The same name returns
   * the same memory on the next call, so one name must not be used for two arrays alive at once. */
  f64(name: string, length: number, fill = 0): Float64Array {
    let buffer = this.f64s.get(name);
    // Kept at the largest size asked for: the live loop decides load balancers of very different sizes
    // in one worker, and shrinking for the small ones would reallocate for the large one every cycle.
    if (!buffer || buffer.length < length) {
      buffer = new Float64Array(length);
      this.f64s.set(name, buffer);
      if (fill !== 0) buffer.fill(fill);
      return buffer;
    }
    const view = buffer.length === length ? buffer : buffer.subarray(0, length);
    view.fill(fill);
    return view;
  }
}

/** The module's scratch space (one per thread). */
export const scratch = new Scratch();
