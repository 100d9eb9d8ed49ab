// Long synchronous work in steps, so it can share an event loop. At 1M subnets the scheduler's input
// assembly, problem building and weight splitting are each hundreds of ms to seconds of CPU on the
// thread that also serves the API and renews the lease; run straight through they stalled it for
// seconds (bench/README.md "The decision at 1M").
import { performance } from 'node:perf_hooks';
import { threadCpuMs } from './thread-cpu.ts';
import { yieldToLoop } from './loop-turns.ts';

export { yieldToLoop };

/**
 * Long synchronous steps are written as generators that `yield` every few thousand items (a step
 * boundary, no value): runToEnd() runs one straight through (tests, small inputs, callers without an
 * event loop to share); runPaced() gives the event loop a turn whenever a slice has run `sliceMs`.
 */
export type Steps<T> = Generator<void, T, void>;

/** Items a step generator handles between two yields (cheap to check, fine enough for 20 ms slices). */
export const STEP_ITEMS = 2048;

export function runToEnd<T>(steps: Steps<T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** What a paced run cost its own thread: CPU inside its slices only, not what ran between them. */
export interface PacedMeter {
  cpu_ms: number;
  slices: number;
}

export async function runPaced<T>(steps: Steps<T>, sliceMs = 20, meter?: PacedMeter): Promise<T> {
  let since = performance.now();
  let cpuSince = meter ? threadCpuMs() : undefined;
  const endSlice = (): void => {
    if (!meter) return;
    meter.slices++;
    const now = threadCpuMs();
    if (now !== undefined && cpuSince !== undefined) meter.cpu_ms += now - cpuSince;
  };
  for (;;) {
    const r = steps.next();
    if (r.done) {
      endSlice();
      return r.value;
    }
    if (performance.now() - since >= sliceMs) {
      endSlice();
      await yieldToLoop();
      since = performance.now();
      if (meter) cpuSince = threadCpuMs();
    }
  }
}
