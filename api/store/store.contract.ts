// The one store contract: every Store implementation (SQLite, PostgreSQL) runs exactly these tests,
// so revisions/ETags, decision records, weights versions, leases and fencing behave the same on both.
// `store.test.ts` runs it against each, on real databases.
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../test/helpers/wait.ts';
import { LeaseLost } from '../../scheduler/loop/store.ts';
import type { Store } from './store.ts';

export interface StoreHarness {
  /** A fresh, empty store (a new file or database), closed by the harness after the test. */
  fresh(): Promise<Store>;
  /** Another handle on the same data as `s` (another process, another replica). */
  peer(s: Store): Promise<Store>;
  /** Marks the data of `s` as written by a newer schema (s is closed first) and opens it again: the promise must reject. */
  openNewer(s: Store): Promise<unknown>;
}

export const LB = { name: 'app', listeners: [{ vip: '192.0.2.1', port: 443, protocol: 'tcp' as const }], policy: 'latency' as const, max_latency_ms: 500, min_samples: 5, max_shift: 0.02, deadband: 0.005, gain: 0.5, enabled: true };
export const ORIGIN = { region: 'r', addresses: ['192.0.2.10'], port: 443, location: { lat: 0, lon: 0 }, target_rps: 10, max_rps: 20, admin_state: 'active' as const, static_weight: 1, priority: 0 };
const EDGE = { name: 'e', region: 'r', address: '192.0.2.1', location: { lat: 0, lon: 0 } };

export function storeContract(label: string, harness: StoreHarness): void {
  describe(`Store contract: ${label}`, () => {
    it('creates, reads, pages, replaces (If-Match) and deletes resources with revisions', async () => {
      const store = await harness.fresh();
      const a = await store.createLoadBalancer(LB);
      expect(a).toMatchObject({ name: 'app', revision: 1 });
      expect(a.id).toMatch(/^lb_[0-9a-f]{16}$/);
      await expect(store.createLoadBalancer(LB)).rejects.toMatchObject({ kind: 'conflict', field: 'name' });
      for (let i = 0; i < 4; i++) await store.createLoadBalancer({ ...LB, name: `lb${i}` });
      const p1 = await store.listLoadBalancers({ limit: 3 });
      const p2 = await store.listLoadBalancers({ limit: 3, cursor: p1.next_cursor! });
      expect([...p1.items, ...p2.items].map((x) => x.name)).toEqual(['app', 'lb0', 'lb1', 'lb2', 'lb3']);
      expect(p2.next_cursor).toBeNull();
      await expect(store.listLoadBalancers({ limit: 3, cursor: 'bogus' })).rejects.toMatchObject({ kind: 'invalid', field: 'cursor' });

      const b = await store.replaceLoadBalancer(a.id, { ...LB, max_shift: 0.05 }, 1);
      expect(b).toMatchObject({ revision: 2, max_shift: 0.05, created_at: a.created_at });
      await expect(store.replaceLoadBalancer(a.id, LB, 1)).rejects.toMatchObject({ kind: 'precondition_failed' });
      await expect(store.replaceLoadBalancer(a.id, { ...LB, name: 'lb0' })).rejects.toMatchObject({ kind: 'conflict' });
      await expect(store.deleteLoadBalancer(a.id, 1)).rejects.toMatchObject({ kind: 'precondition_failed' });
      expect(await store.getLoadBalancer(a.id)).toMatchObject({ revision: 2 });
      await store.deleteLoadBalancer(a.id, 2);
      await expect(store.getLoadBalancer(a.id)).rejects.toMatchObject({ kind: 'not_found' });

      // Origins live inside one load balancer; names are unique within it only.
      const lb0 = (await store.allLoadBalancers())[0]!;
      const lb1 = (await store.allLoadBalancers())[1]!;
      const o = await store.createOrigin(lb0.id, { ...ORIGIN, name: 'x' });
      await store.createOrigin(lb1.id, { ...ORIGIN, name: 'x' });
      await expect(store.createOrigin(lb0.id, { ...ORIGIN, name: 'x' })).rejects.toMatchObject({ kind: 'conflict' });
      await expect(store.createOrigin('lb_missing', { ...ORIGIN, name: 'y' })).rejects.toMatchObject({ kind: 'not_found' });
      await expect(store.getOrigin(lb1.id, o.id)).rejects.toMatchObject({ kind: 'not_found' });
      expect(await store.getOrigin(lb0.id, o.id)).toMatchObject({ load_balancer_id: lb0.id, name: 'x', revision: 1 });
      expect((await store.allOrigins()).length).toBe(2);
      expect((await store.allOrigins(lb0.id)).map((x) => x.id)).toEqual([o.id]);

      const e = await store.createEdge(EDGE);
      expect((await store.replaceEdge(e.id, { ...EDGE, region: 'q' }, 1)).revision).toBe(2);
      expect((await store.listEdges({ limit: 10 })).items.map((x) => x.region)).toEqual(['q']);
    });

    it('publishes weights with a global, increasing version and the decision in the same transaction', async () => {
      const store = await harness.fresh();
      const a = await store.createLoadBalancer(LB);
      const b = await store.createLoadBalancer({ ...LB, name: 'b' });
      const oa = await store.createOrigin(a.id, { ...ORIGIN, name: 'x' });
      const ob = await store.createOrigin(b.id, { ...ORIGIN, name: 'x' });
      expect(await store.weightsHead(a.id)).toBeNull();
      const first = await store.publishWeights(a.id, { edges: { e1: { [oa.id]: 1 } } }, { load_balancer_id: a.id, reason: 'optimize', objective: 42, diff: [{ source: 'e1', origin_id: oa.id, from: 0, to: 1 }] });
      const second = await store.publishWeights(b.id, { subnets: { '10.1.0.0/16': { [ob.id]: 1 } } }, { load_balancer_id: b.id, reason: 'health' });
      expect(second.version).toBe(first.version + 1);
      expect(first.decision).toMatchObject({ weights_version: first.version, leader_epoch: null, reason: 'optimize', objective: 42 });
      expect(await store.getWeights(a.id)).toMatchObject({ version: first.version, edges: { e1: { [oa.id]: 1 } }, subnets: {} });
      // What publishWeights says it stored is what getWeights reads back, and the head names that version.
      expect(first.weights).toEqual(await store.getWeights(a.id));
      expect(await store.weightsHead(a.id)).toEqual({ version: first.version, published_at: first.weights.published_at });
      expect(await store.weightsHead(b.id)).toEqual({ version: second.version, published_at: second.weights.published_at });
      // Weights of one origin may not be published under another load balancer.
      await expect(store.publishWeights(a.id, { edges: { e1: { [ob.id]: 1 } } }, { load_balancer_id: a.id, reason: 'optimize' })).rejects.toThrow(/not in load balancer/);
      // A share outside 0..1 never reaches the store.
      await expect(store.publishWeights(a.id, { edges: { e1: { [oa.id]: 1.5 } } }, { load_balancer_id: a.id, reason: 'optimize' })).rejects.toMatchObject({ kind: 'invalid' });
      expect((await store.getWeights(a.id))!.version).toBe(first.version);
      expect((await store.weightsHead(a.id))!.version).toBe(first.version);
      // A refused publish took no version: the next one is contiguous.
      expect((await store.publishWeights(a.id, {}, { load_balancer_id: a.id, reason: 'optimize' })).version).toBe(second.version + 1);
    });

    it('gives weights versions strictly increasing and contiguous across two handles publishing at once', async () => {
      const store = await harness.fresh();
      const other = await harness.peer(store);
      const lb = await store.createLoadBalancer(LB);
      const o = await store.createOrigin(lb.id, { ...ORIGIN, name: 'x' });
      const publish = (s: Store, i: number) => s.publishWeights(lb.id, { edges: { [`e${i}`]: { [o.id]: 1 } } }, { load_balancer_id: lb.id, reason: 'optimize', detail: `p${i}` });
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => publish(i % 2 ? other : store, i)));
      const versions = results.map((r) => r.version).sort((x, y) => x - y);
      expect(versions).toEqual(Array.from({ length: 20 }, (_, i) => versions[0]! + i));
      // The audit log orders the same way: a later decision never carries an older version.
      const log = (await store.listDecisions({ limit: 50 })).items.reverse();
      const byId = log.map((d) => d.weights_version!);
      expect(byId).toEqual([...byId].sort((x, y) => x - y));
      expect((await store.getWeights(lb.id))!.version).toBe(versions[19]);
    });

    it('pages decisions newest first, per load balancer, and prunes by age', async () => {
      const store = await harness.fresh();
      const a = await store.createLoadBalancer(LB);
      for (let i = 0; i < 5; i++) await store.recordDecision({ load_balancer_id: a.id, reason: 'hold', detail: `cycle ${i}` });
      await store.recordDecision({ load_balancer_id: 'lb_other', reason: 'hold', detail: 'other' });
      const p1 = await store.listDecisions({ limit: 2, load_balancer_id: a.id });
      const p2 = await store.listDecisions({ limit: 2, load_balancer_id: a.id, cursor: p1.next_cursor! });
      const p3 = await store.listDecisions({ limit: 2, load_balancer_id: a.id, cursor: p2.next_cursor! });
      expect([...p1.items, ...p2.items, ...p3.items].map((d) => d.detail)).toEqual(['cycle 4', 'cycle 3', 'cycle 2', 'cycle 1', 'cycle 0']);
      expect(p3.next_cursor).toBeNull();
      expect(p1.items[0]).toMatchObject({ reason: 'hold', weights_version: null, objective: null, inputs: {}, diff: [], overload_rps: 0 });
      expect(await store.pruneDecisions(new Date(Date.now() - 60_000).toISOString())).toBe(0);
      expect(await store.pruneDecisions(new Date(Date.now() + 1000).toISOString())).toBe(6);
      expect((await store.listDecisions({ limit: 10 })).items).toEqual([]);
    });

    it('upserts latency by (subnet, origin), pages it and expires old rows', async () => {
      const store = await harness.fresh();
      const t0 = '2026-01-01T00:00:00.000Z';
      const t1 = '2026-01-02T00:00:00.000Z';
      await store.upsertLatency([
        { subnet: '10.0.0.0/24', origin_id: 'o1', rtt_ms: 40, samples: 5, last_updated: t0 },
        { subnet: '10.0.1.0/24', origin_id: 'o1', rtt_ms: 80, samples: 6, last_updated: t0 },
        { subnet: '10.0.1.0/24', origin_id: 'o2', rtt_ms: 8.5, samples: 6, last_updated: t1 },
      ]);
      await store.upsertLatency([{ subnet: '10.0.0.0/24', origin_id: 'o1', rtt_ms: 42, samples: 9, last_updated: t1 }]);
      const p1 = await store.listLatency({ limit: 2 });
      const p2 = await store.listLatency({ limit: 2, cursor: p1.next_cursor! });
      expect([...p1.items, ...p2.items]).toHaveLength(3);
      expect((await store.listLatency({ limit: 10, origin_id: 'o2' })).items).toEqual([{ subnet: '10.0.1.0/24', origin_id: 'o2', rtt_ms: 8.5, samples: 6, last_updated: t1 }]);
      expect(await store.expireLatency('2026-01-01T12:00:00.000Z')).toBe(1);
      expect((await store.listLatency({ limit: 10, subnet: '10.0.0.0/24' })).items).toEqual([{ subnet: '10.0.0.0/24', origin_id: 'o1', rtt_ms: 42, samples: 9, last_updated: t1 }]);
      await expect(store.upsertLatency([{ subnet: '10.0.2.0/24', origin_id: 'o1', rtt_ms: Number.NaN, samples: 1, last_updated: t1 }])).rejects.toThrow(/finite/);
      expect((await store.listLatency({ limit: 10 })).items).toHaveLength(2);
    });

    it('records health transitions (since moves only on a flip) and each vantage’s observations', async () => {
      const store = await harness.fresh();
      const lb = await store.createLoadBalancer(LB);
      const o = await store.createOrigin(lb.id, { ...ORIGIN, name: 'x' });
      const edge = await store.createEdge(EDGE);
      const down = await store.setOriginHealth(o.id, false, 'timeout');
      expect(down).toMatchObject({ healthy: false, reason: 'set', votes: [] });
      const again = await store.setOriginHealth(o.id, false, 'still down');
      expect(again).toMatchObject({ healthy: false, since: down.since, detail: 'still down' });
      await expect(store.setOriginHealth('or_missing', true, '')).rejects.toMatchObject({ kind: 'not_found' });
      const cp = (vantage: string, healthy: boolean, at: string) => ({ origin_id: o.id, vantage, kind: 'control_plane' as const, edge_id: null, healthy, result: healthy ? ('pass' as const) : ('fail' as const), latency_ms: healthy ? 3.5 : null, observed_at: at, detail: healthy ? '200' : 'timeout' });
      await store.recordHealthObservations([cp('cp-a', false, '2026-01-01T00:00:00.000Z'), cp('cp-b', true, '2026-01-01T00:00:01.000Z')]);
      await store.recordHealthObservations([cp('cp-a', true, '2026-01-01T00:00:02.000Z')]);
      const fromEdge = { origin_id: o.id, vantage: 'edge:e', kind: 'edge' as const, edge_id: edge.id, healthy: false, result: 'fail' as const, latency_ms: 120.25, observed_at: '2026-01-01T00:00:03.000Z', detail: 'L4TOUT' };
      await store.recordHealthObservations([fromEdge]);
      expect(await store.listHealthObservations()).toEqual([cp('cp-a', true, '2026-01-01T00:00:02.000Z'), cp('cp-b', true, '2026-01-01T00:00:01.000Z'), fromEdge]);
      // A batch with one bad observation writes none of it.
      await expect(store.recordHealthObservations([cp('cp-c', true, '2026-01-01T00:00:04.000Z'), { ...cp('cp-d', true, '2026-01-01T00:00:04.000Z'), origin_id: 'or_missing' }])).rejects.toMatchObject({ kind: 'not_found' });
      await expect(store.recordHealthObservations([{ ...cp('cp-e', true, '2026-01-01T00:00:04.000Z'), latency_ms: Number.NaN }])).rejects.toMatchObject({ kind: 'invalid', field: 'latency_ms' });
      expect((await store.listHealthObservations()).map((x) => x.vantage)).toEqual(['cp-a', 'cp-b', 'edge:e']);
      // Observations go with their edge, and age out.
      await store.deleteEdge(edge.id);
      expect((await store.listHealthObservations()).map((x) => x.vantage)).toEqual(['cp-a', 'cp-b']);
      expect(await store.pruneHealthObservations('2026-01-01T00:00:01.500Z')).toBe(1);
      expect((await store.listHealthObservations()).map((x) => x.vantage)).toEqual(['cp-a']);
    });

    it('records health decisions with their votes: transitions only, global and edge-local, logged, fenced', async () => {
      const store = await harness.fresh();
      const lb = await store.createLoadBalancer(LB);
      const o = await store.createOrigin(lb.id, { ...ORIGIN, name: 'x' });
      const edge = await store.createEdge(EDGE);
      const votes = [{ vantage: 'cp-a', healthy: false, fresh: true, age_ms: 120 }, { vantage: 'edge:e', healthy: false, fresh: true, age_ms: 40 }];
      const grant = (await store.acquireLease('health', 'me', 5000))!;
      const fence = { name: grant.name, holder: grant.holder, epoch: grant.epoch };
      const decide = (healthy: boolean, edgeId: string | null = null, f = fence) =>
        store.recordHealthDecision({ load_balancer_id: lb.id, origin_id: o.id, edge_id: edgeId, healthy, reason: healthy ? 'quorum_up' : 'quorum_down', detail: `test ${healthy}`, votes }, f);
      const seq0 = await store.changeSeq();
      // Healthy with no row: no transition, nothing written.
      expect(await decide(true)).toEqual({ changed: false });
      expect(await store.changeSeq()).toBe(seq0);
      expect(await decide(false)).toEqual({ changed: true });
      expect(await store.changeSeq()).toBe(seq0 + 1);
      expect(await decide(false)).toEqual({ changed: false });
      expect(await store.listOriginHealth()).toEqual([{ origin_id: o.id, healthy: false, since: expect.any(String), detail: 'test false', reason: 'quorum_down', votes }]);
      // Edge-local: its own table, its own transitions, and the view's change sequence moves.
      expect(await decide(false, edge.id)).toEqual({ changed: true });
      expect(await store.changeSeq()).toBe(seq0 + 2);
      expect(await store.listEdgeHealth()).toEqual([{ edge_id: edge.id, origin_id: o.id, reachable: false, since: expect.any(String), reason: 'quorum_down', detail: 'test false' }]);
      expect((await store.readWorld()).edgeHealth).toHaveLength(1);
      // Each transition is in the decision log, reason health, naming the votes.
      const log = (await store.listDecisions({ limit: 10, load_balancer_id: lb.id })).items;
      expect(log.map((d) => [d.reason, d.weights_version, (d.inputs.health as { scope: string }).scope])).toEqual([['health', null, 'edge'], ['health', null, 'global']]);
      expect(log[1]!.detail).toContain('unhealthy (quorum_down): test false');
      expect(log[1]!.inputs.health).toMatchObject({ healthy: false, votes, lease_epoch: grant.epoch });
      // Fenced: another holder's lease refuses the write, and nothing of it lands.
      await store.releaseLease('health', 'me');
      const other = (await store.acquireLease('health', 'other', 5000))!;
      await expect(decide(true, null, fence)).rejects.toBeInstanceOf(LeaseLost);
      expect((await store.listOriginHealth())[0]!.healthy).toBe(false);
      expect(await decide(true, null, { name: other.name, holder: other.holder, epoch: other.epoch })).toEqual({ changed: true });
      // Deleting the edge removes its exclusions.
      await store.deleteEdge(edge.id);
      expect(await store.listEdgeHealth()).toEqual([]);
    });

    it('deleting a load balancer removes its origins, weights, health and observations, but keeps the audit log', async () => {
      const store = await harness.fresh();
      const a = await store.createLoadBalancer(LB);
      const o = await store.createOrigin(a.id, { ...ORIGIN, name: 'x' });
      await store.setOriginHealth(o.id, false, 'down');
      await store.recordHealthObservations([{ origin_id: o.id, vantage: 'v', kind: 'control_plane', edge_id: null, healthy: false, result: 'fail', latency_ms: null, observed_at: new Date().toISOString(), detail: 'down' }]);
      await store.publishWeights(a.id, { edges: { e: { [o.id]: 1 } } }, { load_balancer_id: a.id, reason: 'optimize' });
      await store.deleteLoadBalancer(a.id);
      expect(await store.allOrigins()).toEqual([]);
      expect(await store.listOriginHealth()).toEqual([]);
      expect(await store.listHealthObservations()).toEqual([]);
      expect(await store.getWeights(a.id)).toBeNull();
      expect((await store.listDecisions({ limit: 10 })).items).toHaveLength(1);
    });

    it('gives the lease to one holder at a time; a new holder gets a higher epoch, a renewal keeps it', async () => {
      const store = await harness.fresh();
      expect(await store.getLease('scheduler')).toBeNull();
      const a1 = await store.acquireLease('scheduler', 'a', 300);
      expect(a1).toMatchObject({ name: 'scheduler', holder: 'a', epoch: 1 });
      expect(await store.acquireLease('scheduler', 'b', 300)).toBeNull();
      const a2 = await store.acquireLease('scheduler', 'a', 300);
      expect(a2).toMatchObject({ epoch: 1, acquired_at: a1!.acquired_at });
      expect(Date.parse(a2!.expires_at)).toBeGreaterThanOrEqual(Date.parse(a1!.expires_at));
      expect(await store.getLease('scheduler')).toMatchObject({ holder: 'a', epoch: 1, held: true });
      const b = await waitFor(() => store.acquireLease('scheduler', 'b', 300), { timeoutMs: 3000, what: 'lease to expire' });
      expect(b.epoch).toBe(2);
      expect(await store.acquireLease('scheduler', 'a', 300)).toBeNull();
      // Release ends the lease at once but keeps the epoch counter.
      await store.releaseLease('scheduler', 'b');
      expect(await store.getLease('scheduler')).toMatchObject({ holder: 'b', epoch: 2, held: false });
      expect(await store.acquireLease('scheduler', 'a', 300)).toMatchObject({ holder: 'a', epoch: 3 });
      // A release by someone who does not hold it changes nothing.
      await store.releaseLease('scheduler', 'b');
      expect(await store.getLease('scheduler')).toMatchObject({ holder: 'a', held: true });
    });

    it('fences writes: a lost lease (taken over, or expired) makes publish and recordDecision fail with nothing applied', async () => {
      const store = await harness.fresh();
      const lb = await store.createLoadBalancer(LB);
      const o = await store.createOrigin(lb.id, { ...ORIGIN, name: 'x' });
      const grant = (await store.acquireLease('scheduler', 'a', 400))!;
      const fence = { name: grant.name, holder: grant.holder, epoch: grant.epoch };
      const ok = await store.publishWeights(lb.id, { edges: { e: { [o.id]: 1 } } }, { load_balancer_id: lb.id, reason: 'optimize' }, fence);
      expect(ok.decision.leader_epoch).toBe(grant.epoch);
      const held = await store.recordDecision({ load_balancer_id: lb.id, reason: 'hold', detail: 'quiet' }, fence);
      expect(held.leader_epoch).toBe(grant.epoch);
      await store.upsertLatency([{ subnet: '10.0.0.0/24', origin_id: o.id, rtt_ms: 1, samples: 1, last_updated: new Date().toISOString() }], fence);

      // The lease expires (the holder was paused) and another holder takes it.
      const b = await waitFor(() => store.acquireLease('scheduler', 'b', 60_000), { timeoutMs: 3000, what: 'lease to expire' });
      expect(b.epoch).toBe(grant.epoch + 1);
      const seq = await store.changeSeq();
      const decisions = (await store.listDecisions({ limit: 50 })).items.length;
      await expect(store.publishWeights(lb.id, { edges: { e: { [o.id]: 1 } } }, { load_balancer_id: lb.id, reason: 'optimize', detail: 'stale' }, fence)).rejects.toBeInstanceOf(LeaseLost);
      await expect(store.recordDecision({ load_balancer_id: lb.id, reason: 'hold', detail: 'stale' }, fence)).rejects.toBeInstanceOf(LeaseLost);
      await expect(store.upsertLatency([{ subnet: '10.0.9.0/24', origin_id: o.id, rtt_ms: 1, samples: 1, last_updated: new Date().toISOString() }], fence)).rejects.toBeInstanceOf(LeaseLost);
      // The same holder name with the right epoch but another holder's lease is refused too.
      await expect(store.recordDecision({ load_balancer_id: lb.id, reason: 'hold' }, { ...fence, epoch: b.epoch })).rejects.toBeInstanceOf(LeaseLost);
      expect((await store.getWeights(lb.id))!.version).toBe(ok.version);
      expect((await store.listDecisions({ limit: 50 })).items.length).toBe(decisions);
      expect((await store.listLatency({ limit: 10 })).items).toHaveLength(1);
      expect(await store.changeSeq()).toBe(seq);
      // The new holder's fence works, and its version follows on without a gap.
      const next = await store.publishWeights(lb.id, {}, { load_balancer_id: lb.id, reason: 'optimize' }, { name: b.name, holder: b.holder, epoch: b.epoch });
      expect(next).toMatchObject({ version: ok.version + 1, decision: { leader_epoch: b.epoch } });

      // An expired lease nobody took over still fences its old holder.
      await store.releaseLease('scheduler', 'b');
      await expect(store.recordDecision({ load_balancer_id: lb.id, reason: 'hold' }, { name: b.name, holder: b.holder, epoch: b.epoch })).rejects.toThrow(/expired|no longer/);
    });

    it('bumps the change sequence on every committed change and tells another handle within a second', async () => {
      const store = await harness.fresh();
      const other = await harness.peer(store);
      const s0 = await store.changeSeq();
      const lb = await store.createLoadBalancer(LB);
      const s1 = await store.changeSeq();
      expect(s1).toBeGreaterThan(s0);
      await expect(store.createLoadBalancer(LB)).rejects.toMatchObject({ kind: 'conflict' });
      expect(await store.changeSeq()).toBe(s1);
      let woken = 0;
      const off = store.onChange(() => woken++);
      try {
        const t0 = Date.now();
        await other.createEdge(EDGE);
        await waitFor(() => woken > 0, { timeoutMs: 2000, what: 'change notification' });
        expect(Date.now() - t0).toBeLessThan(1000);
        expect((await store.allEdges()).map((e) => e.name)).toEqual(['e']);
        expect(await other.changeSeq()).toBe(await store.changeSeq());
      } finally {
        off();
      }
      const world = await store.readWorld();
      expect(world).toMatchObject({ seq: await store.changeSeq(), loadBalancers: [{ id: lb.id }], origins: [], health: [], edgeHealth: [], weights: [] });
    });

    it("readWorld hands this process's own publish back as published, with the subnet keys it changed; another writer's as its body", async () => {
      const store = await harness.fresh();
      const other = await harness.peer(store);
      const lb = await store.createLoadBalancer(LB);
      const [x, y] = [(await store.createOrigin(lb.id, { ...ORIGIN, name: 'x' })).id, (await store.createOrigin(lb.id, { ...ORIGIN, name: 'y' })).id];
      const decision = { load_balancer_id: lb.id, reason: 'optimize' as const };
      const first = { '10.0.0.0/24': { [x]: 1 }, '10.0.1.0/24': { [x]: 0.5, [y]: 0.5 }, '10.0.2.0/24': { [y]: 1 } };
      await store.publishWeights(lb.id, { subnets: first }, decision);
      const w1 = (await store.readWorld()).weights[0]!;
      expect(w1).toMatchObject({ body: null, own: { subnets: first, changed: null } });
      expect(w1.own!.subnets).toBe(first); // the very object: nothing parsed
      // Re-weighted, added, removed, and one re-sent equal (not a change).
      const second = { '10.0.0.0/24': { [x]: 1 }, '10.0.1.0/24': { [x]: 0.25, [y]: 0.75 }, '10.0.3.0/24': { [x]: 1 } };
      await store.publishWeights(lb.id, { subnets: second }, decision);
      const w2 = (await store.readWorld()).weights[0]!;
      expect(w2.own!.changed!.from).toBe(first);
      expect([...w2.own!.changed!.keys].sort()).toEqual(['10.0.1.0/24', '10.0.2.0/24', '10.0.3.0/24']);
      // The other process reads the body: the same content.
      const seen = (await other.readWorld()).weights[0]!;
      expect(seen.own).toBeUndefined();
      expect(JSON.parse(seen.body!)).toEqual({ edges: {}, subnets: second });
      // Once another writer publishes, this process reads the body too, and its next publish is
      // compared against what it read, the head (a change row after it: weights-chain.ts), not against
      // its own last publish.
      await other.publishWeights(lb.id, { subnets: first }, decision);
      const w3 = (await store.readWorld()).weights[0]!;
      expect(w3.own).toBeUndefined();
      expect(JSON.parse(w3.body!).subnets).toEqual(first);
      await store.publishWeights(lb.id, { subnets: { ...first, '10.0.2.0/24': { [x]: 1 } } }, decision);
      const w4 = (await store.readWorld()).weights[0]!.own!.changed!;
      expect(w4.from).toBe(w3.parsed!.subnets);
      expect(w4.keys).toEqual(['10.0.2.0/24']);
    });

    it('a conditional write (ifRevision) to a row that is gone fails its precondition; an unconditional one is not_found', async () => {
      const store = await harness.fresh();
      const lb = await store.createLoadBalancer(LB);
      await store.deleteLoadBalancer(lb.id, 1);
      await expect(store.deleteLoadBalancer(lb.id, 1)).rejects.toMatchObject({ kind: 'precondition_failed' });
      await expect(store.replaceLoadBalancer(lb.id, LB, 1)).rejects.toMatchObject({ kind: 'precondition_failed' });
      await expect(store.deleteLoadBalancer(lb.id)).rejects.toMatchObject({ kind: 'not_found' });
      await expect(store.replaceLoadBalancer(lb.id, LB)).rejects.toMatchObject({ kind: 'not_found' });
    });

    it('change_seq moves only for what long-polled views are built from, and only those changes notify', async () => {
      const store = await harness.fresh();
      let notified = 0;
      const off = store.onChange(() => notified++);
      try {
        const lb = await store.createLoadBalancer(LB);
        const origin = await store.createOrigin(lb.id, { ...ORIGIN, name: 'o' });
        await waitFor(() => notified >= 1, { what: 'notification of the resource writes' });
        const seq = await store.changeSeq();
        // A cycle that changes nothing: decisions, latency, leases, pruning, observations.
        const grant = (await store.acquireLease('scheduler', 'me', 5000))!;
        const fence = { name: grant.name, holder: grant.holder, epoch: grant.epoch };
        await store.recordDecision({ load_balancer_id: lb.id, reason: 'hold', detail: 'stale inputs' }, fence);
        await store.upsertLatency([{ subnet: '10.0.0.0/24', origin_id: origin.id, rtt_ms: 5, samples: 3, last_updated: new Date().toISOString() }], fence);
        await store.expireLatency(new Date(Date.now() + 60_000).toISOString());
        await store.recordHealthObservations([{ origin_id: origin.id, vantage: 'v', kind: 'control_plane', edge_id: null, healthy: true, result: 'pass', latency_ms: 1, observed_at: new Date().toISOString(), detail: '' }]);
        await store.releaseLease('scheduler', 'me');
        await store.pruneDecisions(new Date(Date.now() + 60_000).toISOString());
        expect(await store.changeSeq()).toBe(seq);
        // A view-changing write moves it by one and notifies. (How many notifications the earlier
        // writes gave is the store's business: PostgreSQL may coalesce them.)
        const seen = notified;
        await store.setOriginHealth(origin.id, false, 'down');
        expect(await store.changeSeq()).toBe(seq + 1);
        await waitFor(() => notified > seen, { what: 'notification of the health transition' });
      } finally {
        off();
      }
    });

    it('keeps operator overrides with who and why, checks them in the write transaction, audits and cancels them', async () => {
      const store = await harness.fresh();
      const lb = await store.createLoadBalancer(LB);
      const origin = await store.createOrigin(lb.id, { ...ORIGIN, name: 'o' });
      const seq = await store.changeSeq();
      const seen: number[] = [];
      const dial = await store.createOverride(lb.id, { kind: 'dial', origin_id: origin.id, percent: 50, reason: 'maintenance', now: false }, 'admin:abc', (active) => seen.push(active.length));
      expect(dial).toMatchObject({ kind: 'dial', percent: 50, reason: 'maintenance', created_by: 'admin:abc', cancelled_at: null, state: 'active', load_balancer_id: lb.id });
      expect(dial.id).toMatch(/^ov_[0-9a-f]{16}$/);
      // The check sees the overrides in force, and a throw refuses the write (nothing stored, nothing audited).
      await expect(store.createOverride(lb.id, { kind: 'dial', origin_id: origin.id, percent: 10, reason: 'x', now: false }, 'b', (active) => {
        seen.push(active.length);
        throw new Error('refused');
      })).rejects.toThrow('refused');
      expect(seen).toEqual([0, 1]);
      // One already expired: kept, listed, but not in force.
      const past = new Date(Date.now() - 1000).toISOString();
      const old = await store.createOverride(lb.id, { kind: 'share', origin_id: origin.id, max_share: 0.5, reason: 'old', now: false, expires_at: past }, 'c', () => undefined);
      expect(old.state).toBe('expired');
      expect((await store.activeOverrides(lb.id)).map((o) => o.id)).toEqual([dial.id]);
      const page1 = await store.listOverrides(lb.id, { limit: 1 });
      const page2 = await store.listOverrides(lb.id, { limit: 1, cursor: page1.next_cursor! });
      expect([...page1.items, ...page2.items].map((o) => o.id)).toEqual([dial.id, old.id]);
      expect(page2.next_cursor).toBeNull();
      // Cancel: who, when; a second cancel (or of an expired one) is a conflict.
      const cancelled = await store.cancelOverride(lb.id, dial.id, 'admin:def');
      expect(cancelled).toMatchObject({ state: 'cancelled', cancelled_by: 'admin:def' });
      expect(Date.parse(cancelled.cancelled_at!)).toBeGreaterThan(0);
      await expect(store.cancelOverride(lb.id, dial.id, 'x')).rejects.toMatchObject({ kind: 'conflict' });
      await expect(store.cancelOverride(lb.id, old.id, 'x')).rejects.toMatchObject({ kind: 'conflict' });
      await expect(store.getOverride(lb.id, 'ov_missing')).rejects.toMatchObject({ kind: 'not_found' });
      expect((await store.getOverride(lb.id, dial.id)).state).toBe('cancelled');
      expect(await store.activeOverrides(lb.id)).toEqual([]);
      await expect(store.createOverride('lb_missing', { kind: 'dial', origin_id: origin.id, percent: 5, reason: 'x', now: false }, 'a', () => undefined)).rejects.toMatchObject({ kind: 'not_found' });
      // The audit: one `override` record per creation and cancellation, newest first.
      const audit = (await store.listDecisions({ limit: 10, load_balancer_id: lb.id })).items.filter((d) => d.reason === 'override');
      expect(audit.map((d) => d.detail)).toEqual([
        `override ${dial.id} (dial) cancelled by admin:def`,
        `override ${old.id} (share) created by c until ${past}: old`,
        `override ${dial.id} (dial) created by admin:abc: maintenance`,
      ]);
      // Overrides are read by the scheduler each cycle; they wake no long-poller.
      expect(await store.changeSeq()).toBe(seq);
      // They go with their load balancer.
      await store.deleteLoadBalancer(lb.id);
      await expect(store.getOverride(lb.id, old.id)).rejects.toMatchObject({ kind: 'not_found' });
    });

    it('refuses data written by a newer schema', async () => {
      const store = await harness.fresh();
      await expect(harness.openNewer(store)).rejects.toThrow(/newer sluice/);
    });
  });
}
