// RTT estimate for a (source, origin) pair nothing has been learned for yet (cold start), from the
// great-circle distance between their locations:
//
//   rtt_ms ≈ base_ms + 2 · distance_km · route_inflation / km_per_ms
//
// Light in fibre covers ~200 km per ms (refractive index ~1.47), the round trip doubles the distance,
// and Internet paths are longer than the great circle (route inflation ~1.3 between well-connected
// metros, more elsewhere); base_ms covers the last mile, stacks and queueing. With the defaults,
// London–New York (5,570 km) estimates to 2 + 2·5570·1.3/200 ≈ 74 ms (measured: ~70–75 ms), and
// Frankfurt–Singapore (10,260 km) to ≈ 135 ms (measured: ~150–170 ms — real paths detour more).
// A learned RTT always wins over the estimate.
import type { GeoPoint, RttModel } from './types.ts';

export const DEFAULT_RTT_MODEL: RttModel = { km_per_ms: 200, route_inflation: 1.3, base_ms: 2 };

const EARTH_RADIUS_KM = 6371.0088;

/** Great-circle distance (haversine), km. */
export function greatCircleKm(a: GeoPoint, b: GeoPoint): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

export function estimateRttMs(a: GeoPoint, b: GeoPoint, model: RttModel = DEFAULT_RTT_MODEL): number {
  return model.base_ms + (2 * greatCircleKm(a, b) * model.route_inflation) / model.km_per_ms;
}
