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
import { steerWholeAnswers } from '../scheduler/core/answer-steering.ts';
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

  // Two origins, o-alpha first on the line (the origin the walks below move to).
  const ids2 = ['o-zeta', 'o-alpha'];
  const order2 = pickOrder(ids2);
  /** 180 subnets of a pool (the second octet from `octet`) split by their points, every row walking o-zeta → o-alpha at `now`. */
  const walkOf = (octet: number, pickSubnets: (p: { s: string; u: number }[]) => { s: string; u: number }[]) => {
    const pool = Array.from({ length: 3000 }, (_, i) => `10.${octet + (i >> 8)}.${i & 255}.0/24`);
    const chosen = pickSubnets(pool.map((s) => ({ s, u: dnsPick(s, 'app.lab.example.')! })));
    const n = chosen.length;
    const weights = new Float64Array(n * 2);
    const plan = new Float64Array(n * 2);
    for (let i = 0; i < n; i++) {
      weights.set([0.7, 0.3], i * 2); // the walk this cycle: o-zeta 0.7, o-alpha 0.3
      plan.set([0, 1], i * 2);
    }
    return { chosen, input: { rows: n, cols: 2, weights, plan, demand: new Float64Array(n).fill(1), pick: Float64Array.from(chosen, (x) => x.u), order: order2 } };
  };
  /** Publishes the weights rounded as the loop does (1e-6), asks the real answer path for every subnet and
   * expects the scheduler's pick; returns how many are answered o-alpha. */
  const answeredAsPublished = (chosen: { s: string; u: number }[], weights: Float64Array): number => {
    const published = chosen.map((_, i) => Object.fromEntries(ids2.map((id, j) => [id, Math.round(weights[i * 2 + j]! * 1e6) / 1e6])));
    const two = [origin('o-zeta', ['192.0.2.10'], PLACES.london), origin('o-alpha', ['192.0.2.20'], PLACES.ashburn)];
    const responder2 = new Responder({ geo: null, limits: { ipv4: 24, ipv6: 56 }, udpPayloadSize: 1232 });
    responder2.setIndex(buildViewIndex(view('lab.example', [record('App.Lab.Example', two, { subnets: Object.fromEntries(chosen.map((x, i) => [x.s, published[i]!])) })]), AUTHORITY));
    let onAlpha = 0;
    chosen.forEach(({ s: subnet, u }, i) => {
      const expected = ids2[pickOrigin(weights, i * 2, order2, u)];
      const answer = decodeResponse(responder2.respond(buildQuery({ name: 'app.lab.example', edns: { ecs: { address: subnet.split('/')[0]!, source: 24 } } }), 'udp', { family: 4, v4: 0x0a000001, v6: new Uint8Array(16) })!).answers[0]!.value!;
      expect(byAddress[answer], subnet).toBe(expected);
      if (expected === 'o-alpha') onAlpha++;
    });
    return onAlpha;
  };

  it('steered weights (subnets flipped ahead where the answers lag the walk), published rounded, are answered as the scheduler steered them', () => {
    // Points that fall late: of a pool, 160 subnets whose points lie above the walk's boundary and 20 below.
    const { chosen, input } = walkOf(40, (p) => [...p.filter((x) => x.u >= 0.3).slice(0, 160), ...p.filter((x) => x.u < 0.3).slice(0, 20)]);
    const r = steerWholeAnswers(input);
    expect(r.surplusBefore).toBeGreaterThan(30);
    expect(r.flipped).toBeGreaterThan(25);
    const onAlpha = answeredAsPublished(chosen, input.weights);
    // The answered load is within one subnet of the walk's (here the published weights: no connection state).
    const walk = [...Array(input.rows).keys()].reduce((sum, i) => sum + input.weights[i * 2 + 1]!, 0);
    expect(Math.abs(onAlpha - walk)).toBeLessThanOrEqual(1);
  });

  it('held weights (subnets whose answers ran ahead of the walk kept on the origin they are answered now), published rounded, are answered as held', () => {
    // Points that fall early: 160 subnets whose points lie in [0.1, 0.3) and 20 above. The walk moves
    // o-alpha from 0.1 to 0.3 of every row: 160 answers would move at once against the walk's 36 subnets.
    const { chosen, input } = walkOf(60, (p) => [...p.filter((x) => x.u >= 0.1 && x.u < 0.3).slice(0, 160), ...p.filter((x) => x.u >= 0.3).slice(0, 20)]);
    const was = Float64Array.from([0.9, 0.1]); // the weights in force: every chosen subnet answered o-zeta
    const answerInForce = Int32Array.from(chosen, (x) => pickOrigin(was, 0, order2, x.u));
    expect([...answerInForce].every((a) => a === 0)).toBe(true);
    const walk = 0.3 * input.rows; // carried apart (connection state): the held mix is not the walk
    const r = steerWholeAnswers({ ...input, walkApart: new Uint8Array(input.rows).fill(1), answerInForce });
    expect(r.surplusBefore).toBeGreaterThan(100);
    expect(r.held).toBeGreaterThan(100);
    const onAlpha = answeredAsPublished(chosen, input.weights);
    // Answered within one subnet of the walk, and not above it on the origin left.
    expect(onAlpha - walk).toBeLessThanOrEqual(1);
    expect(onAlpha - walk).toBeGreaterThanOrEqual(0);
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
