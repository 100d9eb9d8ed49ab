// CSV of a simulation: one line per run, cycle and origin.
import type { RunResult } from './run.ts';

export const CSV_HEADER = 'run,cycle,t_s,origin,load_rps,target_rps,max_rps,share,healthy,admin_state,demand_rps,lost_rps,mean_rtt_ms,overload_rps,reason,step_fraction,limited_by';

export function toCsv(runs: RunResult[]): string {
  const lines = [CSV_HEADER];
  for (const r of runs) {
    for (const c of r.cycles) {
      for (const [id, o] of Object.entries(c.origins)) {
        lines.push(
          [
            csvField(r.name),
            c.cycle,
            c.t_s,
            csvField(id),
            num(o.load_rps),
            num(o.target_rps),
            num(o.max_rps),
            num(o.share, 6),
            o.healthy,
            o.admin_state,
            num(c.demand_rps),
            num(c.lost_rps),
            num(c.mean_rtt_ms),
            num(c.decision.overload_rps),
            c.decision.reason,
            num(c.decision.fraction, 6),
            c.decision.limited_by,
          ].join(','),
        );
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

function num(x: number, digits = 3): string {
  return Number.isFinite(x) ? String(Math.round(x * 10 ** digits) / 10 ** digits) : '';
}

function csvField(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
