// The stall log of the scale harnesses: a 10 ms ticker's longest late firing, put on the loop stage in
// progress — named after the last stage the loop reported done (`at(stage)` from its onStage), so a
// stall filed under "inputs" happened in the stage after inputs. `start` is the cycle's first stage,
// `harness` the harness's own work after the cycle. The longest gap also gets this thread's own CPU time
// over it (CLOCK_THREAD_CPUTIME_ID): on a shared machine a gap's wall time includes waiting for a core,
// and process CPU would count the decision worker's thread too. And the garbage collection inside it
// (this thread's GC pauses that overlap the gap): the part of a stall no pacing of our own work removes.
import { performance, PerformanceObserver } from 'node:perf_hooks';
import { threadCpuMs } from '../../lib/thread-cpu.ts';

export class StallLog {
  private stage = 'start';
  private byStage: Record<string, number> = {};
  private tickAt = performance.now();
  private cpuAt = threadCpuMs();
  private worst = { wall_ms: 0, cpu_ms: undefined as number | undefined, stage: 'start', from: 0, to: 0 };
  private readonly timer: NodeJS.Timeout;
  /** This thread's GC pauses since restart(): [start, end] in performance.now() time. */
  private gcs: [number, number][] = [];
  private readonly gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) this.gcs.push([e.startTime, e.startTime + e.duration]);
  });

  constructor(private readonly tickMs = 10) {
    this.timer = setInterval(() => {
      const now = performance.now();
      const cpu = threadCpuMs();
      const gap = Math.round(now - this.tickAt - this.tickMs);
      if (gap > (this.byStage[this.stage] ?? 0)) this.byStage[this.stage] = gap;
      if (gap > this.worst.wall_ms) {
        const used = cpu !== undefined && this.cpuAt !== undefined ? cpu - this.cpuAt : undefined;
        this.worst = { wall_ms: gap, cpu_ms: used === undefined ? undefined : Math.round(Math.max(0, used - this.tickMs)), stage: this.stage, from: this.tickAt, to: now };
      }
      this.tickAt = now;
      this.cpuAt = cpu;
    }, tickMs);
    this.gcObserver.observe({ entryTypes: ['gc'] });
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
    this.worst = { wall_ms: 0, cpu_ms: undefined, stage: 'start', from: 0, to: 0 };
    this.gcs = [];
  }

  /**
   * The longest gap since restart(), past the tick: its wall time, this thread's CPU over it (less a
   * tick), the GC pauses inside it (their sum and the longest), and its stage.
   */
  get longest(): { wall_ms: number; cpu_ms: number | undefined; gc_ms: number; gc_max_ms: number; stage: string } {
    const { from, to, ...worst } = this.worst;
    let gc = 0;
    let gcMax = 0;
    for (const [a, b] of this.gcs) {
      const inside = Math.min(b, to) - Math.max(a, from);
      if (inside > 0) {
        gc += inside;
        gcMax = Math.max(gcMax, inside);
      }
    }
    return { ...worst, gc_ms: Math.round(gc), gc_max_ms: Math.round(gcMax) };
  }

  /**
   * The longest gap's window on the monotonic clock in µs, the clock V8's CPU profiles are stamped with
   * (a profile's startTime and timeDeltas): to cut that window out of a profile of the same run.
   */
  get longestWindowUs(): [number, number] {
    const base = Number(process.hrtime.bigint() / 1000n) - performance.now() * 1000;
    return [Math.round(base + this.worst.from * 1000), Math.round(base + this.worst.to * 1000)];
  }

  /** The longest stall per stage since restart(). */
  get stalls(): Record<string, number> {
    return this.byStage;
  }

  stop(): void {
    clearInterval(this.timer);
    this.gcObserver.disconnect();
  }
}
