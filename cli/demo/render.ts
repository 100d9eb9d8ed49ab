// One frame of the demo's terminal view: per origin load against capacity, its share of demand, and a
// bar; then the cycle's decision.
import type { CycleRecord } from '../../scheduler/simulate/run.ts';

const BAR = 36;

function bar(load: number, target: number, max: number, scale: number): string {
  const cells = Math.round((load / scale) * BAR);
  const tCell = Math.round((target / scale) * BAR);
  const mCell = Math.round((max / scale) * BAR);
  let out = '';
  for (let i = 0; i < BAR; i++) {
    const filled = i < cells;
    const ch = filled ? (i >= mCell ? '!' : '█') : i === tCell ? '┆' : i === mCell ? '│' : '·';
    out += ch;
  }
  return out;
}

export function renderFrame(c: CycleRecord, header: string, decisionLine: string): string {
  const entries = Object.entries(c.origins);
  const scale = Math.max(...entries.map(([, o]) => Math.max(o.max_rps, o.load_rps)), 1) * 1.1;
  const lines = [
    header,
    `cycle ${String(c.cycle).padStart(3)}  t=${String(c.t_s).padStart(5)} s  demand ${c.demand_rps.toFixed(0).padStart(5)} rps  mean RTT ${c.mean_rtt_ms.toFixed(1).padStart(6)} ms${c.lost_rps > 0.5 ? `  lost ${c.lost_rps.toFixed(0)} rps` : ''}`,
    '',
    `  ${'origin'.padEnd(12)} ${'load'.padStart(7)} ${'target'.padStart(7)} ${'max'.padStart(7)} ${'share'.padStart(7)}  load (┆ target, │ max, ! over max)`,
    ...entries.map(([id, o]) => {
      const state = !o.healthy ? ' DOWN' : o.admin_state !== 'active' ? ` ${o.admin_state}` : '';
      return `  ${id.padEnd(12)} ${o.load_rps.toFixed(1).padStart(7)} ${o.target_rps.toFixed(0).padStart(7)} ${o.max_rps.toFixed(0).padStart(7)} ${(o.share * 100).toFixed(1).padStart(6)}%  ${bar(o.load_rps, o.target_rps, o.max_rps, scale)}${state}`;
    }),
    '',
    decisionLine,
    ...(c.events.length > 0 ? [`  events: ${c.events.join('; ')}`] : []),
  ];
  return lines.join('\n');
}
