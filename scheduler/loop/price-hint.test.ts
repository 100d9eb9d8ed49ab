import { describe, expect, it } from 'vitest';
import { MAX_DEMAND_CHANGE, priceHintFor, pricesOfDecision, storedPriceHint, totalDemand } from './price-hint.ts';

describe('price hint', () => {
  const last = { prices: { a: 3, b: 0 }, demand_rps: 1000 };

  it('keeps the last prices while the total demand is within MAX_DEMAND_CHANGE of the priced one', () => {
    expect(priceHintFor(last, 1000)).toBe(last.prices);
    expect(priceHintFor(last, 1000 * (1 + MAX_DEMAND_CHANGE))).toBe(last.prices);
    expect(priceHintFor(last, 1000 * (1 - MAX_DEMAND_CHANGE))).toBe(last.prices);
  });

  it('drops them past it, either way (the first cycle after start read half the demand: 683k then 1.30M rps)', () => {
    expect(priceHintFor(last, 1000 * (1 + MAX_DEMAND_CHANGE) + 1)).toBeUndefined();
    expect(priceHintFor(last, 1000 * (1 - MAX_DEMAND_CHANGE) - 1)).toBeUndefined();
    expect(priceHintFor({ prices: { a: 1 }, demand_rps: 683_032 }, 1_299_316)).toBeUndefined();
  });

  it('no last decision, or one that placed no demand: no hint unless there is still none', () => {
    expect(priceHintFor(undefined, 5)).toBeUndefined();
    expect(priceHintFor({ prices: { a: 1 }, demand_rps: 0 }, 5)).toBeUndefined();
    expect(priceHintFor({ prices: { a: 1 }, demand_rps: 0 }, 0)).toEqual({ a: 1 });
  });

  it('totals demand as the decision core reads it: non-finite and negative count as 0', () => {
    expect(totalDemand([{ demand_rps: 2 }, { demand_rps: NaN }, { demand_rps: -1 }, { demand_rps: Infinity }, { demand_rps: 3.5 }])).toBe(5.5);
  });

  it("keeps a decision's finite prices with the demand it placed; none left, nothing to keep", () => {
    expect(pricesOfDecision({ origins: { a: { price: 3 }, b: { price: 0 }, c: { price: NaN } } }, 120)).toEqual({ prices: { a: 3, b: 0 }, demand_rps: 120 });
    expect(pricesOfDecision({ origins: {} }, 120)).toBeUndefined();
  });

  it('stored prices keep only origins that still exist; an origin added since is not named (decide() starts it at 0)', () => {
    const stored = { prices: { a: 3, gone: 7, b: -0.5 }, demand_rps: 900 };
    expect(storedPriceHint(stored, [{ id: 'a' }, { id: 'b' }, { id: 'new' }])).toEqual({ prices: { a: 3, b: -0.5 }, demand_rps: 900 });
    expect(storedPriceHint(stored, [{ id: 'other' }])).toBeUndefined();
  });
});
