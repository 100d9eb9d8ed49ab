// The edge view and health: an origin one edge cannot reach is out of that edge's shares at once (the
// others' views unchanged); an edge that can reach nothing usable keeps global health only; every
// origin down by quorum fails open (never an empty answer).
import { describe, expect, it } from 'vitest';
import type { Edge, EdgeOriginHealth, LoadBalancer, LoadBalancerWeights, Origin, OriginHealth } from '../../model/index.ts';
import { buildDnsView, buildDnsViewSteps, buildEdgeConfig, dnsViewJsonSteps, type WorldSnapshot } from './build.ts';
import { runPaced, STEP_ITEMS } from '../../lib/steps.ts';
import { textSink } from '../../lib/json-steps.ts';

const lb = { id: 'lb1', name: 'web', enabled: true, listeners: [{ vip: '192.0.2.1', port: 80, protocol: 'http' }], policy: 'latency', dns: { zone: 'example.com', hostname: 'web.example.com', ttl: 5 }, max_latency_ms: 500 } as unknown as LoadBalancer;
const origin = (id: string) => ({ id, name: id, region: 'r', load_balancer_id: 'lb1', addresses: [`198.51.100.${id.charCodeAt(0) % 200}`], port: 80, location: { lat: 0, lon: 0 }, admin_state: 'active', static_weight: 1, priority: 0 }) as unknown as Origin;
const edge = (id: string) => ({ id, name: id, region: 'r', address: '192.0.2.9', location: { lat: 0, lon: 0 } }) as Edge;
const weights: LoadBalancerWeights = { load_balancer_id: 'lb1', version: 7, published_at: '', edges: { a: { x: 0.6, y: 0.3, z: 0.1 }, b: { x: 1 } }, subnets: {} };
const down = (id: string): OriginHealth => ({ origin_id: id, healthy: false, since: '', detail: '', reason: 'quorum_down', votes: [] });
const unreachable = (edgeId: string, originId: string): EdgeOriginHealth => ({ edge_id: edgeId, origin_id: originId, reachable: false, since: '', reason: 'unreachable_from_edge', detail: '' });

function world(parts: Partial<WorldSnapshot> = {}): WorldSnapshot {
  return { seq: 1, loadBalancers: [lb], origins: [origin('x'), origin('y'), origin('z')], health: [], edgeHealth: [], weights: new Map([['lb1', weights]]), ...parts };
}
const shares = (w: WorldSnapshot, e: string) => Object.fromEntries(buildEdgeConfig(edge(e), w).listeners[0]!.origins.map((o) => [o.id, [Math.round(o.weight * 1000) / 1000, o.reachable]]));

describe('buildEdgeConfig and health', () => {
  it('an origin edge a cannot reach is out of a’s shares (renormalised); edge b’s view is unchanged', () => {
    const w = world({ edgeHealth: [unreachable('a', 'x')] });
    expect(shares(w, 'a')).toEqual({ x: [0, false], y: [0.75, true], z: [0.25, true] });
    expect(shares(w, 'b')).toEqual({ x: [1, true], y: [0, true], z: [0, true] });
    // The exclusion is part of a's view (its version changes), not of b's.
    expect(buildEdgeConfig(edge('a'), w).version).not.toBe(buildEdgeConfig(edge('a'), world()).version);
    expect(buildEdgeConfig(edge('b'), w).version).toBe(buildEdgeConfig(edge('b'), world()).version);
  });

  it('published weights only on the excluded origin: static weights of the reachable ones', () => {
    expect(shares(world({ edgeHealth: [unreachable('b', 'x')] }), 'b')).toEqual({ x: [0, false], y: [0.5, true], z: [0.5, true] });
  });

  it('an edge that can reach nothing usable keeps global health only (no fail-open onto origins down for everyone)', () => {
    const w = world({ health: [down('z')], edgeHealth: [unreachable('a', 'x'), unreachable('a', 'y')] });
    expect(shares(w, 'a')).toEqual({ x: [0.667, true], y: [0.333, true], z: [0, true] });
  });

  it('every origin down by quorum: edges and DNS fail open to all of them', () => {
    const w = world({ health: [down('x'), down('y'), down('z')] });
    const a = buildEdgeConfig(edge('a'), w).listeners[0]!.origins;
    expect(a.map((o) => [o.id, o.healthy, Math.round(o.weight * 1000) / 1000])).toEqual([['x', false, 0.333], ['y', false, 0.333], ['z', false, 0.333]]);
    const dns = buildDnsView(w).zones[0]!.records[0]!;
    expect(dns.origins.map((o) => o.healthy)).toEqual([false, false, false]);
  });

  it('carries each origin’s health check, so an edge can run it where its data plane cannot', () => {
    const check = { type: 'http' as const, path: '/health', interval_ms: 500, timeout_ms: 400, rise: 2, fall: 2, expect_status: [200] };
    const w = world({ origins: [{ ...origin('x'), health_check: check }, origin('y')] });
    expect(buildEdgeConfig(edge('a'), w).listeners[0]!.origins.map((o) => o.health_check)).toEqual([check, null]);
  });
});

describe('buildDnsView in steps', () => {
  it('gives the same version for the same content built apart (versions are compared across replicas), yielding over the subnets', async () => {
    const subnets: LoadBalancerWeights['subnets'] = {};
    for (let i = 0; i < STEP_ITEMS * 3 + 7; i++) subnets[i % 2 ? `10.${i >> 8}.${i & 255}.0/24` : `2001:db8:${i.toString(16)}::/48`] = i % 3 ? { x: 0.5, y: 0.5 } : { z: 1 };
    const lb2 = { ...lb, id: 'lb2', dns: { zone: 'example.net', hostname: 'b.example.net', ttl: 9 } } as unknown as LoadBalancer;
    const w = world({ loadBalancers: [lb, lb2], weights: new Map([['lb1', { ...weights, subnets }], ['lb2', { ...weights, load_balancer_id: 'lb2', version: 9, subnets: { '192.0.2.0/24': { x: 1 } } }]]) });
    // Something else on the loop runs while the view is built (it yields).
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 0);
    const view = await runPaced(buildDnsViewSteps(w), 0);
    clearInterval(ticker);
    expect(ticks).toBeGreaterThan(0);
    const { version, seq, ...body } = view;
    // Another replica: the same content in objects of its own (parsed from the stored JSON).
    const apart = { ...w, weights: new Map([...w.weights].map(([id, x]) => [id, JSON.parse(JSON.stringify(x)) as LoadBalancerWeights])) };
    expect(buildDnsView(apart).version).toBe(version);
    expect(buildDnsView(w)).toEqual(view);
    expect(view.zones.map((z) => z.zone)).toEqual(['example.com', 'example.net']);
    const text = textSink();
    await runPaced(dnsViewJsonSteps(body, text.add));
    expect(text.text()).toBe(JSON.stringify(body));
    // The whole view as GET /dns/view sends it (version and seq after the zones).
    const whole = textSink();
    await runPaced(dnsViewJsonSteps(view, whole.add));
    expect(whole.text()).toBe(JSON.stringify(view));
    // And the version moves with a single subnet's weights, or one subnet more (tables are never
    // changed once published: a new publish is a new table).
    const moved = (s: LoadBalancerWeights['subnets']) => buildDnsView({ ...w, weights: new Map([...w.weights, ['lb1', { ...weights, subnets: s }]]) }).version;
    expect(moved({ ...subnets })).toBe(version);
    expect(moved({ ...subnets, '10.0.1.0/24': { x: 1 } })).not.toBe(version);
    expect(moved({ ...subnets, '10.0.1.0/24': { y: 0.5, x: 0.5 } })).not.toBe(version);
    expect(moved({ ...subnets, '198.51.100.0/24': { x: 1 } })).not.toBe(version);
  });
});
