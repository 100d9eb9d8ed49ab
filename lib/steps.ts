// Long synchronous work in steps, so it can share an event loop. At 1M subnets the scheduler's input
// assembly, problem building and weight splitting are each hundreds of ms to seconds of CPU on the
// thread that also serves the API and renews the lease; run straight through they stalled it for
// seconds (bench/README.md "The decision at 1M").
import { performance } from 'node:perf_hooks';
import { threadCpuMs } from './thread-cpu.ts';

/**
 * Lets the event loop run whatever is queued (timers, I/O callbacks) before continuing: one waiter per
 * turn of the loop. Why not a setImmediate each: the immediates queued before a check phase all run in
 * it, back to back, so k paced tasks in progress at once (the scheduler's PromQL read parses its ~8
 * large answers concurrently) could hold the loop k slices between two timer phases. Waiters are
 * resumed in order, one per turn: an immediate queued while the
 * check phase runs waits for the next turn (Node's event loop), so the loop runs its timers and I/O
 * between any two slices, whoever runs them.
 */
export function yieldToLoop(): Promise<void> {
  return new Promise((resolve) => {
    waiting.push(resolve);
    if (!turnScheduled) scheduleTurn();
  });
}

const waiting: (() => void)[] = [];
let turnScheduled = false;

function scheduleTurn(): void {
  turnScheduled = true;
  setImmediate(() => {
    turnScheduled = false;
    const next = waiting.shift();
    if (waiting.length > 0) scheduleTurn();
    next?.();
  });
}

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
