// Operator overrides in force (model/override.ts, read from the store every cycle) as the core sees
// them (ProblemOverrides): edges and DNS subnet ranges resolved to this cycle's source ids, dials as
// fractions. Expiry and cancellation are the store's business (activeOverrides returns only those in
// force), so an expired override stops applying in the first cycle after it expires.
//
// `now` (apply undamped) is honoured in the first cycle this replica sees the override, and never again:
// afterwards the override is a bound like any other and the damping walks as usual. A replica that
// takes over the lease later has not seen it, so an override younger than `nowWindowMs` (3 intervals,
// at least a minute) still counts as new there (a takeover soon after the request applies it at once
// too); an older one does not.
import { cidrContains, type Override } from '../../model/index.ts';
import type { ProblemOverrides, SourceState } from '../core/index.ts';
import { EDGE_PREFIX, SUBNET_PREFIX } from './connection-sources.ts';

export class OverrideTracker {
  /** Override ids each load balancer's cycles have seen (by this replica). */
  private readonly seen = new Map<string, Set<string>>();

  constructor(private readonly nowWindowMs: number) {}

  /**
   * The core's view of `active` for these sources. `at` is this cycle's clock (ms). Overrides that
   * touch no source this cycle are passed on all the same: the decision reports them as void.
   */
  resolve(lbId: string, active: readonly Override[], sources: readonly SourceState[], at: number): ProblemOverrides | undefined {
    const seen = this.seen.get(lbId) ?? new Set<string>();
    this.seen.set(lbId, seen);
    // Forget what is no longer in force (a cancelled id is never reused, so nothing is lost).
    const ids = new Set(active.map((o) => o.id));
    for (const id of seen) if (!ids.has(id)) seen.delete(id);
    if (active.length === 0) return undefined;
    const out: Required<ProblemOverrides> = { dials: [], shares: [], force: [] };
    for (const o of active) {
      const now = o.now && !seen.has(o.id) && at - Date.parse(o.created_at) <= this.nowWindowMs;
      seen.add(o.id);
      if (o.kind === 'dial') out.dials.push({ id: o.id, origin: o.origin_id!, fraction: o.percent! / 100, now });
      else if (o.kind === 'share') out.shares.push({ id: o.id, origin: o.origin_id!, source: o.edge_id !== undefined ? `${EDGE_PREFIX}${o.edge_id}` : undefined, min: o.min_share, max: o.max_share, now });
      else out.force.push({ id: o.id, sources: forcedSources(o, sources), weights: o.weights!, now });
    }
    return out;
  }

  forget(lbId: string): void {
    this.seen.delete(lbId);
  }
}

/** The sources a force override fixes: its edge, or every DNS subnet source inside its range. */
function forcedSources(o: Override, sources: readonly SourceState[]): string[] {
  if (o.edge_id !== undefined) return [`${EDGE_PREFIX}${o.edge_id}`];
  return sources.filter((s) => s.id.startsWith(SUBNET_PREFIX) && cidrContains(o.subnet!, s.id.slice(SUBNET_PREFIX.length))).map((s) => s.id);
}
