// Where a cycle's time goes on the scheduler's own event loop, stage by stage. The loop shares its
// thread with the HTTP API, lease renewal and health handling: at 1M subnets its synchronous stages
// (reading inputs, building the problem, splitting weights, the SQLite writes) are each hundreds of
// ms, and run back to back they stalled that thread for seconds. lap() ends a stage: it records the
// wall time since the previous lap (the stage's synchronous work plus any I/O it awaited — an upper
// bound on the stall it caused) and yields to the event loop, so queued timers and requests run
// between stages rather than after the whole cycle.
import { performance } from 'node:perf_hooks';
import { yieldToLoop } from '../../lib/steps.ts';

export type StageObserver = (stage: string, ms: number) => void;

export class StageClock {
  private last = performance.now();

  constructor(private readonly observe: StageObserver) {}

  /** Ends `stage` (time since the last lap or construction), then yields. */
  async lap(stage: string): Promise<void> {
    this.observe(stage, performance.now() - this.last);
    await yieldToLoop();
    this.last = performance.now();
  }
}
