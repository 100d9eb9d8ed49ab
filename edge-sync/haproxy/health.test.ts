import { describe, expect, it } from 'vitest';
import { desiredPools } from '../plan/desired.ts';
import { edgeConfig } from '../testing/fixtures.ts';
import { haproxyHealth } from './health.ts';
import { parseStatCsv } from './parse.ts';

const HEADER = '# pxname,svname,qcur,status,weight,check_status,check_code,check_duration,';
const pools = desiredPools(edgeConfig([{ lb: 'web', port: 80, origins: [
  { name: 'a', port: 1, weight: 0.25 },
  { name: 'b', port: 2, weight: 0.25 },
  { name: 'c', port: 3, weight: 0.25 },
  { name: 'd', addresses: ['10.0.0.1', '10.0.0.2'], port: 4, weight: 0.25 },
] }]), { poolName: 'web_80', weightTotal: 256 });

describe('haproxyHealth (show stat -> this edge’s verdicts)', () => {
  it('UP/DOWN with HAProxy’s own rise/fall, the last check and its duration; no opinion without checks or in maintenance', () => {
    const rows = parseStatCsv(
      [
        HEADER,
        'web_80,a,0,UP,64,L7OK,200,3,',
        'web_80,b,0,UP 1/2,64,* L4TOUT,,1001,',
        'web_80,c,0,DOWN,64,L7STS,503,2,',
        'web_80,d_1,0,no check,64,,,,',
        'web_80,d_2,0,MAINT,64,,,,',
        'web_80,e,0,UP 1/2,64,* INI,,,',
        'web_80,BACKEND,0,UP,192,,,,',
      ].join('\n'),
    );
    expect(haproxyHealth(rows, pools)).toEqual([
      { loadBalancer: 'web', originId: 'o-a', origin: 'a', healthy: true, result: 'pass', latencyMs: 3, detail: 'haproxy web_80/a: UP (L7OK 200)' },
      // Going down (1 of fall 2 failed): still up, but the last check failed.
      { loadBalancer: 'web', originId: 'o-b', origin: 'b', healthy: true, result: 'fail', latencyMs: null, detail: 'haproxy web_80/b: UP 1/2 (L4TOUT)' },
      { loadBalancer: 'web', originId: 'o-c', origin: 'c', healthy: false, result: 'fail', latencyMs: null, detail: 'haproxy web_80/c: DOWN (L7STS 503)' },
    ]);
  });
});
