import { describe, expect, it } from 'vitest';
import { lineDiff, readBackends, rewriteBackends } from './cfg.ts';

const CFG = `global
    stats socket /run/haproxy/admin.sock mode 660 level admin

defaults
    mode http
    balance leastconn

frontend web
    bind 192.0.2.10:80
    default_backend web_80

backend web_80
    balance roundrobin
    option httpchk GET /health
    server old 10.0.0.9:80 weight 10 check
    # operators' comment stays
    server other 10.0.0.8:80 check
    http-response set-header X-Edge ams

backend empty_443
    mode tcp
    hash-type consistent

backend untouched
    http-request cache-use static
    server keep 10.0.0.7:80
`;

const srv = (name: string, address: string, port: number, weight: number) => ({ name, address, port, weight, origin: name, originId: name, share: 0 });

describe('haproxy.cfg', () => {
  it('reads backends with their algorithm (inheriting defaults) and hash type', () => {
    const b = readBackends(CFG);
    expect([...b.keys()]).toEqual(['web_80', 'empty_443', 'untouched']);
    expect(b.get('web_80')).toMatchObject({ balance: 'roundrobin', servers: ['old', 'other'] });
    expect(b.get('empty_443')).toMatchObject({ balance: 'leastconn', hashType: 'consistent', servers: [] });
    expect(b.get('untouched')?.servers).toEqual(['keep']); // "cache-use" is not the "cache" section
    expect(readBackends('backend x\n    cache-store c\n    server s 1.2.3.4:80\n').get('x')?.servers).toEqual(['s']);
  });

  it('replaces only the server lines of managed backends, in place, keeping everything else', () => {
    const servers = new Map([
      ['web_80', [srv('eu', '10.1.0.1', 8080, 205), srv('us', '10.2.0.1', 8080, 51)]],
      ['empty_443', [srv('v6', '2001:db8::1', 443, 256)]],
    ]);
    const { text, missing } = rewriteBackends(CFG, servers, 'check');
    expect(missing).toEqual([]);
    expect(text).toBe(
      CFG.replace(
        '    server old 10.0.0.9:80 weight 10 check\n    # operators\' comment stays\n    server other 10.0.0.8:80 check\n',
        '    server eu 10.1.0.1:8080 weight 205 check\n    server us 10.2.0.1:8080 weight 51 check\n    # operators\' comment stays\n',
      ).replace('    hash-type consistent\n', '    hash-type consistent\n    server v6 [2001:db8::1]:443 weight 256 check\n'),
    );
    // Idempotent: rewriting the result again changes nothing.
    expect(rewriteBackends(text, servers, 'check').text).toBe(text);
  });

  it('reports backends that are not in the file instead of inventing them', () => {
    expect(rewriteBackends(CFG, new Map([['nope', []]]), '').missing).toEqual(['nope']);
  });

  it('lineDiff shows removed and added lines', () => {
    expect(lineDiff('a\nb\nc', 'a\nB\nc')).toEqual(['- b', '+ B']);
  });
});
