// The calling thread's own CPU time (CLOCK_THREAD_CPUTIME_ID through libc), for timing work inside a
// worker thread while other threads of the process are busy too: process.cpuUsage() sums every thread,
// and Node 20 has no per-thread counterpart (process.threadCpuUsage arrived in Node 23.9). Measuring
// only: where libc cannot be bound (not Linux) it answers undefined and callers report wall time alone.
import { libc, type Libc } from './libc.ts';

const CLOCK_THREAD_CPUTIME_ID = 3;

let bound: { c: Libc; ts: Buffer } | null | undefined;

/** This thread's CPU time in ms (user + system), or undefined where it cannot be read. */
export function threadCpuMs(): number | undefined {
  if (bound === undefined) {
    try {
      bound = { c: libc(), ts: Buffer.alloc(16) };
    } catch {
      bound = null;
    }
  }
  if (bound === null) return undefined;
  if (bound.c.clockGettime(CLOCK_THREAD_CPUTIME_ID, bound.ts) !== 0) return undefined;
  return Number(bound.ts.readBigInt64LE(0)) * 1000 + Number(bound.ts.readBigInt64LE(8)) / 1e6;
}
