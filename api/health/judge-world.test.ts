// One evaluation over store rows: which transitions it writes, with which votes, for the cases the issue
// names — a control-plane partition, an edge partition, a real failure, every origin down (fail open) —
// and the bookkeeping around them (no health check, health set directly, a decision another leader wrote).
import { describe, expect, it } from 'vitest';
import type { Edge, EdgeOriginHealth, LoadBalancer, Origin, OriginHealth } from '../../model/index.ts';
import type { HealthObservation } from '../store/store.ts';
import { emptyMemory, judgeWorld, type HealthWorld } from './judge-world.ts';
import type { QuorumPolicy } from './quorum.ts';

const P: QuorumPolicy = { quorum: 'majority', min_down: 2, stale_after_ms: 10_000, forget_after_ms: 60_000, hold_down_ms: 5_000 };
const NOW = Date.parse('2026-01-01T00:01:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

const lb = { id: 'lb1', name: 'web' } as LoadBalancer;
const check = { type: 'http' as const, path: '/health', interval_ms: 500, timeout_ms: 400, rise: 2, fall: 2, expect_status: [200] };
const origin = (id: string, extra: Partial<Origin> = {}) => ({ id, name: id, load_balancer_id: 'lb1', admin_state: 'active', health_check: check, ...extra }) as Origin;
const edge = (id: string) => ({ id, name: id }) as Edge;
const obs = (originId: string, vantage: string, healthy: boolean, ageMs = 100): HealthObservation => {
  const edgeId = vantage.startsWith('edge:') ? vantage.slice(5) : null;
  return { origin_id: originId, vantage, kind: edgeId ? 'edge' : 'control_plane', edge_id: edgeId, healthy, result: healthy ? 'pass' : 'fail', latency_ms: healthy ? 2 : null, observed_at: iso(NOW - ageMs), detail: '' };
};
const row = (originId: string, healthy: boolean, reason = 'quorum_down', sinceMs = NOW - 60_000): OriginHealth => ({ origin_id: originId, healthy, since: iso(sinceMs), detail: '', reason, votes: [] });

function world(parts: Partial<HealthWorld>): HealthWorld {
  return { loadBalancers: [lb], origins: [origin('x'), origin('y')], edges: [edge('a'), edge('b')], observations: [], health: [], edgeHealth: [], ...parts };
}

const everyoneSees = (originId: string, healthy: boolean) => [obs(originId, 'cp', healthy), obs(originId, 'edge:a', healthy), obs(originId, 'edge:b', healthy)];

describe('judgeWorld', () => {
  it('control-plane partition: the control plane sees x down, both edges see it up: nothing changes', () => {
    const r = judgeWorld(world({ observations: [obs('x', 'cp', false), obs('x', 'edge:a', true), obs('x', 'edge:b', true), ...everyoneSees('y', true)] }), emptyMemory(), NOW, P);
    expect(r.decisions).toEqual([]);
    expect(r.rows.find((x) => x.origin.id === 'x')).toMatchObject({ healthy: true, tally: { fresh: 3, down: 1, required: 2 }, excludedBy: [] });
  });

  it('edge partition: edge a cannot reach x, the quorum can: x is excluded for a only', () => {
    const r = judgeWorld(world({ observations: [obs('x', 'cp', true), obs('x', 'edge:a', false), obs('x', 'edge:b', true)] }), emptyMemory(), NOW, P);
    expect(r.decisions).toEqual([
      { load_balancer_id: 'lb1', origin_id: 'x', edge_id: 'a', healthy: false, reason: 'unreachable_from_edge', detail: 'edge:a sees it down while the quorum does not: excluded for this edge only', votes: [{ vantage: 'edge:a', healthy: false, fresh: true, age_ms: 100 }] },
    ]);
    expect(r.rows.find((x) => x.origin.id === 'x')!.excludedBy.map((e) => e.id)).toEqual(['a']);
  });

  it('real failure: everyone sees x down: unhealthy by quorum with every vote named, and no edge-local exclusions', () => {
    const r = judgeWorld(world({ observations: everyoneSees('x', false) }), emptyMemory(), NOW, P);
    expect(r.decisions).toHaveLength(1);
    expect(r.decisions[0]).toMatchObject({ origin_id: 'x', edge_id: null, healthy: false, reason: 'quorum_down' });
    expect(r.decisions[0]!.votes.map((v) => `${v.vantage}=${v.healthy}`)).toEqual(['cp=false', 'edge:a=false', 'edge:b=false']);
    expect(r.failOpen).toEqual([]);
  });

  it('every origin down by quorum: the load balancer fails open', () => {
    const r = judgeWorld(world({ observations: [...everyoneSees('x', false), ...everyoneSees('y', false)] }), emptyMemory(), NOW, P);
    expect(r.decisions.map((d) => [d.origin_id, d.healthy])).toEqual([['x', false], ['y', false]]);
    expect(r.failOpen.map((l) => l.id)).toEqual(['lb1']);
    // A disabled origin does not keep a load balancer from failing open, nor is it judged.
    const withDisabled = judgeWorld(world({ origins: [origin('x'), origin('y'), origin('z', { admin_state: 'disabled' })], observations: [...everyoneSees('x', false), ...everyoneSees('y', false), ...everyoneSees('z', false)] }), emptyMemory(), NOW, P);
    expect(withDisabled.decisions.map((d) => d.origin_id)).toEqual(['x', 'y']);
    expect(withDisabled.failOpen).toHaveLength(1);
  });

  it('recovery waits out the hold-down, carried in memory between rounds', () => {
    const down = [row('x', false, 'quorum_down', NOW - 1000)];
    const first = judgeWorld(world({ health: down, observations: everyoneSees('x', true) }), emptyMemory(), NOW, P);
    expect(first.decisions).toEqual([]);
    const second = judgeWorld(world({ health: down, observations: everyoneSees('x', true).map((o) => ({ ...o, observed_at: iso(NOW + 4000) })) }), first.memory, NOW + 4999, P);
    expect(second.decisions).toEqual([]);
    const third = judgeWorld(world({ health: down, observations: everyoneSees('x', true).map((o) => ({ ...o, observed_at: iso(NOW + 5000) })) }), second.memory, NOW + 5000, P);
    expect(third.decisions).toMatchObject([{ origin_id: 'x', healthy: true, reason: 'quorum_up' }]);
  });

  it('the stored decision wins over memory: a clock from before another leader wrote is dropped', () => {
    // Memory says x has been clear (recovering) for a while, but the store now says healthy: judged from the row.
    const memory = emptyMemory();
    memory.global.set('x', { healthy: false, since_ms: 0, clear_since_ms: NOW - 60_000 });
    const r = judgeWorld(world({ health: [row('x', true, 'quorum_up')], observations: [obs('x', 'cp', false), obs('x', 'edge:a', true)] }), memory, NOW, P);
    expect(r.decisions).toEqual([]);
    expect(r.memory.global.get('x')).toMatchObject({ healthy: true });
  });

  it('an origin without a health check is never judged; one left unhealthy by the quorum becomes healthy again', () => {
    const r = judgeWorld(world({ origins: [origin('x', { health_check: undefined })], health: [row('x', false)], observations: [obs('x', 'edge:a', false)] }), emptyMemory(), NOW, P);
    expect(r.decisions).toMatchObject([{ origin_id: 'x', edge_id: null, healthy: true, reason: 'no_health_check' }]);
    expect(r.rows).toEqual([]);
  });

  it('health set directly stands until a vantage reports something fresh', () => {
    const set = [row('x', false, 'set')];
    expect(judgeWorld(world({ health: set, origins: [origin('x', { health_check: undefined })] }), emptyMemory(), NOW, P).decisions).toEqual([]);
    expect(judgeWorld(world({ health: set, observations: [obs('x', 'cp', true, 60_000)] }), emptyMemory(), NOW, P).decisions).toEqual([]);
    const fresh = judgeWorld(world({ health: set, observations: everyoneSees('x', true) }), emptyMemory(), NOW, P);
    expect(fresh.memory.global.get('x')).toMatchObject({ healthy: false, clear_since_ms: NOW });
  });

  it('an exclusion whose edge stopped reporting is lifted after the hold-down', () => {
    const excluded: EdgeOriginHealth[] = [{ edge_id: 'a', origin_id: 'x', reachable: false, since: iso(NOW - 30_000), reason: 'unreachable_from_edge', detail: '' }];
    const votes = [obs('x', 'cp', true), obs('x', 'edge:b', true), obs('x', 'edge:a', false, 20_000)];
    const first = judgeWorld(world({ edgeHealth: excluded, observations: votes }), emptyMemory(), NOW, P);
    expect(first.decisions).toEqual([]);
    const later = judgeWorld(world({ edgeHealth: excluded, observations: votes }), first.memory, NOW + 5000, P);
    expect(later.decisions).toMatchObject([{ origin_id: 'x', edge_id: 'a', healthy: true, reason: 'reachable_from_edge' }]);
  });
});
