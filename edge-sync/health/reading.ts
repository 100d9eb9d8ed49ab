// What an edge sees of one origin: its verdict (the data plane's own, or edge-sync's active check
// after rise/fall), the last raw check and its latency. Collected per origin and sent to the control
// plane as this edge's vote (reporter.ts); also what the local fallback acts on when the control plane
// cannot be told.
import { groupBy } from '../../lib/group.ts';
export interface OriginReading {
  loadBalancer: string;
  originId: string;
  origin: string;
  healthy: boolean;
  result: 'pass' | 'fail';
  latencyMs: number | null;
  detail: string;
}

/**
 * One reading per origin from several (one per server address, or per data plane): the edge can use
 * the origin if any of them is up, so it is healthy if any reading is; the detail names the others.
 */
export function perOrigin(readings: readonly OriginReading[]): OriginReading[] {
  return [...groupBy(readings, (r) => r.originId).values()].map((rs) => {
    const best = rs.find((r) => r.healthy) ?? rs[0]!;
    const others = rs.filter((r) => r !== best && r.detail !== best.detail);
    return others.length === 0 ? best : { ...best, detail: `${best.detail}; ${others.map((r) => r.detail).join('; ')}` };
  });
}
