// Predicted against measured load per cycle, at the origins: what each decision predicted for the cycle
// it starts against what the origins' own counters served in it. Shared by the keep-alive spill and the
// DNS failover scenarios (scripts/keepalive-spill.ts, scripts/dns-failover.ts).
import type { Decision } from './measure.ts';
import { rateOver, type Bin } from './world.ts';

export interface CycleCheck {
  t: number;
  window_s: number;
  origin: string;
  predicted: number;
  measured: number;
  /** The origin's share of what both served in the cycle, as load (× total over the shift), and the prediction's. */
  measured_by_share: number;
  predicted_by_share: number;
  error: number;
}

/**
 * Each decision predicts the load of the cycle it starts — the next `interval` — so compare with what
 * each origin served from it until the next decision, or for one interval when the next cycle came
 * late (a starved scheduler on a loaded machine: the prediction was for one interval, not for five). As for settling, the comparison is on the origin's share of what both served in
 * the cycle (× the total rate over the whole shift), so a CPU stall that shifts requests between bins at
 * both origins alike does not count as a prediction error; the error is relative to the origin's load,
 * with a floor of 10 % of the total (1 req/s off a 5 req/s trickle is not a 20 % error). The raw rates
 * are kept beside it. A window shorter than `minWindowMs` is skipped.
 *
 * Each window is exactly the cycle, [decision, next decision or + interval), its two partial 250 ms
 * bins counted pro rata (rateOver). Not the whole bins inside it: the lab's clients are paced (2.5
 * req/s, one request every 400 ms), and a window of 7/8 of a 2-s cycle catches each client 4 or 5
 * times by its phase — ±1.8 % of counting noise at 100 req/s, the size of the errors this check is
 * for. Nor whole bins from the nearest bin edge: up to 125 ms of the neighbouring cycle, whose load
 * differs by a whole step (through the edge, 15 req/s on a 15 req/s origin in the first cycle).
 */
export function predictionChecks(ds: Decision[], origins: Record<'near' | 'far', [string, string, Bin[]]>, from: number, to: number, totalRate: number, intervalMs: number, minWindowMs = 1000): CycleCheck[] {
  const out: CycleCheck[] = [];
  const timed = ds.filter((d) => Object.keys(d.predicted_load_rps).length > 0).map((d) => ({ d, t: Date.parse(d.created_at) }));
  for (let k = 0; k + 1 < timed.length; k++) {
    const { d, t } = timed[k]!;
    const next = Math.min(timed[k + 1]!.t, t + intervalMs);
    if (t < from || next > to) continue;
    const [a, b] = [t, next];
    if (b - a < minWindowMs) continue;
    const measured = Object.values(origins).map(([, , bins]) => rateOver(bins, 'served', a, b));
    const measuredTotal = measured.reduce((x, y) => x + y, 0);
    const predicted = Object.values(origins).map(([id]) => d.predicted_load_rps[id] ?? 0);
    const predictedTotal = predicted.reduce((x, y) => x + y, 0);
    if (measuredTotal <= 0 || predictedTotal <= 0) continue;
    Object.values(origins).forEach(([, name], i) => {
      const mShare = (measured[i]! / measuredTotal) * totalRate;
      const pShare = (predicted[i]! / predictedTotal) * totalRate;
      out.push({ t, window_s: (b - a) / 1000, origin: name, predicted: predicted[i]!, measured: measured[i]!, measured_by_share: mShare, predicted_by_share: pShare, error: Math.abs(pShare - mShare) / Math.max(mShare, 0.1 * totalRate) });
    });
  }
  return out;
}

/**
 * What the decision made at `t` knew of established connections, for a failed check's detail: a cycle
 * predicted without measured connection state (agents' series not scraped yet on a loaded machine)
 * tells a different story from one predicted with it.
 */
export function connectionStateOf(ds: Decision[], t: number): string {
  const d = ds.find((x) => Date.parse(x.created_at) === t);
  const c = d?.inputs.connections as { sources_with_state?: number; pinned_measured?: number; sources_answered_whole?: number; effective_from?: Record<string, number> } | null | undefined;
  if (!c) return 'its decision had no connection state';
  const from = Object.entries(c.effective_from ?? {}).map(([k, v]) => `${k} ${v}`).join(', ');
  return `its decision: connection state for ${c.sources_with_state ?? 0} sources, pinned share measured for ${c.pinned_measured ?? 0}, effective shares from ${from || 'nothing'}`;
}
