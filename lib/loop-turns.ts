// Turns of the event loop, shared by everything on this thread that does long work in pieces (lib/steps.ts
// runPaced, lib/http-get.ts joining a big body): one piece per turn, whoever runs it. Apart from
// steps.ts so that light modules (http-get) can take turns without loading what steps.ts measures with.
/**
 * Lets the event loop run whatever is queued (timers, I/O callbacks) before continuing: one waiter per
 * turn of the loop. Why not a setImmediate each: the immediates queued before a check phase all run in
 * it, back to back, so k paced tasks in progress at once (the scheduler's PromQL read parses its ~8
 * large answers concurrently) could hold the loop k slices between two timer phases. Waiters are
 * resumed in order, one per turn: an immediate queued while the check phase runs waits for the next
 * turn (Node's event loop), so the loop runs its timers and I/O between any two slices, whoever runs them.
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
