// A small SVG line chart for lab runs: measured load per origin over time (from the origins' own
// counters), each origin's capacity as a translucent band, offered load in grey, and the script's
// events as labelled vertical lines. No dependencies; opens in any browser.
import { escapeXml, niceCeil, ticks } from '../../lib/svg-axes.ts';

export interface Series {
  label: string;
  colour: string;
  points: [number, number][];
  width?: number;
  dash?: string;
}

export interface ChartSpec {
  title: string;
  subtitle?: string;
  yLabel: string;
  series: Series[];
  /** Capacity over time as steps [t, value] (a constant capacity is one point). */
  capacities: { label: string; colour: string; points: [number, number][] }[];
  events: { t: number; label: string }[];
  width?: number;
  height?: number;
}

export const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

export function renderChart(c: ChartSpec): string {
  const W = c.width ?? 1000;
  const H = c.height ?? 520;
  const m = { left: 64, right: 230, top: c.subtitle ? 60 : 44, bottom: 52 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const all = c.series.flatMap((s) => s.points);
  const tMax = Math.max(1, ...all.map(([t]) => t), ...c.events.map((e) => e.t));
  // Capacities far above the traffic (an origin with lots of headroom) would flatten the lines: they are
  // kept off the scale and named as such in the legend.
  const dataMax = Math.max(1, ...all.map(([, v]) => v));
  const onScale = (v: number) => v <= dataMax * 1.6;
  const yMax = niceCeil(Math.max(dataMax, ...c.capacities.flatMap((k) => k.points.map(([, v]) => v)).filter(onScale)) * 1.12);
  const x = (t: number) => m.left + (t / tMax) * pw;
  const y = (v: number) => m.top + ph - (Math.min(Math.max(v, 0), yMax) / yMax) * ph;
  const o: string[] = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  o.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  o.push(`<defs><clipPath id="plot"><rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}"/></clipPath></defs>`);
  const yRaw = (v: number) => m.top + ph - (v / yMax) * ph;
  o.push(`<text x="${m.left}" y="22" font-size="16" font-weight="bold">${escapeXml(c.title)}</text>`);
  if (c.subtitle) o.push(`<text x="${m.left}" y="40" fill="#555">${escapeXml(c.subtitle)}</text>`);
  for (const v of ticks(yMax)) {
    o.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e8e8e8"/>`);
    o.push(`<text x="${m.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${fmt(v)}</text>`);
  }
  for (const t of ticks(tMax)) {
    o.push(`<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${m.top}" y2="${m.top + ph}" stroke="#f2f2f2"/>`);
    o.push(`<text x="${x(t).toFixed(1)}" y="${m.top + ph + 16}" text-anchor="middle">${fmt(t)}</text>`);
  }
  o.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  o.push(`<text x="${m.left + pw / 2}" y="${H - 12}" text-anchor="middle">time (s)</text>`);
  o.push(`<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${escapeXml(c.yLabel)}</text>`);
  for (const k of c.capacities) {
    const pts = [...k.points, [tMax, k.points[k.points.length - 1]?.[1] ?? 0] as [number, number]];
    const d = pts.map(([t, v], i) => (i === 0 ? `M${x(t).toFixed(1)},${yRaw(v).toFixed(1)}` : `H${x(t).toFixed(1)} V${yRaw(v).toFixed(1)}`)).join(' ');
    if (k.points.some(([, v]) => onScale(v))) o.push(`<path d="${d}" fill="none" stroke="${k.colour}" stroke-width="8" opacity="0.2" clip-path="url(#plot)"/>`);
  }
  c.events.forEach((e, i) => {
    o.push(`<line x1="${x(e.t).toFixed(1)}" x2="${x(e.t).toFixed(1)}" y1="${m.top}" y2="${m.top + ph}" stroke="#888" stroke-dasharray="3 3"/>`);
    o.push(`<text x="${(x(e.t) + 3).toFixed(1)}" y="${m.top + 12 + (i % 5) * 13}" fill="#555" font-size="11" clip-path="url(#plot)">${escapeXml(e.label.length > 34 ? `${e.label.slice(0, 33)}…` : e.label)}</text>`);
  });
  for (const s of c.series) {
    if (s.points.length === 0) continue;
    const d = s.points.map(([t, v], i) => `${i === 0 ? 'M' : 'L'}${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    o.push(`<path d="${d}" fill="none" stroke="${s.colour}" stroke-width="${s.width ?? 2}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
  }
  let ly = m.top + 6;
  const lx = m.left + pw + 14;
  for (const s of c.series) {
    o.push(`<line x1="${lx}" x2="${lx + 26}" y1="${ly}" y2="${ly}" stroke="${s.colour}" stroke-width="${s.width ?? 2}"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    o.push(`<text x="${lx + 32}" y="${ly + 4}">${escapeXml(s.label)}</text>`);
    ly += 18;
  }
  for (const k of c.capacities) {
    const off = !k.points.some(([, v]) => onScale(v));
    o.push(`<line x1="${lx}" x2="${lx + 26}" y1="${ly}" y2="${ly}" stroke="${k.colour}" stroke-width="8" opacity="0.2"/>`);
    o.push(`<text x="${lx + 32}" y="${ly + 4}">${escapeXml(k.label)}${off ? ' (off scale)' : ''}</text>`);
    ly += 18;
  }
  o.push('</svg>');
  return `${o.join('\n')}\n`;
}

function fmt(v: number): string {
  return String(Math.round(v * 100) / 100);
}

