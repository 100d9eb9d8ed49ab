// The SQLite store's publish on its worker thread (sqlite-publish-worker.ts): a store that sends every
// publish there (threshold 0) behaves as the contract's in-thread publish does — versions, the body
// read back, the decision in the same transaction, the fence, an unknown origin named.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../test/helpers/wait.ts';
import { LeaseLost } from '../../scheduler/loop/store.ts';
import { SqliteStore } from './sqlite.ts';
import { LB, ORIGIN } from './store.contract.ts';

let dir: string;
let store: SqliteStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-publish-'));
  store = new SqliteStore(join(dir, 'sluice.db'), 0);
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SQLite publish on the publish worker', () => {
  it('publishes weights and the decision together, as getWeights and the decision log read them back', async () => {
    const lb = await store.createLoadBalancer(LB);
    const o = await store.createOrigin(lb.id, { ...ORIGIN, name: 'x' });
    const seq = await store.changeSeq();
    const subnets = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`10.${i >> 8}.${i & 255}.0/24`, { [o.id]: 1 }]));
    const diff = Object.keys(subnets).map((s) => ({ source: `subnet:${s}`, origin_id: o.id, from: 0, to: 1 }));
    const first = await store.publishWeights(lb.id, { subnets }, { load_balancer_id: lb.id, reason: 'optimize', objective: 1, diff });
    const second = await store.publishWeights(lb.id, { edges: { e: { [o.id]: 1 } } }, { load_balancer_id: lb.id, reason: 'optimize' });
    expect(second.version).toBe(first.version + 1);
    expect(first.weights.subnets).toEqual(subnets);
    expect(second.weights).toEqual(await store.getWeights(lb.id));
    expect(await store.weightsHead(lb.id)).toEqual({ version: second.version, published_at: second.weights.published_at });
    const log = (await store.listDecisions({ limit: 10, load_balancer_id: lb.id })).items;
    expect(log.map((d) => [d.id, d.weights_version])).toEqual([[second.decision.id, second.version], [first.decision.id, first.version]]);
    expect(log[1]!.diff).toEqual(diff);
    expect(await store.changeSeq()).toBe(seq + 2);
  });

  it('writes a change row there, and a base when another writer moved the head (the refused change row writes nothing)', async () => {
    const lb = await store.createLoadBalancer(LB);
    const [x, y] = [(await store.createOrigin(lb.id, { ...ORIGIN, name: 'x' })).id, (await store.createOrigin(lb.id, { ...ORIGIN, name: 'y' })).id];
    const subnets = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`10.${i >> 8}.${i & 255}.0/24`, { [x]: 1 }]));
    const decision = { load_balancer_id: lb.id, reason: 'optimize' as const };
    await store.publishWeights(lb.id, { subnets }, decision);
    const changed = { ...subnets, '10.0.1.0/24': { [y]: 1 } };
    const v2 = await store.publishWeights(lb.id, { subnets: changed }, decision);
    const raw = new SqliteStore(join(dir, 'sluice.db'));
    try {
      expect(await raw.getWeights(lb.id)).toEqual(v2.weights);
      // Another writer (no memo: a base), then this store again: its change row is refused inside the
      // transaction (the head is not its last publish) and it writes a base instead.
      const v3 = await raw.publishWeights(lb.id, { subnets }, decision);
      const v4 = await store.publishWeights(lb.id, { subnets: changed }, decision);
      expect(v4.version).toBe(v3.version + 1);
      expect(await raw.getWeights(lb.id)).toEqual(v4.weights);
      const Database = (await import('better-sqlite3')).default;
      const db = new Database(join(dir, 'sluice.db'), { readonly: true });
      try {
        expect(db.prepare(`SELECT base_version, change_rows FROM weights`).get()).toEqual({ base_version: v4.version, change_rows: 0 });
        expect(db.prepare(`SELECT count(*) AS n FROM weights_changes`).get()).toEqual({ n: 0 });
        // Every attempt that failed wrote nothing: one decision per publish, no version skipped.
        expect(db.prepare(`SELECT weights_version FROM decisions ORDER BY id`).pluck().all()).toEqual([v2.version - 1, v2.version, v3.version, v4.version]);
      } finally {
        db.close();
      }
    } finally {
      await raw.close();
    }
  });

  it('refuses weights naming an origin of another load balancer, naming it, with nothing written', async () => {
    const lb = await store.createLoadBalancer(LB);
    const other = await store.createLoadBalancer({ ...LB, name: 'other' });
    const theirs = await store.createOrigin(other.id, { ...ORIGIN, name: 'y' });
    await expect(store.publishWeights(lb.id, { edges: { e1: { [theirs.id]: 1 } } }, { load_balancer_id: lb.id, reason: 'optimize' })).rejects.toMatchObject({ kind: 'invalid', field: 'edges.e1' });
    await expect(store.publishWeights('lb_missing', {}, { load_balancer_id: 'lb_missing', reason: 'optimize' })).rejects.toMatchObject({ kind: 'not_found' });
    expect(await store.weightsHead(lb.id)).toBeNull();
    expect((await store.listDecisions({ limit: 10 })).items).toEqual([]);
  });

  it('is fenced: a publish under an expired lease fails with LeaseLost and writes nothing', async () => {
    const lb = await store.createLoadBalancer(LB);
    const o = await store.createOrigin(lb.id, { ...ORIGIN, name: 'x' });
    const grant = (await store.acquireLease('scheduler', 'a', 60_000))!;
    const fence = { name: grant.name, holder: grant.holder, epoch: grant.epoch };
    const ok = await store.publishWeights(lb.id, { edges: { e: { [o.id]: 1 } } }, { load_balancer_id: lb.id, reason: 'optimize' }, fence);
    expect(ok.decision.leader_epoch).toBe(grant.epoch);
    await store.releaseLease('scheduler', 'a');
    await waitFor(async () => (await store.getLease('scheduler'))?.held === false || undefined, { timeoutMs: 3000, what: 'the lease released' });
    const refused = store.publishWeights(lb.id, { edges: { e: { [o.id]: 0.5 } } }, { load_balancer_id: lb.id, reason: 'optimize' }, fence);
    await expect(refused).rejects.toBeInstanceOf(LeaseLost);
    await expect(refused).rejects.toThrow(/expired at .*the write was not applied/);
    expect(await store.weightsHead(lb.id)).toEqual({ version: ok.version, published_at: ok.weights.published_at });
  });

  it('starts its worker when this process takes a lease afresh (a new leader publishes soon), not on a renewal', async () => {
    const lb = await store.createLoadBalancer(LB);
    const o = await store.createOrigin(lb.id, { ...ORIGIN, name: 'x' });
    expect(await store.publishWorkerWarm()).toBe(false);
    const grant = (await store.acquireLease('scheduler', 'a', 60_000))!;
    expect(await store.publishWorkerWarm()).toBe(true);
    // Another process on the file renewing the same holder's lease does not start one.
    const peer = new SqliteStore(join(dir, 'sluice.db'), 0);
    try {
      expect((await peer.acquireLease('scheduler', 'a', 60_000))!.epoch).toBe(grant.epoch);
      expect(await peer.publishWorkerWarm()).toBe(false);
    } finally {
      await peer.close();
    }
    // The warmed worker publishes.
    const out = await store.publishWeights(lb.id, { edges: { e: { [o.id]: 1 } } }, { load_balancer_id: lb.id, reason: 'optimize' }, grant);
    expect(await store.getWeights(lb.id)).toEqual(out.weights);
  });
});
