// Turning the lab's raw measurements (250 ms bins from origins and clients, decision records from the
// API) into rates, timelines, results and charts.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COLOURS, renderChart, type Series as ChartSeries } from './chart.ts';
import { rateOf, type Bin, type World } from './world.ts';

export interface Check {
  name: string;
  pass: boolean;
  detail: string;
}

export interface ScenarioResult {
  scenario: string;
  kind: string;
  started_at: string;
  duration_s: number;
  checks: Check[];
  numbers: Record<string, number | string | null>;
  events: { t: number; label: string }[];
  files: Record<string, string>;
}

export class Recorder {
  readonly t0 = Date.now();
  readonly checks: Check[] = [];
  readonly numbers: Record<string, number | string | null> = {};
  readonly events: { t: number; label: string }[] = [];

  constructor(private readonly log: (line: string) => void) {}

  /** Seconds since the recorder started. */
  rel(ms: number): number {
    return Math.round((ms - this.t0) / 10) / 100;
  }

  event(label: string, at = Date.now()): number {
    this.events.push({ t: this.rel(at), label });
    this.log(`[${this.rel(at).toFixed(1)} s] ${label}`);
    return at;
  }

  check(name: string, pass: boolean, detail: string): boolean {
    this.checks.push({ name, pass, detail });
    this.log(`${pass ? 'PASS' : 'FAIL'} ${name}: ${detail}`);
    return pass;
  }

  number(name: string, value: number | string | null): void {
    this.numbers[name] = typeof value === 'number' ? Math.round(value * 1000) / 1000 : value;
  }
}

/** Per-second series [t (s since t0), rate] of a bin field, in `stepMs` steps, each averaged over `windowMs`. */
export function series(bins: Bin[], field: string, t0: number, t1: number, stepMs = 1000, windowMs = 1000): [number, number][] {
  const out: [number, number][] = [];
  for (let t = t0 + windowMs; t <= t1; t += stepMs) out.push([(t - t0) / 1000, rateOf(bins, field, t - windowMs, t)]);
  return out;
}

export interface Decision {
  id: number;
  created_at: string;
  reason: string;
  weights_version: number | null;
  /** Epoch of the scheduler lease it was made under (changes when leadership moves). */
  leader_epoch?: number | null;
  detail: string;
  diff: { source: string; origin_id: string; from: number; to: number }[];
  inputs: Record<string, unknown>;
  /** By origin id: the load the decision predicted for the cycle it starts. */
  predicted_load_rps: Record<string, number>;
}

/** Every decision of the load balancer, oldest first (pages through the audit log). */
export async function decisions(world: World): Promise<Decision[]> {
  const out: Decision[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 20; page++) {
    const q: string = `/api/v1/decisions?load_balancer_id=${world.ids!.lb.id}&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const body: { items: Decision[]; next_cursor: string | null } = await world.api.get(q);
    out.push(...body.items);
    cursor = body.next_cursor;
    if (!cursor) break;
  }
  return out.reverse();
}

/** Median interval between consecutive decisions (ms): the real cycle period. */
export function cyclePeriod(ds: Decision[], fallbackMs: number): number {
  const gaps: number[] = [];
  for (let i = 1; i < ds.length; i++) {
    const g = Date.parse(ds[i]!.created_at) - Date.parse(ds[i - 1]!.created_at);
    if (g > 0) gaps.push(g);
  }
  if (gaps.length === 0) return fallbackMs;
  gaps.sort((a, b) => a - b);
  return gaps[Math.floor(gaps.length / 2)]!;
}

/** Load per origin (measured at the origins) vs capacity, offered load, events: SVG. */
export function writeLoadChart(world: World, rec: Recorder, outDir: string, file: string, title: string, subtitle: string, offered?: Bin[], capacitySteps: Record<string, [number, number][]> = {}, extra: ChartSeries[] = []): string {
  const end = Date.now();
  const chartSeries = world.state.origins.map((o, i) => ({
    label: `${o.name} served (measured)`,
    colour: COLOURS[i % COLOURS.length]!,
    points: series(world.originStats(o.name), 'served', rec.t0, end, 500, 1000),
  }));
  if (offered) chartSeries.push({ label: 'offered by clients', colour: '#999', points: series(offered, 'sent', rec.t0, end, 500, 1000), width: 1, dash: '4 3' } as never);
  chartSeries.push(...(extra as never[]));
  const svg = renderChart({
    title,
    subtitle,
    yLabel: 'requests per second',
    series: chartSeries,
    capacities: world.state.origins.map((o, i) => {
      const points = capacitySteps[o.name] ?? [[0, o.max_rps] as [number, number]];
      return { label: `${o.name} max_rps ${points.map(([, v]) => v).join(' -> ')}`, colour: COLOURS[i % COLOURS.length]!, points };
    }),
    events: rec.events,
  });
  const path = join(outDir, file);
  writeFileSync(path, svg);
  return path;
}

/** Markdown table of RTTs: measured (agents via Prometheus, and the control plane's latency table) vs configured. */
export function rttTable(rows: { from: string; to: string; configured_ms: number; measured_ms: number | null; source: string }[]): string {
  const lines = ['| from | to | configured RTT (ms) | measured RTT (ms) | error | source |', '| --- | --- | --- | --- | --- | --- |'];
  for (const r of rows) {
    const err = r.measured_ms === null ? '—' : `${(((r.measured_ms - r.configured_ms) / r.configured_ms) * 100).toFixed(1)} %`;
    lines.push(`| ${r.from} | ${r.to} | ${r.configured_ms} | ${r.measured_ms === null ? '—' : r.measured_ms.toFixed(1)} | ${err} | ${r.source} |`);
  }
  return `${lines.join('\n')}\n`;
}
