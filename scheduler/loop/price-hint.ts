// The next solve's starting prices (problem.price_hint): the last decision's capacity prices, kept per
// load balancer — but only while the demand they priced is still roughly the demand now.
//
// Why the check: the solver is exact from any start (solver/transport.ts), the start only decides how
// many augmenting paths it takes. Prices found for a very different total demand are a worse start than
// none. Measured on the 1M-subnet problem (55,421 merged rows × 200 origins, bench/README.md "The decision
// at 1M"): demand within ±3 % of the priced one, 729 paths from the prices vs ~28k cold; +6.8 %, 6,520
// vs 11,798 (still better); +90 % (the first cycle after start, whose rate window held part of the
// counters' history: 683k → 1.30M rps), 18,900 paths and 2.1 s CPU vs 11,723 and 1.6 s cold. Past
// MAX_DEMAND_CHANGE of the priced total the prices are dropped and the solver starts as it does cold.
// Dropping them changes no decision beyond the choice among equally optimal plans.

/** Relative change of total demand beyond which the last prices are not used (between 0.068 and 0.9 above). */
export const MAX_DEMAND_CHANGE = 0.25;

export interface PricedDemand {
  /** Capacity price per origin id, from the last decision. */
  prices: Record<string, number>;
  /** The total demand (rps) that decision placed. */
  demand_rps: number;
}

/** The hint for a problem of `demandRps` in total, or undefined when `last` priced a too different one. */
export function priceHintFor(last: PricedDemand | undefined, demandRps: number): Record<string, number> | undefined {
  if (!last) return undefined;
  const base = Math.max(last.demand_rps, Number.MIN_VALUE);
  return Math.abs(demandRps - last.demand_rps) / base <= MAX_DEMAND_CHANGE ? last.prices : undefined;
}

/** Σ demand_rps of the problem's sources (non-finite or negative entries count as 0, as the core reads them). */
export function totalDemand(sources: readonly { demand_rps: number }[]): number {
  let total = 0;
  for (const s of sources) if (Number.isFinite(s.demand_rps) && s.demand_rps > 0) total += s.demand_rps;
  return total;
}

/** A decision's capacity prices (finite ones only: the record's schema refuses the rest) and the demand it placed. */
export function pricesOfDecision(decision: { origins: Record<string, { price: number }> }, demandRps: number): PricedDemand | undefined {
  const prices: Record<string, number> = {};
  for (const [id, o] of Object.entries(decision.origins)) if (Number.isFinite(o.price)) prices[id] = o.price;
  return Object.keys(prices).length > 0 ? { prices, demand_rps: demandRps } : undefined;
}

/**
 * Prices read back from the store (another leader's, or this process's before a restart), kept for the
 * origins that still exist: an origin deleted since has no column to price, and one added since starts
 * at 0 as decide() gives any origin the hint does not name. None left: no hint.
 */
export function storedPriceHint(stored: PricedDemand, origins: readonly { id: string }[]): PricedDemand | undefined {
  const prices: Record<string, number> = {};
  for (const o of origins) {
    const p = stored.prices[o.id];
    if (p !== undefined && Number.isFinite(p)) prices[o.id] = p;
  }
  return Object.keys(prices).length > 0 ? { prices, demand_rps: stored.demand_rps } : undefined;
}
