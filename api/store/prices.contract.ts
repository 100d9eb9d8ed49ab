// Capacity prices on decision records, the same on both stores: kept with the decision (published,
// recorded or held), read back equal through listDecisions, the latest priced one readable alone
// (latestPrices: what a new scheduler leader starts its first solve from) through an index of priced
// rows only, and bad values refused by the schema naming the field. `store.test.ts` runs it on both.
import { describe, expect, it } from 'vitest';
import { ZodError } from 'zod';
import { LB, ORIGIN } from './store.contract.ts';
import type { WeightsHarness } from './weights-chain.contract.ts';

/** The ZodError `p` rejects with: its issues as "path: message". */
async function issuesOf(p: Promise<unknown>): Promise<string[]> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ZodError);
  return (err as ZodError).issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}

export function pricesContract(label: string, h: WeightsHarness, engine: 'sqlite' | 'postgres'): void {
  describe(`Decision capacity prices: ${label}`, () => {
    it('keeps each decision’s prices and priced demand; latestPrices reads the newest priced one, skipping holds', async () => {
      const store = await h.fresh();
      const lb = await store.createLoadBalancer(LB);
      const o1 = (await store.createOrigin(lb.id, { ...ORIGIN, name: 'o1' })).id;
      const o2 = (await store.createOrigin(lb.id, { ...ORIGIN, name: 'o2' })).id;
      expect(await store.latestPrices(lb.id)).toBeNull();
      await store.recordDecision({ load_balancer_id: lb.id, reason: 'hold', detail: 'no data' });
      expect(await store.latestPrices(lb.id)).toBeNull();

      // A negative price is a solver dual like any other (model/views.ts CapacityPrices): kept as given.
      const first = { [o1]: 12.625, [o2]: -0.25 };
      const recorded = await store.recordDecision({ load_balancer_id: lb.id, reason: 'optimize', capacity_prices: first, priced_demand_rps: 1234.5 });
      expect(recorded).toMatchObject({ capacity_prices: first, priced_demand_rps: 1234.5 });
      expect(await store.latestPrices(lb.id)).toEqual({ decision_id: recorded.id, created_at: recorded.created_at, prices: first, demand_rps: 1234.5 });

      // A publish carries them too (through the publish path, off-thread on SQLite for big ones), then holds follow.
      const second = { [o1]: 3.5, [o2]: 0 };
      const published = await store.publishWeights(lb.id, { edges: {}, subnets: { '10.0.0.0/24': { [o1]: 1 } } }, { load_balancer_id: lb.id, reason: 'optimize', capacity_prices: second, priced_demand_rps: 1100 });
      expect(published.decision).toMatchObject({ capacity_prices: second, priced_demand_rps: 1100 });
      for (let i = 0; i < 3; i++) await store.recordDecision({ load_balancer_id: lb.id, reason: 'hold', detail: `inputs unavailable ${i}` });
      // Another load balancer's priced decision is not this one's.
      await store.recordDecision({ load_balancer_id: 'lb_other', reason: 'optimize', capacity_prices: { x: 9 }, priced_demand_rps: 1 });

      const peer = await h.peer(store);
      expect(await peer.latestPrices(lb.id)).toEqual({ decision_id: published.decision.id, created_at: published.decision.created_at, prices: second, demand_rps: 1100 });
      const log = (await peer.listDecisions({ limit: 10, load_balancer_id: lb.id })).items;
      expect(log.map((d) => [d.reason, d.capacity_prices, d.priced_demand_rps])).toEqual([
        ['hold', {}, null],
        ['hold', {}, null],
        ['hold', {}, null],
        ['optimize', second, 1100],
        ['optimize', first, 1234.5],
        ['hold', {}, null],
      ]);

      // Pruned with the log: nothing to start from is "solve cold", not an error.
      await store.pruneDecisions(new Date(Date.now() + 1000).toISOString());
      expect(await store.latestPrices(lb.id)).toBeNull();
    });

    it.each([
      ['a NaN price', { capacity_prices: { o1: NaN }, priced_demand_rps: 10 }, 'capacity_prices.o1: expected a finite number (a capacity price)'],
      ['an infinite price', { capacity_prices: { o1: Infinity }, priced_demand_rps: 10 }, 'capacity_prices.o1: expected a finite number (a capacity price)'],
      ['a non-numeric price', { capacity_prices: { o1: '3' }, priced_demand_rps: 10 }, 'capacity_prices.o1: expected a finite number (a capacity price)'],
      ['prices that are not a map', { capacity_prices: [1, 2], priced_demand_rps: 10 }, 'capacity_prices: '],
      ['prices without their demand', { capacity_prices: { o1: 1 } }, 'priced_demand_rps: required with capacity_prices'],
      ['a demand without prices', { priced_demand_rps: 10 }, 'capacity_prices: priced_demand_rps given without capacity_prices'],
      ['a negative priced demand', { capacity_prices: { o1: 1 }, priced_demand_rps: -1 }, 'priced_demand_rps: '],
      ['a NaN priced demand', { capacity_prices: { o1: 1 }, priced_demand_rps: NaN }, 'priced_demand_rps: expected a finite number of rps, or null'],
    ])('refuses %s, naming the field, and writes nothing', async (_, bad, issue) => {
      const store = await h.fresh();
      const lb = await store.createLoadBalancer(LB);
      const issues = await issuesOf(store.recordDecision({ load_balancer_id: lb.id, reason: 'optimize', ...(bad as object) }));
      expect(issues.some((i) => i.startsWith(issue))).toBe(true);
      expect((await store.listDecisions({ limit: 5, load_balancer_id: lb.id })).items).toEqual([]);
      expect(await store.latestPrices(lb.id)).toBeNull();
    });

    it('a decision written before prices existed reads back with none; the index holds priced rows only', async () => {
      const { store, lbId } = await h.legacy(JSON.stringify({ edges: {}, subnets: {} }));
      const [old] = (await store.listDecisions({ limit: 5, load_balancer_id: lbId })).items;
      expect(old).toMatchObject({ detail: 'written before prices', capacity_prices: {}, priced_demand_rps: null });
      expect(await store.latestPrices(lbId)).toBeNull();
      const index =
        engine === 'sqlite'
          ? (await h.sql<{ sql: string }>(store, `SELECT sql FROM sqlite_master WHERE name = 'decisions_priced_by_lb'`))[0]?.sql
          : (await h.sql<{ indexdef: string }>(store, `SELECT indexdef FROM pg_indexes WHERE indexname = 'decisions_priced_by_lb'`))[0]?.indexdef;
      expect(index).toMatch(/\(load_balancer_id, id\) WHERE \(?priced_demand_rps IS NOT NULL\)?/);
      if (engine === 'sqlite') {
        // The planner reads the newest priced row through it (no scan of the log, no sort).
        const plan = await h.sql<{ detail: string }>(store, `EXPLAIN QUERY PLAN SELECT id FROM decisions WHERE load_balancer_id = 'x' AND priced_demand_rps IS NOT NULL ORDER BY id DESC LIMIT 1`);
        expect(plan.map((p) => p.detail).join('; ')).toMatch(/USING (COVERING )?INDEX decisions_priced_by_lb/);
      }
    });
  });
}
