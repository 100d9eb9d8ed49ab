// The scheduler predicts a DNS source's load from where sluice dns will send the subnet
// (scheduler/loop/dns-pick.ts + core/predict.ts pickOrigin). That holds only while both compute the
// same thing: here the real answer path (Responder over a view) answers queries from 300 subnets with
// fractional weights, with and without ECS, and every answer must be the origin the scheduler picked.
import { describe, expect, it } from 'vitest';
import { Responder, type Remote } from '../dns/answer/respond.ts';
import { buildViewIndex, type Authority } from '../dns/answer/view-index.ts';
import { origin, PLACES, record, view } from '../dns/testing/fixtures.ts';
import { buildQuery, decodeResponse } from '../dns/testing/packets.ts';
import { pickOrder, pickOrigin } from '../scheduler/core/predict.ts';
import { DNS_HASH_PREFIX, dnsPick } from '../scheduler/loop/dns-pick.ts';
import { DnsConfig } from '../dns/config.ts';

const AUTHORITY: Authority = { primaryNs: 'ns1.lab.example', hostmaster: 'hostmaster@lab.example', nameservers: [], soaTtl: 3600, nsTtl: 3600, negativeTtl: 30, refresh: 3600, retry: 600, expire: 1209600 };

describe('the scheduler’s DNS pick is the answer sluice dns gives', () => {
  // Ids deliberately not in declaration order: the line is in id order.
  const origins = [origin('o-zeta', ['192.0.2.10'], PLACES.london), origin('o-alpha', ['192.0.2.20'], PLACES.ashburn), origin('o-mid', ['192.0.2.30'], PLACES.seattle)];
  const byAddress: Record<string, string> = { '192.0.2.10': 'o-zeta', '192.0.2.20': 'o-alpha', '192.0.2.30': 'o-mid' };
  const ids = origins.map((o) => o.id);
  const weightsOf = (i: number): Record<string, number> => ({ 'o-zeta': 0.2 + (i % 7) / 20, 'o-alpha': 0.5, 'o-mid': i % 3 === 0 ? 0 : 0.3 });
  const subnets = Array.from({ length: 300 }, (_, i) => `10.${20 + (i >> 8)}.${i & 255}.0/24`);
  const responder = new Responder({ geo: null, limits: { ipv4: 24, ipv6: 56 }, udpPayloadSize: 1232 });
  responder.setIndex(buildViewIndex(view('lab.example', [record('App.Lab.Example', origins, { subnets: Object.fromEntries(subnets.map((s, i) => [s, weightsOf(i)])) })]), AUTHORITY));

  it('for queries from inside each subnet, with and without ECS', () => {
    const order = pickOrder(ids);
    let answeredBy = 0;
    subnets.forEach((subnet, i) => {
      const u = dnsPick(subnet, 'app.lab.example.');
      expect(u).toBeDefined();
      const w = Float64Array.from(ids.map((id) => weightsOf(i)[id] ?? 0));
      const expected = ids[pickOrigin(w, 0, order, u!)];
      const host = subnet.replace('.0/24', `.${1 + (i % 250)}`);
      const parts = host.split('.').map(Number);
      const remote: Remote = { family: 4, v4: ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0, v6: new Uint8Array(16) };
      for (const edns of [undefined, { ecs: { address: subnet.split('/')[0]!, source: 24 } }]) {
        const answer = decodeResponse(responder.respond(buildQuery({ name: 'app.lab.example', ...(edns ? { edns } : {}) }), 'udp', remote)!).answers[0]!.value!;
        expect(byAddress[answer], `${subnet} ${edns ? 'ECS' : 'no ECS'}`).toBe(expected);
      }
      if (expected !== 'o-alpha') answeredBy++;
    });
    // Fractional weights really are split across subnets (the check is not vacuous).
    expect(answeredBy).toBeGreaterThan(60);
    expect(answeredBy).toBeLessThan(240);
  });

  it('gives no point for a subnet the DNS does not answer as one unit', () => {
    expect(dnsPick('10.0.0.0/16', 'app.lab.example')).toBeUndefined();
    expect(dnsPick('2001:db8::/48', 'app.lab.example')).toBeUndefined();
    expect(dnsPick('2001:db8:0:100::/56', 'app.lab.example')).toBeGreaterThanOrEqual(0);
  });

  it('assumes the DNS server’s default hashing granularity', () => {
    const d = DnsConfig.parse({ api: { url: 'http://127.0.0.1:1' }, listen: ['127.0.0.1:53'] });
    expect({ 4: d.ecs.ipv4_scope_max, 6: d.ecs.ipv6_scope_max }).toEqual(DNS_HASH_PREFIX);
  });
});
