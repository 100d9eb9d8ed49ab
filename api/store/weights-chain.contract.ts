// The weights storage contract (weights-chain.ts), run by store.test.ts against both stores on real
// databases: publishes after the first are written as change rows and read back equal to what was
// published; a replica that did not publish reads incrementally and gets exactly what a full read
// gets, over random publish sequences with compaction and a second writer interleaving; a reader that
// fell behind past a compaction, or whose chain does not apply, reads in full; a broken chain is
// refused, never served; data written before change rows existed keeps working. A failover: a replica
// that read the head (as a follower) and then took the lease publishes a change row against it; one
// that fell behind, or holds a table the store's head no longer is (a restore), writes a base; writers
// alternating at random stay equal to full reads.
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../lib/prng.ts';
import type { LoadBalancerWeights, WeightMap } from '../../model/index.ts';
import { LB, ORIGIN, type StoreHarness } from './store.contract.ts';
import type { Store, StoredWeights } from './store.ts';
import { MAX_CHANGED_SHARE, type WeightsReads } from './weights-chain.ts';
import { LeaseLost } from '../../scheduler/loop/store.ts';
import type { HintUse } from './own-weights.ts';

export interface WeightsHarness extends StoreHarness {
  /** Runs SQL (no parameters) on the data of `s`, as another client would. */
  sql<T = Record<string, unknown>>(s: Store, text: string): Promise<T[]>;
  /** The read counters of `s` (weights-chain.ts WeightsReads). */
  reads(s: Store): WeightsReads;
  /** How the publishes of `s` used their change hints (own-weights.ts HintUse). */
  hints(s: Store): HintUse;
  /**
   * A store whose data was written by the schema before change rows (one load balancer with origins
   * `o1`, `o2` and the weights row `body` at version 1), then opened (migrated) by this sluice.
   */
  legacy(body: string): Promise<{ store: Store; lbId: string; origins: string[] }>;
}

export type Subnets = Record<string, WeightMap>;
export const DECISION = (lbId: string) => ({ load_balancer_id: lbId, reason: 'optimize' as const });

/** The weights a StoredWeights carries, however the store handed them (own, parsed, or a body). */
function content(w: StoredWeights): Pick<LoadBalancerWeights, 'version' | 'published_at' | 'edges' | 'subnets'> {
  const t = w.own ?? w.parsed ?? (JSON.parse(w.body!) as Pick<LoadBalancerWeights, 'edges' | 'subnets'>);
  return { version: w.version, published_at: w.published_at, edges: t.edges, subnets: t.subnets };
}

export async function chainOf(h: WeightsHarness, s: Store, lbId: string) {
  const [head] = await h.sql<{ version: number; base_version: number; change_rows: number; since_base: number; base_entries: number }>(s, `SELECT version, base_version, change_rows, since_base, base_entries FROM weights WHERE load_balancer_id = '${lbId}'`);
  const rows = await h.sql<{ version: number }>(s, `SELECT version FROM weights_changes WHERE load_balancer_id = '${lbId}' ORDER BY version`);
  // Numbers: a raw PostgreSQL client returns BIGINT as text.
  return { version: Number(head!.version), base_version: Number(head!.base_version), change_rows: Number(head!.change_rows), since_base: Number(head!.since_base), base_entries: Number(head!.base_entries), rows: rows.map((r) => Number(r.version)) };
}

export async function setup(h: WeightsHarness) {
  const store = await h.fresh();
  const lb = await store.createLoadBalancer(LB);
  const origins = [(await store.createOrigin(lb.id, { ...ORIGIN, name: 'x' })).id, (await store.createOrigin(lb.id, { ...ORIGIN, name: 'y' })).id, (await store.createOrigin(lb.id, { ...ORIGIN, name: 'z' })).id];
  return { store, lbId: lb.id, origins };
}

/** A random weight map over `origins` (shares of 1/4). */
export function shares(rand: () => number, origins: string[]): WeightMap {
  const a = origins[Math.floor(rand() * origins.length)]!;
  const b = origins[Math.floor(rand() * origins.length)]!;
  return a === b ? { [a]: 1 } : { [a]: 0.25, [b]: 0.75 };
}

/** `from` with about `share` of its keys re-weighted, some removed and some added: a fresh table. */
export function mutate(rand: () => number, from: Subnets, origins: string[], share: number, next: { n: number }): Subnets {
  const out: Subnets = {};
  for (const [k, v] of Object.entries(from)) {
    const r = rand();
    if (r < share * 0.2) continue; // removed
    out[k] = r < share ? shares(rand, origins) : { ...v };
  }
  const added = Math.floor(Object.keys(from).length * share * 0.2) + (rand() < 0.5 ? 1 : 0);
  for (let i = 0; i < added; i++) out[`10.${next.n >> 8}.${next.n++ & 255}.0/24`] = shares(rand, origins);
  return out;
}

/** A load balancer in a fresh store `a`, a second replica `b` on its data, and a 60-subnet table to publish first. */
async function twoReplicas(h: WeightsHarness, seed: number) {
  const { store: a, lbId, origins } = await setup(h);
  const rand = seededRandom(seed);
  const next = { n: 0 };
  const first: Subnets = {};
  for (let i = 0; i < 60; i++) first[`10.${next.n >> 8}.${next.n++ & 255}.0/24`] = shares(rand, origins);
  return { a, b: await h.peer(a), lbId, origins, rand, next, first };
}

export function weightsChainContract(label: string, h: WeightsHarness): void {
  describe(`Weights as a base plus change rows: ${label}`, () => {
    it('writes a publish after the first as a change row, read back (getWeights, another replica) equal to what was published', async () => {
      const { store, lbId, origins: [x, y] } = await setup(h);
      const peer = await h.peer(store);
      // 20 entries: 3 changed stay under the compaction bound (a quarter of the base's).
      const first: Subnets = { '10.0.0.0/24': { [x!]: 1 }, '10.0.1.0/24': { [x!]: 0.5, [y!]: 0.5 }, '10.0.2.0/24': { [y!]: 1 } };
      for (let i = 3; i < 20; i++) first[`10.0.${i}.0/24`] = { [i % 2 ? x! : y!]: 1 };
      const v1 = await store.publishWeights(lbId, { edges: { e1: { [x!]: 1 } }, subnets: first }, DECISION(lbId));
      expect(content((await peer.readWorld()).weights[0]!)).toEqual({ version: v1.version, published_at: v1.weights.published_at, edges: { e1: { [x!]: 1 } }, subnets: first });
      // Re-weighted, removed, added; the edges changed too.
      const second: Subnets = { ...first, '10.0.1.0/24': { [x!]: 0.25, [y!]: 0.75 }, '10.0.99.0/24': { [x!]: 1 } };
      delete second['10.0.2.0/24'];
      const v2 = await store.publishWeights(lbId, { edges: { e1: { [y!]: 1 } }, subnets: second }, DECISION(lbId));
      const chain = await chainOf(h, store, lbId);
      expect(chain).toMatchObject({ version: v2.version, base_version: v1.version, change_rows: 1, rows: [v2.version], base_entries: 20 });
      expect(chain.since_base).toBe(3);
      // The change row holds the changed keys only, not the table.
      const [row] = await h.sql<{ subnets: string; deleted: string; edges: string }>(store, `SELECT subnets, deleted, edges FROM weights_changes WHERE load_balancer_id = '${lbId}'`);
      expect(JSON.parse(row!.subnets)).toEqual({ '10.0.1.0/24': { [x!]: 0.25, [y!]: 0.75 }, '10.0.99.0/24': { [x!]: 1 } });
      expect(JSON.parse(row!.deleted)).toEqual(['10.0.2.0/24']);
      expect(JSON.parse(row!.edges)).toEqual({ e1: { [y!]: 1 } });
      const want = { load_balancer_id: lbId, version: v2.version, published_at: v2.weights.published_at, edges: { e1: { [y!]: 1 } }, subnets: second };
      expect(await store.getWeights(lbId)).toEqual(want);
      expect(await peer.getWeights(lbId)).toEqual(want);
      expect(v2.weights).toEqual(want);
      // The peer held version 1: it applies the change row, and names the keys that moved.
      const seen = (await peer.readWorld()).weights[0]!;
      expect(content(seen)).toEqual({ version: want.version, published_at: want.published_at, edges: want.edges, subnets: want.subnets });
      expect([...seen.parsed!.changed!.keys].sort()).toEqual(['10.0.1.0/24', '10.0.2.0/24', '10.0.99.0/24']);
      expect(h.reads(peer)).toMatchObject({ incremental: 1, full: 1, fallbacks: 0 });
      // The view's diff takes it from the table the peer handed out before.
      expect(seen.parsed!.changed!.from).toEqual(first);
      // A body, when asked for, is the same weights' JSON.
      expect(JSON.parse(seen.body!)).toEqual({ edges: want.edges, subnets: want.subnets });
      // Deleting the load balancer takes its change rows along.
      await store.deleteLoadBalancer(lbId);
      expect(await h.sql(store, `SELECT version FROM weights_changes WHERE load_balancer_id = '${lbId}'`)).toEqual([]);
      expect(await peer.getWeights(lbId)).toBeNull();
    });

    it("a replica's incremental reads equal full reads over random publishes, with compaction and a second writer interleaving", async () => {
      const { store: a, lbId, origins } = await setup(h);
      const b = await h.peer(a);
      const follower = await h.peer(a);
      const rand = seededRandom(1515);
      const next = { n: 0 };
      let table: Subnets = {};
      for (let i = 0; i < 80; i++) table[`10.${next.n >> 8}.${next.n++ & 255}.0/24`] = shares(rand, origins);
      let bases = 0;
      let changeRows = 0;
      let lastBase = -1;
      for (let step = 0; step < 40; step++) {
        // Mostly writer a (its change rows), sometimes b (a base: a's memo no longer names the head).
        const writer = rand() < 0.2 ? b : a;
        table = mutate(rand, table, origins, rand() < 0.2 ? 0.2 : 0.04, next);
        const edges: Subnets = rand() < 0.3 ? { e1: shares(rand, origins) } : {};
        const out = await writer.publishWeights(lbId, { edges, subnets: table }, DECISION(lbId));
        const chain = await chainOf(h, a, lbId);
        if (chain.base_version === out.version) bases++;
        else changeRows++;
        // The chain never grows past its bound; a base resets it.
        expect(chain.since_base).toBeLessThanOrEqual(chain.base_entries * MAX_CHANGED_SHARE);
        expect(chain.rows.length).toBe(chain.change_rows);
        if (chain.base_version !== lastBase) expect(chain.rows.every((v) => v > chain.base_version)).toBe(true);
        lastBase = chain.base_version;
        // The follower reads after some publishes only (it may be several versions behind).
        if (rand() < 0.6) {
          const got = content((await follower.readWorld()).weights[0]!);
          const full = (await (await h.peer(a)).getWeights(lbId))!;
          expect(got).toEqual({ version: full.version, published_at: full.published_at, edges: full.edges, subnets: full.subnets });
          expect(got).toEqual({ version: out.version, published_at: out.weights.published_at, edges, subnets: table });
        }
      }
      // All three paths were taken: change rows, bases (compaction and the second writer), incremental reads.
      expect(changeRows).toBeGreaterThan(10);
      expect(bases).toBeGreaterThan(3);
      expect(h.reads(follower).incremental).toBeGreaterThan(5);
      expect(h.reads(follower).fallbacks).toBe(0);
    });

    it('a reader that fell behind past a compaction reads the new base in full; one whose chain does not apply reads in full and counts it; a broken chain is refused', async () => {
      const { store, lbId, origins } = await setup(h);
      const follower = await h.peer(store);
      const rand = seededRandom(7);
      const next = { n: 0 };
      let table: Subnets = {};
      for (let i = 0; i < 40; i++) table[`10.${next.n >> 8}.${next.n++ & 255}.0/24`] = shares(rand, origins);
      const first = await store.publishWeights(lbId, { subnets: table }, DECISION(lbId));
      await follower.readWorld();
      // Small publishes until a compaction writes a new base past what the follower holds.
      let out = first;
      for (let i = 0; i < 30 && (await chainOf(h, store, lbId)).base_version === first.version; i++) {
        table = mutate(rand, table, origins, 0.05, next);
        out = await store.publishWeights(lbId, { subnets: table }, DECISION(lbId));
      }
      expect((await chainOf(h, store, lbId)).base_version).toBeGreaterThan(first.version);
      const before = h.reads(follower);
      expect(content((await follower.readWorld()).weights[0]!)).toEqual({ version: out.version, published_at: out.weights.published_at, edges: {}, subnets: table });
      expect(h.reads(follower)).toEqual({ ...before, full: before.full + 1 });

      // Two change rows after the base; the follower holds the first.
      for (let i = 0; i < 2; i++) {
        table = mutate(rand, table, origins, 0.02, next);
        out = await store.publishWeights(lbId, { subnets: table }, DECISION(lbId));
        if (i === 0) await follower.readWorld();
      }
      const chain = await chainOf(h, store, lbId);
      expect(chain.rows.length).toBeGreaterThanOrEqual(2);
      const [held, last] = chain.rows.slice(-2) as [number, number];
      // As a restore would leave it: the version the follower holds exists again, at another time, and
      // the last row applies to that one. The follower's chain does not apply: it reads in full.
      await h.sql(store, `UPDATE weights_changes SET published_at = 'restored' WHERE load_balancer_id = '${lbId}' AND version = ${held}`);
      await h.sql(store, `UPDATE weights_changes SET prev_published_at = 'restored' WHERE load_balancer_id = '${lbId}' AND version = ${last}`);
      const mid = h.reads(follower);
      expect(content((await follower.readWorld()).weights[0]!)).toEqual({ version: out.version, published_at: out.weights.published_at, edges: {}, subnets: table });
      expect(h.reads(follower)).toEqual({ ...mid, fallbacks: mid.fallbacks + 1, full: mid.full + 1 });

      // A row missing from the chain: no reader can reach the head, and none serves a table.
      table = mutate(rand, table, origins, 0.02, next);
      await store.publishWeights(lbId, { subnets: table }, DECISION(lbId));
      await h.sql(store, `DELETE FROM weights_changes WHERE load_balancer_id = '${lbId}' AND version = ${last}`);
      const fresh = await h.peer(store);
      await expect(fresh.readWorld()).rejects.toThrow(/do not reach version/);
      await expect(fresh.getWeights(lbId)).rejects.toThrow(/do not reach version/);
      // The follower held the version the missing row led to: the rows it needs are there.
      expect(content((await follower.readWorld()).weights[0]!).subnets).toEqual(table);
      // A writer with no memo of this chain writes a base, which mends it for every reader.
      table = mutate(rand, table, origins, 0.02, next);
      await fresh.publishWeights(lbId, { subnets: table }, DECISION(lbId));
      expect(content((await (await h.peer(store)).readWorld()).weights[0]!).subnets).toEqual(table);
      expect((await follower.getWeights(lbId))!.subnets).toEqual(table);
      expect(content((await follower.readWorld()).weights[0]!).subnets).toEqual(table);
    });

    it("a failover: the new leader publishes a change row against the head it read as a follower; the old leader's fence refuses it", async () => {
      const { a, b, lbId, origins, rand, next, first } = await twoReplicas(h, 15);
      let table = first;
      const leaseA = (await a.acquireLease('scheduler', 'a', 60_000))!;
      const v1 = await a.publishWeights(lbId, { edges: { e1: shares(rand, origins) }, subnets: table }, DECISION(lbId), leaseA);
      table = mutate(rand, table, origins, 0.03, next);
      const v2 = await a.publishWeights(lbId, { subnets: table }, DECISION(lbId), leaseA);
      expect(await chainOf(h, a, lbId)).toMatchObject({ base_version: v1.version, change_rows: 1 });
      // b follows as a reader (its views), then takes the lease once a lets it go.
      expect(content((await b.readWorld()).weights[0]!).version).toBe(v2.version);
      await a.releaseLease('scheduler', 'a');
      const leaseB = (await b.acquireLease('scheduler', 'b', 60_000))!;
      expect(leaseB.epoch).toBeGreaterThan(leaseA.epoch);
      // The new leader's first publish: a change row after the version it read, holding only the keys that moved.
      const before = table;
      table = mutate(rand, table, origins, 0.03, next);
      const v3 = await b.publishWeights(lbId, { subnets: table }, DECISION(lbId), leaseB);
      const chain = await chainOf(h, a, lbId);
      expect(chain).toMatchObject({ version: v3.version, base_version: v1.version, change_rows: 2, rows: [v2.version, v3.version] });
      const [row] = await h.sql<{ subnets: string; deleted: string; prev_version: number }>(a, `SELECT subnets, deleted, prev_version FROM weights_changes WHERE load_balancer_id = '${lbId}' AND version = ${v3.version}`);
      expect(Number(row!.prev_version)).toBe(v2.version);
      const moved = new Set([...Object.keys(JSON.parse(row!.subnets) as object), ...(JSON.parse(row!.deleted) as string[])]);
      const differing = new Set([...Object.keys(before), ...Object.keys(table)].filter((k) => JSON.stringify(before[k]) !== JSON.stringify(table[k])));
      expect(moved).toEqual(differing);
      expect(moved.size).toBeGreaterThan(0);
      expect(moved.size).toBeLessThan(Object.keys(table).length / 4);
      // Every reader, the old leader and a fresh replica among them, reads exactly what b published.
      const want = { version: v3.version, published_at: v3.weights.published_at, edges: {}, subnets: table };
      expect(content((await a.readWorld()).weights[0]!)).toEqual(want);
      expect(content((await (await h.peer(a)).readWorld()).weights[0]!)).toEqual(want);
      // The old leader, paused and back with its stale fence, writes nothing, though its memo is gone stale too.
      await expect(a.publishWeights(lbId, { subnets: before }, DECISION(lbId), leaseA)).rejects.toBeInstanceOf(LeaseLost);
      expect((await chainOf(h, a, lbId)).version).toBe(v3.version);
      // The scheduler reads the weights in force with getWeights, not readWorld: a replica that took the
      // lease with no views of its own read them so in its first cycle, and publishes a change row too.
      const c = await h.peer(a);
      await b.releaseLease('scheduler', 'b');
      const leaseC = (await c.acquireLease('scheduler', 'c', 60_000))!;
      const inForce = (await c.getWeights(lbId))!.subnets;
      expect(inForce).toEqual(table);
      // As the scheduler hands the next table over: the maps that did not change as the very objects in force.
      const nextTable = mutate(rand, table, origins, 0.03, next);
      table = Object.fromEntries(Object.entries(nextTable).map(([k, v]) => [k, Object.hasOwn(inForce, k) && JSON.stringify(inForce[k]) === JSON.stringify(v) ? inForce[k]! : v]));
      const v4 = await c.publishWeights(lbId, { subnets: table }, DECISION(lbId), leaseC);
      expect(await chainOf(h, a, lbId)).toMatchObject({ version: v4.version, base_version: v1.version, change_rows: 3 });
      expect(content((await b.readWorld()).weights[0]!)).toEqual({ version: v4.version, published_at: v4.weights.published_at, edges: {}, subnets: table });
      expect(h.reads(b).fallbacks).toBe(0);
      // Maps handed over again as the very objects read are taken as checked, but their origins still
      // are: one deleted since makes the publish fail, naming it, with nothing written.
      const gone = origins[0]!;
      expect(Object.keys(table).some((k) => gone in table[k]!)).toBe(true);
      await a.deleteOrigin(lbId, gone);
      const reused = (await a.getWeights(lbId))!.subnets;
      await expect(a.publishWeights(lbId, { subnets: { ...reused } }, DECISION(lbId))).rejects.toMatchObject({ kind: 'invalid', field: expect.stringMatching(/^subnets\./) });
      expect((await a.weightsHead(lbId))!.version).toBe(v4.version);
    });

    it('a follower that fell behind, or holds a head the store no longer has (a restore, a chain it could not link), writes a base', async () => {
      const { a, b, lbId, origins, rand, next, first } = await twoReplicas(h, 16);
      let table = first;
      await a.publishWeights(lbId, { subnets: table }, DECISION(lbId));
      await b.readWorld();
      // Fell behind: a published after b's read. b's publish is a base (b never wrote a change row against a version it does not hold).
      table = mutate(rand, table, origins, 0.03, next);
      await a.publishWeights(lbId, { subnets: table }, DECISION(lbId));
      table = mutate(rand, table, origins, 0.03, next);
      const behind = await b.publishWeights(lbId, { subnets: table }, DECISION(lbId));
      expect(await chainOf(h, a, lbId)).toMatchObject({ version: behind.version, base_version: behind.version, change_rows: 0 });
      expect((await (await h.peer(a)).getWeights(lbId))!.subnets).toEqual(table);

      // A restore: the head b read comes back as other data under the same version (another time).
      // b's table is not that head's content: a base.
      table = mutate(rand, table, origins, 0.03, next);
      const v = await a.publishWeights(lbId, { subnets: table }, DECISION(lbId));
      expect(content((await b.readWorld()).weights[0]!).version).toBe(v.version);
      await h.sql(a, `UPDATE weights SET published_at = 'restored' WHERE load_balancer_id = '${lbId}'`);
      await h.sql(a, `UPDATE weights_changes SET published_at = 'restored' WHERE load_balancer_id = '${lbId}' AND version = ${v.version}`);
      table = mutate(rand, table, origins, 0.03, next);
      const afterRestore = await b.publishWeights(lbId, { subnets: table }, DECISION(lbId));
      expect(await chainOf(h, a, lbId)).toMatchObject({ base_version: afterRestore.version, change_rows: 0 });
      expect((await (await h.peer(a)).getWeights(lbId))!.subnets).toEqual(table);

      // A chain b could not link: a row missing, so b's read is refused and b keeps the older table it
      // held. Its publish is a base, which mends the chain for every reader.
      await b.readWorld();
      for (let i = 0; i < 2; i++) {
        table = mutate(rand, table, origins, 0.02, next);
        await a.publishWeights(lbId, { subnets: table }, DECISION(lbId));
      }
      const rows = (await chainOf(h, a, lbId)).rows;
      await h.sql(a, `DELETE FROM weights_changes WHERE load_balancer_id = '${lbId}' AND version = ${rows[0]!}`);
      await expect(b.readWorld()).rejects.toThrow(/do not reach version/);
      table = mutate(rand, table, origins, 0.02, next);
      const mended = await b.publishWeights(lbId, { subnets: table }, DECISION(lbId));
      expect(await chainOf(h, a, lbId)).toMatchObject({ base_version: mended.version, change_rows: 0 });
      expect(content((await (await h.peer(a)).readWorld()).weights[0]!).subnets).toEqual(table);
      expect(content((await b.readWorld()).weights[0]!).subnets).toEqual(table);
    });

    it('40 random publishes by alternating writers, each reading at random, stay equal to full reads; a writer holding the head writes a change row', async () => {
      const { store: a, lbId, origins } = await setup(h);
      const writers = [a, await h.peer(a), await h.peer(a)];
      const rand = seededRandom(4040);
      const next = { n: 0 };
      let table: Subnets = {};
      for (let i = 0; i < 100; i++) table[`10.${next.n >> 8}.${next.n++ & 255}.0/24`] = shares(rand, origins);
      let head = (await a.publishWeights(lbId, { subnets: table }, DECISION(lbId))).version;
      /** The version each writer last read or published (what it holds). */
      const holds = new Map<Store, number>([[a, head]]);
      const publisher = new Map<number, Store>([[head, a]]);
      let afterRead = 0;
      let changeRowsAfterRead = 0;
      for (let step = 0; step < 40; step++) {
        // Some writers read now (its views, or the scheduler's getWeights).
        for (const w of writers) {
          if (rand() < 0.4) {
            const got = rand() < 0.5 ? content((await w.readWorld()).weights[0]!) : (await w.getWeights(lbId))!;
            expect(got.subnets).toEqual(table);
            holds.set(w, got.version);
          }
        }
        const writer = writers[Math.floor(rand() * writers.length)]!;
        const held = holds.get(writer) === head;
        const before = await chainOf(h, a, lbId);
        table = mutate(rand, table, origins, rand() < 0.15 ? 0.2 : 0.03, next);
        const edges: Subnets = rand() < 0.3 ? { e1: shares(rand, origins) } : {};
        const out = await writer.publishWeights(lbId, { edges, subnets: table }, DECISION(lbId));
        const chain = await chainOf(h, a, lbId);
        const isBase = chain.base_version === out.version;
        // Not holding the head: always a base. Holding it: a change row unless the rows would outgrow the base.
        if (!held) expect(isBase).toBe(true);
        else if (!isBase) expect(chain.change_rows).toBe(before.change_rows + 1);
        // Held from reading another writer's publish: the case a memo of its own could not cover.
        if (held && publisher.get(head) !== writer) {
          afterRead++;
          if (!isBase) changeRowsAfterRead++;
        }
        head = out.version;
        holds.set(writer, head);
        publisher.set(head, writer);
        expect(chain.since_base).toBeLessThanOrEqual(chain.base_entries * MAX_CHANGED_SHARE);
        const full = (await (await h.peer(a)).getWeights(lbId))!;
        expect({ version: full.version, edges: full.edges, subnets: full.subnets }).toEqual({ version: out.version, edges, subnets: table });
      }
      // The case under test happened: writers publishing after reading another's publish, most as change rows.
      expect(afterRead).toBeGreaterThan(5);
      expect(changeRowsAfterRead).toBeGreaterThan(afterRead / 2);
      for (const w of writers) expect(content((await w.readWorld()).weights[0]!).subnets).toEqual(table);
    });

    it("maps handed over again as the very objects of this process's last publish are taken as checked; their origins still are", async () => {
      const { store, lbId, origins: [x, y, z] } = await setup(h);
      const peer = await h.peer(store);
      const first: Subnets = { '10.0.0.0/24': { [z!]: 1 } };
      for (let i = 1; i < 40; i++) first[`10.0.${i}.0/24`] = { [i % 2 ? x! : y!]: 1 };
      await store.publishWeights(lbId, { subnets: first }, DECISION(lbId));
      // The same map objects but one, which no longer names z; z is then deleted: the names standing in
      // for the reused maps (the last publish's, z among them) are not taken as the weights' own.
      const second: Subnets = { ...first, '10.0.0.0/24': { [x!]: 1 } };
      await store.deleteOrigin(lbId, z!);
      const v2 = await store.publishWeights(lbId, { subnets: second }, DECISION(lbId));
      expect(await peer.getWeights(lbId)).toEqual(v2.weights);
      expect((await chainOf(h, store, lbId)).change_rows).toBe(1);
      // A reused map naming an origin that is gone is refused, naming it, and nothing is written.
      const third: Subnets = { ...second, '10.0.5.0/24': { [y!]: 1 } };
      await store.deleteOrigin(lbId, x!);
      await expect(store.publishWeights(lbId, { subnets: third }, DECISION(lbId))).rejects.toMatchObject({ kind: 'invalid', field: expect.stringMatching(/^subnets\./) });
      expect((await store.weightsHead(lbId))!.version).toBe(v2.version);
      // Every map naming x replaced (new objects), the rest reused: published and read back equal (half
      // the entries changed: a compaction, so a base).
      const fourth: Subnets = Object.fromEntries(Object.entries(second).map(([k, v]) => [k, x! in v ? { [y!]: 1 } : v]));
      const v4 = await store.publishWeights(lbId, { subnets: fourth }, DECISION(lbId));
      expect(await peer.getWeights(lbId)).toEqual(v4.weights);
      expect(await chainOf(h, store, lbId)).toMatchObject({ base_version: v4.version, change_rows: 0 });
    });

    it('weights written before change rows existed are a base: read, published after and read incrementally', async () => {
      const body = JSON.stringify({ edges: { e1: { o1: 1 } }, subnets: { '10.0.0.0/24': { o1: 1 }, '10.0.1.0/24': { o2: 1 } } });
      const { store, lbId, origins: [o1, o2] } = await h.legacy(body);
      expect(await chainOf(h, store, lbId)).toMatchObject({ version: 1, base_version: 1, change_rows: 0, rows: [], base_entries: 2 });
      const old = await store.getWeights(lbId);
      expect(old).toMatchObject({ version: 1, edges: { e1: { [o1!]: 1 } }, subnets: { '10.0.0.0/24': { [o1!]: 1 }, '10.0.1.0/24': { [o2!]: 1 } } });
      const peer = await h.peer(store);
      expect(content((await peer.readWorld()).weights[0]!)).toEqual({ version: 1, published_at: old!.published_at, edges: old!.edges, subnets: old!.subnets });
      // A writer with no memo of its own writes a base; then change rows (compaction aside: 4 entries).
      const subnets: Subnets = { '10.0.0.0/24': { [o1!]: 1 }, '10.0.1.0/24': { [o2!]: 1 }, '10.0.2.0/24': { [o1!]: 1 }, '10.0.3.0/24': { [o2!]: 1 } };
      for (let i = 4; i < 12; i++) subnets[`10.0.${i}.0/24`] = { [o1!]: 0.5, [o2!]: 0.5 };
      await store.publishWeights(lbId, { subnets }, DECISION(lbId));
      const v3 = await store.publishWeights(lbId, { subnets: { ...subnets, '10.0.0.0/24': { [o2!]: 1 } } }, DECISION(lbId));
      expect((await chainOf(h, store, lbId)).change_rows).toBe(1);
      expect(content((await peer.readWorld()).weights[0]!)).toEqual({ version: v3.version, published_at: v3.weights.published_at, edges: {}, subnets: { ...subnets, '10.0.0.0/24': { [o2!]: 1 } } });
    });
  });
}
