// Numbers that say how a run went, per origin: peak load, cycles above max_rps, when the load first
// came within tolerance of where it ended, and how far it swung afterwards.
import type { RunResult } from './run.ts';

export interface OriginSummary {
  final_rps: number;
  peak_rps: number;
  cycles_above_max: number;
  /** First cycle from which the load stays within ±2 % of max_rps (or of its final value when below
   * max_rps) until the end (for at least 5 cycles); null if it never does. */
  settled_at: number | null;
  /** Largest swing (max − min) of the load over the last half of the run. */
  late_swing_rps: number;
}

export function summarise(run: RunResult): Record<string, OriginSummary> {
  const ids = Object.keys(run.cycles[0]?.origins ?? {});
  const out: Record<string, OriginSummary> = {};
  for (const id of ids) {
    const loads = run.cycles.map((c) => c.origins[id]!.load_rps);
    const last = run.cycles[run.cycles.length - 1]!.origins[id]!;
    const final = loads[loads.length - 1] ?? 0;
    const ref = final >= last.max_rps * 0.98 ? last.max_rps : final;
    const tol = Math.max(ref * 0.02, 1e-6);
    let settled: number | null = null;
    for (let k = loads.length - 1; k >= 0; k--) {
      if (Math.abs(loads[k]! - ref) <= tol) settled = k;
      else break;
    }
    // Being within tolerance of your own last value for a couple of cycles is not settling.
    if (settled !== null && loads.length - settled < Math.min(5, loads.length)) settled = null;
    const late = loads.slice(Math.floor(loads.length / 2));
    out[id] = {
      final_rps: final,
      peak_rps: Math.max(...loads),
      cycles_above_max: run.cycles.filter((c) => c.origins[id]!.load_rps > c.origins[id]!.max_rps * (1 + 1e-9)).length,
      settled_at: settled,
      late_swing_rps: late.length > 0 ? Math.max(...late) - Math.min(...late) : 0,
    };
  }
  return out;
}
