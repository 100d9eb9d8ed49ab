import { describe, expect, it } from 'vitest';
import { MAX_DEMAND_CHANGE, priceHintFor, totalDemand } from './price-hint.ts';

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
});
