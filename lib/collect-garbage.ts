// A full garbage collection on demand, for a server that has just swapped a large structure in.
//
// Why: parsing and indexing a DNS view with a million learned subnets allocates several times the
// view's live size (the JSON text, the parsed objects, the tables' growth), and V8 keeps its heap at
// that high-water mark until its own heuristics run a full collection — which, in a server that then
// sits idle or only answers queries, can take indefinitely: measured, a sluice dns primary held 781 MB
// resident with 101 MB live. Collecting once after a full view is installed gives that memory back.
// Not after deltas: they allocate in proportion to the change, and a collection costs time in
// proportion to the live heap (~0.1-0.3 s at 1M subnets).
//
// Then the C heap: the same garbage has an off-heap side (typed arrays' backing stores, structured
// clones between threads, IPC buffers) that free() hands back to glibc's arenas, which keep it
// resident; malloc_trim(0) returns their free pages to the kernel (measured on a 1M-subnet view:
// see dns/README.md "Memory"). Where there is no glibc (another OS, musl) this step is skipped.
//
// The gc() function is normally only there with --expose-gc; the V8 flag is set at run time and the
// function taken from a fresh context (the usual way to reach it without a command-line flag; the flag
// only exposes the function, it changes no collector behaviour).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { libc } from './libc.ts';

let gc: (() => void) | null | undefined;

/** Runs a full, synchronous collection; false when this runtime offers none (nothing done). */
export function collectGarbage(): boolean {
  if (gc === undefined) {
    gc = (globalThis as { gc?: () => void }).gc ?? null;
    if (!gc) {
      try {
        setFlagsFromString('--expose-gc');
        gc = runInNewContext('gc') as () => void;
      } catch {
        gc = null;
      }
    }
  }
  gc?.();
  // A second one: V8 frees array buffers' backing stores on a background thread after a collection,
  // and the next collection first waits for that, so the trim below finds them free()d (1M view, three
  // runs each: sluice dns 464-501 MB with one collection, 441-474 MB with two; the second is cheap, the
  // first having left little to mark).
  gc?.();
  trimCHeap();
  return gc !== null;
}

let soon: NodeJS.Immediate | null = null;

/**
 * collectGarbage() once the current event has been handled: a collection run from a frame that still
 * holds the big structure (a parameter, the message it came in) cannot free it. Several calls before
 * it runs make one collection.
 */
export function collectSoon(): void {
  soon ??= setImmediate(() => {
    soon = null;
    collectGarbage();
  });
  soon.unref();
}

let trim: ((pad: number) => number) | null | undefined;

/** malloc_trim(0) where glibc offers it; false when it does not (nothing done). */
export function trimCHeap(): boolean {
  if (trim === undefined) {
    try {
      const c = libc();
      trim = (pad) => c.mallocTrim(pad);
    } catch {
      trim = null;
    }
  }
  trim?.(0);
  return trim !== null;
}
