import { describe, expect, it } from 'vitest';
import { isStaticAlgorithm, parseServersState, parseStatCsv } from './parse.ts';

// Captured from HAProxy 2.6.12 (Debian 12) `show servers state`.
const STATE = `1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
3 web_80 1 a 127.0.0.1 2 0 50 10 1 1 0 2 0 0 0 0 - 18081 - 0 0 - - 0
3 web_80 2 b 127.0.0.1 0 1 7 7 0 1 0 0 0 0 0 0 - 18082 - 0 0 - - 0

`;

describe('HAProxy runtime API parsers', () => {
  it('show servers state: weights in force, ports, maintenance bits', () => {
    expect(parseServersState(STATE)).toEqual([
      { backend: 'web_80', server: 'a', address: '127.0.0.1', port: 18081, opState: 2, adminState: 0, weight: 50, initialWeight: 10 },
      { backend: 'web_80', server: 'b', address: '127.0.0.1', port: 18082, opState: 0, adminState: 1, weight: 7, initialWeight: 7 },
    ]);
  });

  it('show servers state: refuses an unknown format version or a truncated line', () => {
    expect(() => parseServersState(STATE.replace(/^1/, '2'))).toThrow(/format version/);
    expect(() => parseServersState(STATE.replace('- - 0\n3 web_80 2', '\n3 web_80 2'))).toThrow(/short line/);
  });

  it('show stat CSV: rows keyed by column name', () => {
    const rows = parseStatCsv('# pxname,svname,stot,req_tot,mode,algo,\nweb_80,BACKEND,12,30,http,roundrobin,\nweb_80,a,5,20,http,,\n');
    expect(rows[0]).toMatchObject({ pxname: 'web_80', svname: 'BACKEND', stot: '12', req_tot: '30', mode: 'http', algo: 'roundrobin' });
    expect(rows[1]).toMatchObject({ svname: 'a', req_tot: '20' });
  });

  it('static algorithms: static-rr always; hash-based unless hash-type consistent; unknown -> ask HAProxy', () => {
    expect(isStaticAlgorithm('static-rr')).toBe(true);
    expect(isStaticAlgorithm('roundrobin')).toBe(false);
    expect(isStaticAlgorithm('leastconn', null)).toBe(false);
    expect(isStaticAlgorithm('source', null)).toBe(true);
    expect(isStaticAlgorithm('source', 'consistent')).toBe(false);
    expect(isStaticAlgorithm('uri', 'map-based')).toBe(true);
    expect(isStaticAlgorithm('source')).toBe(false); // no haproxy.cfg to read: HAProxy's answer decides
  });
});
