import { describe, expect, it } from 'vitest';
import { CounterTracker, EdgeMetrics } from './metrics.ts';
import { sharesInForce } from './loop.ts';
import { edgeConfig } from './testing/fixtures.ts';

describe('CounterTracker', () => {
  it('first value is a baseline; increases are deltas; a restart of the source counts from 0', () => {
    const t = new CounterTracker();
    expect(t.delta('k', 500)).toBe(0);
    expect(t.delta('k', 520)).toBe(20);
    expect(t.delta('k', 7)).toBe(7); // HAProxy reloaded: its counter restarted
    expect(t.delta('k', Number.NaN)).toBe(0);
  });
});

describe('EdgeMetrics', () => {
  it('exports the contract names with edge/load_balancer/listener/origin labels', async () => {
    const m = new EdgeMetrics('ams-1');
    m.recordDemand('haproxy', { listeners: [{ loadBalancer: 'web', listener: '192.0.2.10:80', value: 100 }], origins: [{ loadBalancer: 'web', origin: 'eu', key: 'web_80/eu', value: 60 }] });
    m.recordDemand('haproxy', { listeners: [{ loadBalancer: 'web', listener: '192.0.2.10:80', value: 130 }], origins: [{ loadBalancer: 'web', origin: 'eu', key: 'web_80/eu', value: 80 }] });
    m.setWeights([{ loadBalancer: 'web', origin: 'eu', share: 0.9 }]);
    const text = await m.registry.metrics();
    expect(text).toContain('sluice_edge_requests_total{edge="ams-1",load_balancer="web",listener="192.0.2.10:80"} 30');
    expect(text).toContain('sluice_edge_origin_requests_total{edge="ams-1",load_balancer="web",origin="eu"} 20');
    expect(text).toContain('sluice_edge_weight{edge="ams-1",load_balancer="web",origin="eu"} 0.9');
    for (const name of ['sluice_edge_applies_total', 'sluice_edge_apply_errors_total', 'sluice_edge_config_version']) expect(text).toContain(`# TYPE ${name}`);
  });

  it('shares in force: quiesced origins 0; a held listener keeps the previous shares', () => {
    const live = edgeConfig([{ lb: 'web', port: 80, origins: [{ name: 'a', port: 1, weight: 0.6 }, { name: 'b', port: 2, weight: 0.4, healthy: false }] }]);
    const rows = sharesInForce(live);
    expect(rows).toEqual([{ loadBalancer: 'web', origin: 'a', share: 0.6 }, { loadBalancer: 'web', origin: 'b', share: 0 }]);
    const allZero = edgeConfig([{ lb: 'web', port: 80, origins: [{ name: 'a', port: 1, weight: 0 }, { name: 'b', port: 2, weight: 0 }] }]);
    expect(sharesInForce(allZero, rows)).toEqual(rows);
  });
});
