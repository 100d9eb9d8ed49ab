import { describe, expect, it } from 'vitest';
import { edgeConfig } from '../testing/fixtures.ts';
import { desiredPools, listenerKey, renderName } from './desired.ts';

describe('desiredPools', () => {
  it('one pool per listener, one server per origin address, weights on the scale', () => {
    const cfg = edgeConfig([{ lb: 'web', vip: '192.0.2.1', port: 80, origins: [{ name: 'eu', addresses: ['10.0.0.1', '10.0.0.2'], port: 8080, weight: 0.6 }, { name: 'us', address: '10.1.0.1', port: 8080, weight: 0.4 }] }]);
    const [pool] = desiredPools(cfg, { poolName: '{load_balancer}_{port}', weightTotal: 1000 });
    expect(pool!.name).toBe('web_80');
    expect(pool!.listener).toBe('192.0.2.1:80');
    expect(pool!.servers.map((s) => [s.name, s.address, s.weight])).toEqual([
      ['eu_1', '10.0.0.1', 300],
      ['eu_2', '10.0.0.2', 300],
      ['us', '10.1.0.1', 400],
    ]);
    expect(pool!.hold).toBeUndefined();
  });

  it('unhealthy and disabled origins get weight 0 whatever their share; drain keeps its share', () => {
    const cfg = edgeConfig([{ lb: 'web', port: 80, origins: [
      { name: 'a', port: 1, weight: 0.5, healthy: false },
      { name: 'b', port: 2, weight: 0.2, admin_state: 'disabled' },
      { name: 'c', port: 3, weight: 0.2, admin_state: 'drain' },
      { name: 'd', port: 4, weight: 0.1 },
    ] }]);
    const [pool] = desiredPools(cfg, { poolName: 'p', weightTotal: 300 });
    expect(pool!.servers.map((s) => s.weight)).toEqual([0, 0, 200, 100]);
  });

  it('holds a listener whose every share is 0 instead of black-holing it', () => {
    const cfg = edgeConfig([{ lb: 'web', port: 80, origins: [{ name: 'a', port: 1, weight: 0 }, { name: 'b', port: 2, weight: 1, healthy: false }] }]);
    expect(desiredPools(cfg, { poolName: 'p', weightTotal: 256 })[0]!.hold).toMatch(/keeping the weights in force/);
    const empty = edgeConfig([{ lb: 'web', port: 80, origins: [] }]);
    expect(desiredPools(empty, { poolName: 'p', weightTotal: 256 })[0]!.hold).toMatch(/no origins/);
  });

  it('an origin this edge cannot reach (edge-local exclusion) gets 0 whatever its share', () => {
    const cfg = edgeConfig([{ lb: 'web', port: 80, origins: [{ name: 'a', port: 1, weight: 0.5, reachable: false }, { name: 'b', port: 2, weight: 0.5 }] }]);
    expect(desiredPools(cfg, { poolName: 'p', weightTotal: 100 })[0]!.servers.map((s) => s.weight)).toEqual([0, 100]);
  });

  it('every enabled origin down by quorum: served by all of them at the control plane’s fail-open weights, never held empty', () => {
    const cfg = edgeConfig([{ lb: 'web', port: 80, origins: [
      { name: 'a', port: 1, weight: 0.5, healthy: false },
      { name: 'b', port: 2, weight: 0.5, healthy: false, reachable: false },
      { name: 'c', port: 3, weight: 0, healthy: false, admin_state: 'disabled' },
    ] }]);
    const [pool] = desiredPools(cfg, { poolName: 'p', weightTotal: 100 });
    expect(pool!.servers.map((s) => s.weight)).toEqual([50, 50, 0]);
    expect(pool!.hold).toBeUndefined();
    expect(pool!.failOpen).toMatch(/fail open/);
  });

  it('holds on server-name collisions rather than merging two origins', () => {
    const cfg = edgeConfig([{ lb: 'web', port: 80, origins: [{ name: 'a.b', port: 1, weight: 0.5 }, { name: 'a.b', port: 2, weight: 0.5 }] }]);
    expect(desiredPools(cfg, { poolName: 'p', weightTotal: 256 })[0]!.hold).toMatch(/same server name/);
  });

  it('names: IPv6 listeners bracketed; templates made safe for HAProxy/nginx', () => {
    expect(listenerKey('2001:db8::1', 443)).toBe('[2001:db8::1]:443');
    expect(renderName('{load_balancer}@{vip}:{port}', { load_balancer: 'web', vip: '2001:db8::1', port: 443 })).toBe('web_2001_db8__1_443');
  });
});
