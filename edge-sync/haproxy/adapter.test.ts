import { describe, expect, it } from 'vitest';
import { desiredPools } from '../plan/desired.ts';
import { diffPools } from '../plan/diff.ts';
import { edgeConfig } from '../testing/fixtures.ts';
import { commandsFor, haproxyDemand, parseVersion } from './adapter.ts';

const cfg = edgeConfig([{ lb: 'web', port: 80, origins: [{ name: 'a', address: '10.0.0.1', port: 80, weight: 0.5 }, { name: 'b', address: '10.0.0.2', port: 80, weight: 0.5 }] }]);
const pools = desiredPools(cfg, { poolName: '{load_balancer}_{port}', weightTotal: 256 });

describe('HAProxy runtime commands', () => {
  it('adds (and enables) new servers first, then weights, then removes (maint before del)', () => {
    const actual = [{ name: 'web_80', servers: [{ name: 'a', address: '10.0.0.1', port: 80, weight: 10 }, { name: 'gone', address: '10.0.0.3', port: 80, weight: 5 }] }];
    const cmds = commandsFor(diffPools(pools, actual, { matchBy: 'name' }), 'check inter 2s').map((c) => c.command);
    expect(cmds).toEqual([
      'add server web_80/b 10.0.0.2:80 weight 128 check inter 2s',
      'enable health web_80/b',
      'enable server web_80/b',
      'set server web_80/a weight 128',
      'set server web_80/gone state maint',
      'del server web_80/gone',
    ]);
  });

  it('parses the version from show info', () => {
    expect(parseVersion('Name: HAProxy\nVersion: 2.6.12-1+deb12u4\nRelease_date: 2026/10/17\n')).toEqual([2, 6]);
    expect(parseVersion('nothing')).toBeNull();
  });

  it('demand: HTTP requests (req_tot) per backend and per server; sessions (stot) in tcp mode', () => {
    const rows = [
      { pxname: 'web_80', svname: 'BACKEND', mode: 'http', stot: '10', req_tot: '40' },
      { pxname: 'web_80', svname: 'a', mode: 'http', stot: '6', req_tot: '25' },
      { pxname: 'web_80', svname: 'b', mode: 'http', stot: '4', req_tot: '15' },
    ];
    expect(haproxyDemand(rows, pools)).toEqual({
      listeners: [{ loadBalancer: 'web', listener: '127.0.0.1:80', value: 40 }],
      origins: [{ loadBalancer: 'web', origin: 'a', key: 'web_80/a', value: 25 }, { loadBalancer: 'web', origin: 'b', key: 'web_80/b', value: 15 }],
    });
    const tcp = rows.map((r) => ({ ...r, mode: 'tcp', req_tot: '' }));
    expect(haproxyDemand(tcp, pools).listeners[0]!.value).toBe(10);
  });
});
