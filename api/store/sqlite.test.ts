// The store's write side as the scheduler uses it, on a real SQLite file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../test/helpers/wait.ts';
import { openSqliteStore, SqliteStore } from './sqlite.ts';

const LB = { name: 'app', listeners: [{ vip: '192.0.2.1', port: 443, protocol: 'tcp' as const }], policy: 'latency' as const, max_latency_ms: 500, min_samples: 5, max_shift: 0.02, deadband: 0.005, gain: 0.5, enabled: true };
const ORIGIN = { region: 'r', addresses: ['192.0.2.10'], port: 443, location: { lat: 0, lon: 0 }, target_rps: 10, max_rps: 20, admin_state: 'active' as const, static_weight: 1, priority: 0 };

let dir: string;
let store: SqliteStore;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-store-'));
  store = openSqliteStore(dir);
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SqliteStore', () => {
  it('publishes weights with a global, increasing version and the decision in the same transaction', async () => {
    const a = await store.createLoadBalancer(LB);
    const b = await store.createLoadBalancer({ ...LB, name: 'b' });
    const oa = await store.createOrigin(a.id, { ...ORIGIN, name: 'x' });
    const ob = await store.createOrigin(b.id, { ...ORIGIN, name: 'x' });
    const first = await store.publishWeights(a.id, { edges: { e1: { [oa.id]: 1 } } }, { load_balancer_id: a.id, reason: 'optimize', objective: 42, diff: [{ source: 'e1', origin_id: oa.id, from: 0, to: 1 }] });
    const second = await store.publishWeights(b.id, { subnets: { '10.1.0.0/16': { [ob.id]: 1 } } }, { load_balancer_id: b.id, reason: 'health' });
    expect(second.version).toBe(first.version + 1);
    expect(first.decision).toMatchObject({ weights_version: first.version, reason: 'optimize', objective: 42 });
    expect(await store.getWeights(a.id)).toMatchObject({ version: first.version, edges: { e1: { [oa.id]: 1 } }, subnets: {} });
    // Weights of one origin may not be published under another load balancer.
    await expect(store.publishWeights(a.id, { edges: { e1: { [ob.id]: 1 } } }, { load_balancer_id: a.id, reason: 'optimize' })).rejects.toThrow(/not in load balancer/);
    // A share outside 0..1 never reaches the store.
    await expect(store.publishWeights(a.id, { edges: { e1: { [oa.id]: 1.5 } } }, { load_balancer_id: a.id, reason: 'optimize' })).rejects.toThrow();
    expect((await store.getWeights(a.id))!.version).toBe(first.version);
  });

  it('pages decisions newest first, per load balancer', async () => {
    const a = await store.createLoadBalancer(LB);
    for (let i = 0; i < 5; i++) await store.recordDecision({ load_balancer_id: a.id, reason: 'hold', detail: `cycle ${i}` });
    await store.recordDecision({ load_balancer_id: 'lb_other', reason: 'hold', detail: 'other' });
    const p1 = await store.listDecisions({ limit: 2, load_balancer_id: a.id });
    const p2 = await store.listDecisions({ limit: 2, load_balancer_id: a.id, cursor: p1.next_cursor! });
    const p3 = await store.listDecisions({ limit: 2, load_balancer_id: a.id, cursor: p2.next_cursor! });
    expect([...p1.items, ...p2.items, ...p3.items].map((d) => d.detail)).toEqual(['cycle 4', 'cycle 3', 'cycle 2', 'cycle 1', 'cycle 0']);
    expect(p3.next_cursor).toBeNull();
    expect(await store.pruneDecisions(new Date(Date.now() + 1000).toISOString())).toBe(6);
    expect((await store.listDecisions({ limit: 10 })).items).toEqual([]);
  });

  it('upserts latency by (subnet, origin) and expires old rows', async () => {
    const t0 = '2026-01-01T00:00:00.000Z';
    const t1 = '2026-01-02T00:00:00.000Z';
    await store.upsertLatency([
      { subnet: '10.0.0.0/24', origin_id: 'o1', rtt_ms: 40, samples: 5, last_updated: t0 },
      { subnet: '10.0.1.0/24', origin_id: 'o1', rtt_ms: 80, samples: 6, last_updated: t0 },
    ]);
    await store.upsertLatency([{ subnet: '10.0.0.0/24', origin_id: 'o1', rtt_ms: 42, samples: 9, last_updated: t1 }]);
    expect((await store.listLatency({ limit: 10 })).items).toHaveLength(2);
    expect(await store.expireLatency('2026-01-01T12:00:00.000Z')).toBe(1);
    expect((await store.listLatency({ limit: 10 })).items).toEqual([{ subnet: '10.0.0.0/24', origin_id: 'o1', rtt_ms: 42, samples: 9, last_updated: t1 }]);
    await expect(store.upsertLatency([{ subnet: '10.0.2.0/24', origin_id: 'o1', rtt_ms: Number.NaN, samples: 1, last_updated: t1 }])).rejects.toThrow(/finite/);
  });

  it('gives the scheduler lease to one holder at a time, and to the next once it expires or is released', async () => {
    expect(await store.acquireLease('scheduler', 'a', 200)).toBe(true);
    expect(await store.acquireLease('scheduler', 'b', 200)).toBe(false);
    expect(await store.acquireLease('scheduler', 'a', 200)).toBe(true);
    await waitFor(() => store.acquireLease('scheduler', 'b', 200), { timeoutMs: 2000, what: 'lease to expire' });
    expect(await store.acquireLease('scheduler', 'a', 200)).toBe(false);
    await store.releaseLease('scheduler', 'b');
    expect(await store.acquireLease('scheduler', 'a', 200)).toBe(true);
  });

  it('notices a commit made by another process on the same file', async () => {
    const other = new SqliteStore(join(dir, 'sluice.db'));
    let woken = 0;
    const off = store.onChange(() => woken++);
    try {
      await other.createEdge({ name: 'e', region: 'r', address: '192.0.2.1', location: { lat: 0, lon: 0 } });
      await waitFor(() => woken > 0, { timeoutMs: 2000, what: 'change notification' });
      expect((await store.allEdges()).map((e) => e.name)).toEqual(['e']);
    } finally {
      off();
      await other.close();
    }
  });

  it('deleting a load balancer removes its origins, weights and health, but keeps the audit log', async () => {
    const a = await store.createLoadBalancer(LB);
    const o = await store.createOrigin(a.id, { ...ORIGIN, name: 'x' });
    await store.setOriginHealth(o.id, false, 'down');
    await store.publishWeights(a.id, { edges: { e: { [o.id]: 1 } } }, { load_balancer_id: a.id, reason: 'optimize' });
    await store.deleteLoadBalancer(a.id);
    expect(await store.allOrigins()).toEqual([]);
    expect(await store.listOriginHealth()).toEqual([]);
    expect(await store.getWeights(a.id)).toBeNull();
    expect((await store.listDecisions({ limit: 10 })).items).toHaveLength(1);
  });

  it('refuses a data dir written by a newer schema', async () => {
    await store.close();
    const raw = new Database(join(dir, 'sluice.db'));
    raw.pragma('user_version = 999');
    raw.close();
    expect(() => openSqliteStore(dir)).toThrow(/newer sluice/);
    store = openSqliteStore(mkdtempSync(join(tmpdir(), 'sluice-store-')));
  });

  it('a conditional write (ifRevision) to a row that is gone fails its precondition; an unconditional one is not_found', async () => {
    const lb = await store.createLoadBalancer(LB);
    await store.deleteLoadBalancer(lb.id, 1);
    await expect(store.deleteLoadBalancer(lb.id, 1)).rejects.toMatchObject({ kind: 'precondition_failed' });
    await expect(store.replaceLoadBalancer(lb.id, LB, 1)).rejects.toMatchObject({ kind: 'precondition_failed' });
    await expect(store.deleteLoadBalancer(lb.id)).rejects.toMatchObject({ kind: 'not_found' });
    await expect(store.replaceLoadBalancer(lb.id, LB)).rejects.toMatchObject({ kind: 'not_found' });
  });

  it('change_seq moves only for what long-polled views are built from, and only those changes notify', async () => {
    let notified = 0;
    const off = store.onChange(() => notified++);
    try {
      const lb = await store.createLoadBalancer(LB);
      const origin = await store.createOrigin(lb.id, { ...ORIGIN, name: 'o' });
      await waitFor(() => notified >= 1, { what: 'notification of the resource writes' });
      const seq = await store.changeSeq();
      const seen = notified;
      // A cycle that changes nothing: decisions, latency, leases, pruning.
      await store.recordDecision({ load_balancer_id: lb.id, reason: 'hold', detail: 'stale inputs' });
      await store.upsertLatency([{ subnet: '10.0.0.0/24', origin_id: origin.id, rtt_ms: 5, samples: 3, last_updated: new Date().toISOString() }]);
      await store.expireLatency(new Date(Date.now() + 60_000).toISOString());
      await store.acquireLease('scheduler', 'me', 1000);
      await store.releaseLease('scheduler', 'me');
      await store.pruneDecisions(new Date(Date.now() + 60_000).toISOString());
      expect(await store.changeSeq()).toBe(seq);
      // A view-changing write is the barrier: one notification for it, none for the writes before.
      await store.setOriginHealth(origin.id, false, 'down');
      await waitFor(() => notified > seen, { what: 'notification of the health transition' });
      expect(notified).toBe(seen + 1);
      expect(await store.changeSeq()).toBe(seq + 1);
    } finally {
      off();
    }
  });
});
