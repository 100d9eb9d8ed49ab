// The stall log of the scale harnesses: a 10 ms ticker's longest late firing, put on the loop stage in
// progress — named after the last stage the loop reported done (`at(stage)` from its onStage), so a
// stall filed under "inputs" happened in the stage after inputs. `start` is the cycle's first stage,
// `harness` the harness's own work after the cycle.
import { performance } from 'node:perf_hooks';

export class StallLog {
  private stage = 'start';
  private byStage: Record<string, number> = {};
  private tickAt = performance.now();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly tickMs = 10) {
    this.timer = setInterval(() => {
      const now = performance.now();
      const gap = Math.round(now - this.tickAt - this.tickMs);
      if (gap > (this.byStage[this.stage] ?? 0)) this.byStage[this.stage] = gap;
      this.tickAt = now;
    }, tickMs);
  }

  /** The stage now in progress is the one after `stage`. */
  at(stage: string): void {
    this.stage = stage;
  }

  /** Starts a cycle's record (from now: what ran before, e.g. the harness's forced GC, is not the cycle's). */
  restart(): void {
    this.byStage = {};
    this.stage = 'start';
    this.tickAt = performance.now();
  }

  /** The longest stall per stage since restart(). */
  get stalls(): Record<string, number> {
    return this.byStage;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
