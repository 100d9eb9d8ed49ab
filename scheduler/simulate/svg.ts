// A hand-rolled SVG line chart: load per origin over time, against its capacity (max_rps as a wide
// translucent band in the origin's colour, target_rps dotted where it differs), for one or more runs (solid
// for the first run, other dash patterns for the next), total demand in grey. No dependencies, readable
// in a browser or an image viewer.
import type { RunResult } from './run.ts';
import { escapeXml, niceCeil, ticks } from '../../lib/svg-axes.ts';

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];
const RUN_DASH = ['', '7 4', '2 3', '10 3 2 3'];

export interface ChartOptions {
  title: string;
  /** A note under the legend (e.g. what moves the total demand). */
  note?: string[] | undefined;
  width?: number;
  height?: number;
}

export function toSvg(runs: RunResult[], opts: ChartOptions): string {
  const W = opts.width ?? 1000;
  const H = opts.height ?? 560;
  const m = { left: 70, right: 250, top: 48, bottom: 56 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const originIds = [...new Set(runs.flatMap((r) => Object.keys(r.cycles[0]?.origins ?? {})))];
  const tMax = Math.max(1, ...runs.map((r) => r.cycles[r.cycles.length - 1]?.t_s ?? 0));
  let yMax = 1;
  for (const r of runs) {
    for (const c of r.cycles) {
      yMax = Math.max(yMax, c.demand_rps);
      for (const o of Object.values(c.origins)) {
        yMax = Math.max(yMax, o.load_rps);
        if (Number.isFinite(o.max_rps) && o.max_rps < yMax * 3) yMax = Math.max(yMax, o.max_rps);
      }
    }
  }
  yMax = niceCeil(yMax * 1.08);
  const x = (t: number): number => m.left + (t / tMax) * pw;
  const y = (v: number): number => m.top + ph - (Math.min(v, yMax) / yMax) * ph;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${m.left}" y="24" font-size="16" font-weight="bold">${escapeXml(opts.title)}</text>`);
  // Axes and grid.
  const yTicks = ticks(yMax);
  for (const v of yTicks) {
    out.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.left - 8}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${fmt(v)}</text>`);
  }
  const useMinutes = tMax >= 300;
  const xTicks = ticks(useMinutes ? tMax / 60 : tMax).map((v) => (useMinutes ? v * 60 : v));
  for (const t of xTicks) {
    out.push(`<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${m.top}" y2="${m.top + ph}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${x(t).toFixed(1)}" y="${m.top + ph + 18}" text-anchor="middle">${fmt(useMinutes ? t / 60 : t)}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${m.left + pw / 2}" y="${H - 14}" text-anchor="middle">time (${useMinutes ? 'minutes' : 'seconds'})</text>`);
  out.push(`<text transform="translate(18 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">requests per second</text>`);

  const path = (pts: [number, number][]): string => pts.map(([t, v], i) => `${i === 0 ? 'M' : 'L'}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  const stepPath = (pts: [number, number][]): string =>
    pts.map(([t, v], i) => (i === 0 ? `M${x(t).toFixed(1)},${y(v).toFixed(1)}` : `H${x(t).toFixed(1)} V${y(v).toFixed(1)}`)).join(' ');
  runs.forEach((r, ri) => {
    const dash = RUN_DASH[ri % RUN_DASH.length]!;
    out.push(`<path d="${path(r.cycles.map((c) => [c.t_s, c.demand_rps]))}" fill="none" stroke="#999" stroke-width="1" ${dash ? `stroke-dasharray="${dash}"` : ''}/>`);
    originIds.forEach((id, k) => {
      const colour = COLOURS[k % COLOURS.length]!;
      out.push(`<path d="${path(r.cycles.map((c) => [c.t_s, c.origins[id]?.load_rps ?? 0]))}" fill="none" stroke="${colour}" stroke-width="2" ${dash ? `stroke-dasharray="${dash}"` : ''}/>`);
    });
  });
  // Capacity lines (from the first run: the world is the same in every run).
  const first = runs[0];
  if (first) {
    originIds.forEach((id, k) => {
      const colour = COLOURS[k % COLOURS.length]!;
      const maxPts: [number, number][] = first.cycles.filter((c) => Number.isFinite(c.origins[id]?.max_rps)).map((c) => [c.t_s, c.origins[id]!.max_rps]);
      if (maxPts.length > 0 && maxPts.some(([, v]) => v <= yMax)) out.push(`<path d="${stepPath(maxPts)}" fill="none" stroke="${colour}" stroke-width="7" opacity="0.25"/>`);
        const [, lastMax] = maxPts[maxPts.length - 1]!;
        if (lastMax <= yMax) out.push(`<text x="${(m.left + pw - 4).toFixed(1)}" y="${(y(lastMax) - 5).toFixed(1)}" text-anchor="end" fill="${colour}" font-weight="bold" stroke="#fff" stroke-width="3" paint-order="stroke">${escapeXml(id)} max_rps ${fmt(lastMax)}</text>`);
      const tgtPts: [number, number][] = first.cycles.filter((c) => Number.isFinite(c.origins[id]?.target_rps)).map((c) => [c.t_s, c.origins[id]!.target_rps]);
      if (tgtPts.some(([t, v]) => v !== maxPts.find(([tm]) => tm === t)?.[1]) && tgtPts.some(([, v]) => v <= yMax)) {
        out.push(`<path d="${stepPath(tgtPts)}" fill="none" stroke="${colour}" stroke-width="1" stroke-dasharray="1 3" opacity="0.8"/>`);
      }
      // Shade cycles where the origin is unhealthy.
      for (const c of first.cycles) {
        if (c.origins[id] && !c.origins[id].healthy) {
          const next = first.cycles[c.cycle + 1]?.t_s ?? c.t_s;
          out.push(`<rect x="${x(c.t_s).toFixed(1)}" y="${m.top}" width="${Math.max(1, x(next) - x(c.t_s)).toFixed(1)}" height="${ph}" fill="${colour}" opacity="0.08"/>`);
        }
      }
    });
  }
  // Legend.
  let ly = m.top + 4;
  const lx = m.left + pw + 16;
  const legend = (dash: string, colour: string, width: number, label: string): void => {
    out.push(`<line x1="${lx}" x2="${lx + 28}" y1="${ly}" y2="${ly}" stroke="${colour}" stroke-width="${width}" ${dash ? `stroke-dasharray="${dash}"` : ''}/>`);
    out.push(`<text x="${lx + 36}" y="${ly + 4}">${escapeXml(label)}</text>`);
    ly += 18;
  };
  const legendBand = (colour: string, label: string): void => {
    out.push(`<line x1="${lx}" x2="${lx + 28}" y1="${ly}" y2="${ly}" stroke="${colour}" stroke-width="7" opacity="0.25"/>`);
    out.push(`<text x="${lx + 36}" y="${ly + 4}">${escapeXml(label)}</text>`);
    ly += 18;
  };
  runs.forEach((r, ri) => {
    const dash = RUN_DASH[ri % RUN_DASH.length]!;
    out.push(`<text x="${lx}" y="${ly + 4}" font-weight="bold">${escapeXml(r.name)}</text>`);
    ly += 16;
    out.push(`<text x="${lx}" y="${ly + 4}" fill="#555">${escapeXml(`${r.settings.policy}, max_shift ${r.settings.max_shift}`)}</text>`);
    ly += 18;
    originIds.forEach((id, k) => legend(dash, COLOURS[k % COLOURS.length]!, 2, `${id} load`));
    legend(dash, '#999', 1, 'total demand');
    ly += 6;
  });
  out.push(`<text x="${lx}" y="${ly + 4}" font-weight="bold">capacity</text>`);
  ly += 18;
  originIds.forEach((id, k) => {
    const maxNow = first?.cycles[first.cycles.length - 1]?.origins[id]?.max_rps ?? Infinity;
    legendBand(COLOURS[k % COLOURS.length]!, `${id} max_rps${maxNow > yMax ? ` (${Number.isFinite(maxNow) ? fmt(maxNow) : '∞'}, off scale)` : ''}`);
  });
  if (runs.some((r) => r.cycles.some((c) => Object.values(c.origins).some((o) => !o.healthy)))) {
    out.push(`<text x="${lx}" y="${ly + 8}" fill="#555">shaded: origin unhealthy</text>`);
  }
  for (const [i, line] of (opts.note ?? []).entries()) out.push(`<text x="${lx}" y="${ly + 30 + i * 15}" fill="#555" font-size="11">${escapeXml(line)}</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function fmt(v: number): string {
  return Math.abs(v) >= 1000 ? `${Math.round(v / 100) / 10}k` : String(Math.round(v * 100) / 100);
}

