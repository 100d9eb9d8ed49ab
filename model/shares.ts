// Which origins may receive traffic right now, and with what share. Health is applied here, not only by
// the scheduler, so an origin that fails its checks is out of every answer at once, without waiting for
// the next scheduling cycle. Pure: used by the API's views and by the data planes.
import type { WeightMap } from './views.ts';

export interface ShareCandidate {
  id: string;
  healthy: boolean;
  admin_state: 'active' | 'drain' | 'disabled';
  static_weight: number;
}

export interface EffectiveShares {
  shares: WeightMap;
  /** Why these shares: the published weights, static weights, or fail-open when nothing is healthy. */
  basis: 'published' | 'static' | 'fail_open' | 'none';
}

function normalise(entries: [string, number][]): WeightMap | null {
  const total = entries.reduce((s, [, w]) => s + (Number.isFinite(w) && w > 0 ? w : 0), 0);
  if (!(total > 0)) return null;
  return Object.fromEntries(entries.map(([id, w]) => [id, Number.isFinite(w) && w > 0 ? w / total : 0]));
}

/**
 * Published shares restricted to usable origins (healthy, not disabled) and renormalised. When that
 * leaves nothing (no weights yet, or every weighted origin just failed) the static weights of usable
 * origins apply. When no origin is healthy at all, answering with every enabled origin beats answering
 * with none (fail open), as resolvers would otherwise cache a failure.
 */
export function effectiveShares(published: WeightMap | undefined, origins: ShareCandidate[]): EffectiveShares {
  const usable = origins.filter((o) => o.healthy && o.admin_state !== 'disabled');
  if (published) {
    const fromPublished = normalise(usable.map((o) => [o.id, published[o.id] ?? 0]));
    if (fromPublished) return { shares: fromPublished, basis: 'published' };
  }
  // Static weights of healthy active origins; if the only healthy ones are draining, they still beat
  // sending traffic to origins known to be down.
  const fromStatic =
    normalise(usable.filter((o) => o.admin_state === 'active').map((o) => [o.id, o.static_weight])) ??
    normalise(usable.map((o) => [o.id, o.static_weight > 0 ? o.static_weight : 1]));
  if (fromStatic) return { shares: fromStatic, basis: 'static' };
  const enabled = origins.filter((o) => o.admin_state !== 'disabled');
  const failOpen = normalise(enabled.map((o) => [o.id, o.static_weight > 0 ? o.static_weight : 1]));
  if (failOpen) return { shares: failOpen, basis: 'fail_open' };
  return { shares: {}, basis: 'none' };
}
