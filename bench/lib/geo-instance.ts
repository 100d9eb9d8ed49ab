// A transportation problem shaped like the internet-scale case (issue 15): K origins at random places
// on land-ish latitudes, sources clustered around a few hundred cities (so many share a location and
// their RTT rows differ only by noise), RTT = great-circle estimate × (1 ± noise) rounded to 0.01 ms,
// pairs above max_latency excluded, log-normal demand, uneven capacities totalling 1.1 × demand (target
// 0.8 × max) so capacity binds. Used by the solver bench's K=200 rows and its HiGHS cross-check.
import { aboveTargetPenalty } from '../../scheduler/core/costs.ts';
import { estimateRttMs } from '../../scheduler/core/geo.ts';
import type { TransportProblem } from '../../scheduler/solver/transport.ts';
import { seededRandom } from '../../lib/prng.ts';

export interface GeoShape {
  rows: number;
  cols: number;
  /** Number of cities the sources sit around (default 500). */
  cities?: number;
  /** Relative RTT noise per pair (default 0.1). */
  noise?: number;
  maxLatencyMs?: number;
  seed?: number;
}

export function geoTransport(shape: GeoShape): TransportProblem {
  const { rows: n, cols: K } = shape;
  const r = seededRandom(shape.seed ?? 1);
  const place = () => ({ lat: -45 + r() * 110, lon: -180 + r() * 360 });
  const origins = Array.from({ length: K }, place);
  const cities = Array.from({ length: shape.cities ?? 500 }, place);
  const noise = shape.noise ?? 0.1;
  const ceiling = shape.maxLatencyMs ?? 500;
  const cost = new Float64Array(n * K);
  const demand = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const c = cities[Math.floor(r() * cities.length)]!;
    const at = { lat: c.lat + (r() - 0.5), lon: c.lon + (r() - 0.5) };
    let best = 0;
    for (let j = 0; j < K; j++) {
      const ms = Math.round(estimateRttMs(at, origins[j]!) * (1 - noise + 2 * noise * r()) * 100) / 100;
      cost[i * K + j] = ms <= ceiling ? ms : Infinity;
      if (ms < estimateRttMs(at, origins[best]!)) best = j;
    }
    if (cost[i * K + best] === Infinity) cost[i * K + best] = ceiling;
    const g = Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r());
    demand[i] = Math.exp(Math.log(20) + 1.2 * g);
  }
  const D = demand.reduce((a, b) => a + b, 0);
  const weights = Array.from({ length: K }, () => 0.3 + r());
  const W = weights.reduce((a, b) => a + b, 0);
  const cap2 = Float64Array.from(weights, (w) => (1.1 * D * w) / W);
  const cap1 = Float64Array.from(cap2, (c) => 0.8 * c);
  return { rows: n, cols: K, demand, cost, cap1, cap2, penalty: aboveTargetPenalty(cost, K) };
}
