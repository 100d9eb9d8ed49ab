// Where decide()'s time goes, stage by stage (costs, merge, capacity, solve, damping, prediction…): the
// decision worker reports the last decision's stages with its reply, and bench/scale/decide-dump.ts
// prints them. Wall time per stage on the deciding thread (the worker has no thread CPU clock on Node
// 20; on a loaded machine the wall time of a synchronous stage is its CPU time plus the time the thread
// waited for a core). Reading the clock changes nothing decide() computes: its result stays a function
// of the problem alone.
//
// The process's CPU time is recorded beside it: the deciding thread's own CPU where it is the only busy
// thread (bench/scale/decide-dump.ts), meaningless inside the worker while the main thread works too.
//
// One decision at a time per thread (decide() is synchronous), so one module-level record suffices.
import { threadCpuMs } from '../../lib/thread-cpu.ts';

let wall: Record<string, number> = {};
let cpu: Record<string, number> = {};
let lastWall = 0;
let lastCpu = 0;

function cpuMs(): number {
  const own = threadCpuMs();
  if (own !== undefined) return own;
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Starts a decision's stage record. */
export function startStages(): void {
  wall = {};
  cpu = {};
  lastWall = performance.now();
  lastCpu = cpuMs();
}

/** Ends `stage`: the time since the previous lap (or the start) is added to it. */
export function lap(stage: string): void {
  const now = performance.now();
  const used = cpuMs();
  wall[stage] = (wall[stage] ?? 0) + (now - lastWall);
  cpu[stage] = (cpu[stage] ?? 0) + (used - lastCpu);
  lastWall = now;
  lastCpu = used;
}

/** The last decision's stages, wall ms (rounded to 0.1), in the order they first ran. */
export function lastStages(): Record<string, number> {
  return rounded(wall);
}

/** The same stages' CPU time (ms): the deciding thread's own, else the process's. */
export function lastStagesCpu(): Record<string, number> {
  return rounded(cpu);
}

function rounded(ms: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, Math.round(v * 10) / 10]));
}
