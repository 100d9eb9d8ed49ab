// The stall log of the scale harnesses: a 10 ms ticker's longest late firing, put on the loop stage in
// progress — named after the last stage the loop reported done (`at(stage)` from its onStage), so a
// stall filed under "inputs" happened in the stage after inputs. `start` is the cycle's first stage,
// `harness` the harness's own work after the cycle. The longest gap also gets this thread's own CPU time
// over it (CLOCK_THREAD_CPUTIME_ID): on a shared machine a gap's wall time includes waiting for a core,
// and process CPU would count the decision worker's thread too.
import { performance } from 'node:perf_hooks';
import { threadCpuMs } from '../../lib/thread-cpu.ts';

export class StallLog {
  private stage = 'start';
  private byStage: Record<string, number> = {};
  private tickAt = performance.now();
  private cpuAt = threadCpuMs();
  private worst = { wall_ms: 0, cpu_ms: undefined as number | undefined, stage: 'start' };
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly tickMs = 10) {
    this.timer = setInterval(() => {
      const now = performance.now();
      const cpu = threadCpuMs();
      const gap = Math.round(now - this.tickAt - this.tickMs);
      if (gap > (this.byStage[this.stage] ?? 0)) this.byStage[this.stage] = gap;
      if (gap > this.worst.wall_ms) {
        const used = cpu !== undefined && this.cpuAt !== undefined ? cpu - this.cpuAt : undefined;
        this.worst = { wall_ms: gap, cpu_ms: used === undefined ? undefined : Math.round(Math.max(0, used - this.tickMs)), stage: this.stage };
      }
      this.tickAt = now;
      this.cpuAt = cpu;
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
    this.cpuAt = threadCpuMs();
    this.worst = { wall_ms: 0, cpu_ms: undefined, stage: 'start' };
  }

  /** The longest gap since restart(), past the tick: its wall time, this thread's CPU over it (less a tick), and its stage. */
  get longest(): { wall_ms: number; cpu_ms: number | undefined; stage: string } {
    return { ...this.worst };
  }

  /** The longest stall per stage since restart(). */
  get stalls(): Record<string, number> {
    return this.byStage;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
