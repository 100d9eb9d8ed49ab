// Typed-array columns (the learning table's, the export ledger's) grow by copying into a larger array.

type Column = Float64Array | Int32Array | Uint8Array;

/** A copy of `a` with room for `size` elements (the new ones zero). */
export function resized<T extends Column>(a: T, size: number): T {
  const b = new (a.constructor as new (n: number) => T)(size);
  b.set(a);
  return b;
}
