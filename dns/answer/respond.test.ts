// The pure core: query bytes in, answer bytes out, decoded independently (dns/testing/packets.ts).
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { DnsView } from '../../model/views.ts';
import { buildQuery, decodeResponse, type QuerySpec } from '../testing/packets.ts';
import { GEOIP_TEST_DB, origin, PLACES, record, TEST_AUTHORITY, threeOrigins, view } from '../testing/fixtures.ts';
import { TYPE, RCODE } from '../wire/constants.ts';
import { GeoLocator } from './geo.ts';
import { Responder, type Remote } from './respond.ts';
import { buildViewIndex } from './view-index.ts';

const AUTHORITY = TEST_AUTHORITY;
const LOCAL: Remote = { family: 4, v4: 0x7f000001, v6: new Uint8Array(16) };
const geo = GeoLocator.open(fileURLToPath(GEOIP_TEST_DB), [
  { cidr: '172.16.0.0/12', region: 'us-east' },
  { cidr: '100.64.0.0/10', location: PLACES.tokyo },
]);

function responder(v: DnsView, udpPayloadSize = 1232): Responder {
  const r = new Responder({ geo, limits: { ipv4: 24, ipv6: 56 }, udpPayloadSize });
  r.setIndex(buildViewIndex(v, AUTHORITY));
  return r;
}

function ask(r: Responder, spec: QuerySpec, transport: 'udp' | 'tcp' = 'udp') {
  const out = r.respond(buildQuery(spec), transport, LOCAL);
  if (!out) throw new Error('dropped');
  return decodeResponse(out);
}

const learnedView = view('example.com', [
  record('app.example.com', threeOrigins(), {
    subnets: {
      '10.0.0.0/8': { 'eu-london': 0.5, 'us-east': 0.3, 'us-west': 0.2 },
      '192.168.7.0/24': { 'us-east': 1 },
      '2001:db8:aaaa::/48': { 'eu-london': 0.25, 'us-west': 0.75 },
    },
  }),
]);
const ADDR: Record<string, string> = { '192.0.2.10': 'eu-london', '203.0.113.30': 'us-east', '198.51.100.20': 'us-west' };

describe('steering', () => {
  it('splits 10,000 distinct /24s of a learned subnet within ±2 % of its weights, sticky per subnet', () => {
    const r = responder(learnedView);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 10_000; i++) {
      const subnet = `10.${i >> 8}.${i & 255}.0`;
      const d = ask(r, { name: 'app.example.com', edns: { ecs: { address: subnet, source: 24 } } });
      const who = ADDR[d.answers[0]!.value!]!;
      counts[who] = (counts[who] ?? 0) + 1;
      if (i % 1000 === 0) {
        // Same subnet again (another resolver, another moment): same answer.
        expect(ask(r, { name: 'app.example.com', edns: { ecs: { address: subnet, source: 24 } } }).answers[0]!.value).toBe(d.answers[0]!.value);
        expect(d.opt!.ecs!.scope).toBe(24);
      }
    }
    expect(Math.abs(counts['eu-london']! / 10_000 - 0.5)).toBeLessThan(0.02);
    expect(Math.abs(counts['us-east']! / 10_000 - 0.3)).toBeLessThan(0.02);
    expect(Math.abs(counts['us-west']! / 10_000 - 0.2)).toBeLessThan(0.02);
    expect(r.stats.total({ reason: 'learned_latency' })).toBe(10_010);
  });

  it('moves only about as many subnets as the weights moved (2 %), and a new version with the same weights moves none', () => {
    const a = responder(learnedView);
    const shifted = structuredClone(learnedView);
    shifted.zones[0]!.records[0]!.subnets['10.0.0.0/8'] = { 'eu-london': 0.48, 'us-east': 0.32, 'us-west': 0.2 };
    const b = responder(shifted);
    const sameWeights = responder({ ...structuredClone(learnedView), version: '2', weights_version: 2 });
    let moved = 0;
    let movedSame = 0;
    for (let i = 0; i < 5000; i++) {
      const spec = { name: 'app.example.com', edns: { ecs: { address: `10.${i >> 8}.${i & 255}.0`, source: 24 } } };
      const before = ask(a, spec).answers[0]!.value;
      if (ask(b, spec).answers[0]!.value !== before) moved++;
      if (ask(sameWeights, spec).answers[0]!.value !== before) movedSame++;
    }
    expect(movedSame).toBe(0);
    expect(moved / 5000).toBeLessThan(0.035);
    expect(moved).toBeGreaterThan(0);
  });

  it('sets the ECS scope to what the answer depends on', () => {
    const r = responder(learnedView);
    // A single-origin learned /24: depends on those 24 bits.
    let d = ask(r, { name: 'app.example.com', edns: { ecs: { address: '192.168.7.0', source: 24 } } });
    expect([d.answers[0]!.value, d.opt!.ecs!.scope, d.opt!.ecs!.source]).toEqual(['203.0.113.30', 24, 24]);
    // Learned /48 with two origins, asked with a /56: hashed at /56.
    d = ask(r, { name: 'app.example.com', qtype: TYPE.AAAA, edns: { ecs: { address: '2001:db8:aaaa:1200::', source: 56 } } });
    expect(d.opt!.ecs!.scope).toBe(56);
    expect(d.opt!.ecs!.address.toString('hex')).toBe('20010db8aaaa12');
    // Static answer with no learned data, no geo and one origin: scope 0.
    const single = responder(view('example.com', [record('one.example.com', [origin('only', ['192.0.2.1'], PLACES.london)])]));
    d = ask(single, { name: 'one.example.com', edns: { ecs: { address: '8.8.8.0', source: 24 } } });
    expect([d.answers[0]!.value, d.opt!.ecs!.scope]).toEqual(['192.0.2.1', 0]);
    // A single-origin /8 with a more specific /24 inside it: not scope 8, or a resolver would reuse
    // the /8's answer for the /24's clients; the shortest scope that leaves 10.9.9.0/24 out:
    // 10.1.x and 10.9.x share 12 bits (0000_0001 vs 0000_1001), so 13.
    const nested = responder(view('example.com', [record('app.example.com', threeOrigins(), { subnets: { '10.0.0.0/8': { 'us-east': 1 }, '10.9.9.0/24': { 'us-west': 1 } } })]));
    d = ask(nested, { name: 'app.example.com', edns: { ecs: { address: '10.1.1.0', source: 24 } } });
    expect([d.answers[0]!.value, d.opt!.ecs!.scope]).toEqual(['203.0.113.30', 13]);
    // Beside the /24 (10.9.8.0 shares 23 bits with 10.9.9.0): 24.
    d = ask(nested, { name: 'app.example.com', edns: { ecs: { address: '10.9.8.0', source: 24 } } });
    expect([d.answers[0]!.value, d.opt!.ecs!.scope]).toEqual(['203.0.113.30', 24]);
    // A /16 source holding the /24: the bits that would tell are not revealed, so the longest nested prefix.
    d = ask(nested, { name: 'app.example.com', edns: { ecs: { address: '10.9.0.0', source: 16 } } });
    expect([d.answers[0]!.value, d.opt!.ecs!.scope]).toEqual(['203.0.113.30', 24]);
    d = ask(nested, { name: 'app.example.com', edns: { ecs: { address: '10.9.9.0', source: 24 } } });
    expect([d.answers[0]!.value, d.opt!.ecs!.scope]).toEqual(['198.51.100.20', 24]);
    const flat = responder(view('example.com', [record('app.example.com', threeOrigins(), { subnets: { '10.0.0.0/8': { 'us-east': 1 } } })]));
    expect(ask(flat, { name: 'app.example.com', edns: { ecs: { address: '10.1.1.0', source: 24 } } }).opt!.ecs!.scope).toBe(8);
    // SOURCE PREFIX-LENGTH 0: the client opted out; scope must be 0.
    d = ask(r, { name: 'app.example.com', edns: { ecs: { address: '0.0.0.0', source: 0 } } });
    expect(d.opt!.ecs!.scope).toBe(0);
  });

  it('cold start: London subnet gets London, Milton (US) gets the US west coast, Tokyo mapping gets nearest', () => {
    const r = responder(view('example.com', [record('app.example.com', threeOrigins())]));
    let d = ask(r, { name: 'app.example.com', edns: { ecs: { address: '81.2.69.0', source: 24 } } });
    expect(d.answers[0]!.value).toBe('192.0.2.10');
    // No learned data and the database's London network is a /27 inside the /24: scope 24.
    expect(d.opt!.ecs!.scope).toBe(24);
    d = ask(r, { name: 'app.example.com', edns: { ecs: { address: '216.160.83.0', source: 24 } } });
    expect(d.answers[0]!.value).toBe('198.51.100.20');
    d = ask(r, { name: 'app.example.com', qtype: TYPE.AAAA, edns: { ecs: { address: '2001:218::', source: 32 } } });
    expect(d.answers[0]!.value).toBe('2001:db8:20::20'); // Japan: Seattle is nearer than Ashburn or London
    expect(d.opt!.ecs!.scope).toBe(32);
    // CIDR mappings: a region, and a location.
    expect(ask(r, { name: 'app.example.com', edns: { ecs: { address: '172.16.5.0', source: 24 } } }).answers[0]!.value).toBe('203.0.113.30');
    expect(ask(r, { name: 'app.example.com', edns: { ecs: { address: '100.64.1.0', source: 24 } } }).answers[0]!.value).toBe('198.51.100.20');
    expect(r.stats.total({ reason: 'geo_fallback' })).toBe(3);
    expect(r.stats.total({ reason: 'cidr_mapping' })).toBe(2);
  });

  it('never answers an unhealthy or disabled origin; a drained one still answers by weight', () => {
    const origins = threeOrigins();
    origins[0]!.healthy = false;
    origins[1]!.admin_state = 'disabled';
    origins[2]!.admin_state = 'drain';
    const r = responder(view('example.com', [record('app.example.com', origins, { subnets: { '10.0.0.0/8': { 'eu-london': 0.9, 'us-east': 0.05, 'us-west': 0.05 } } })]));
    for (let i = 0; i < 200; i++) {
      const d = ask(r, { name: 'app.example.com', edns: { ecs: { address: `10.0.${i}.0`, source: 24 } } });
      expect(d.answers.map((a) => a.value)).toEqual(['198.51.100.20']);
    }
    // Geolocation only uses active origins: London client, London down, drain skipped -> static (drain).
    const d = ask(r, { name: 'app.example.com', edns: { ecs: { address: '81.2.69.0', source: 24 } } });
    expect(d.answers[0]!.value).toBe('198.51.100.20');
    expect(r.stats.total({ reason: 'static' })).toBe(1);
  });

  it('no healthy origin: fails open over enabled origins (counted); all disabled: SERVFAIL; no address of the family: NODATA', () => {
    const down = threeOrigins().map((o) => ({ ...o, healthy: false }));
    down[2]!.admin_state = 'disabled';
    let r = responder(view('example.com', [record('app.example.com', down, { subnets: { '10.0.0.0/8': { 'us-west': 1 } } })]));
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) seen.add(ask(r, { name: 'app.example.com', edns: { ecs: { address: `10.0.${i}.0`, source: 24 } } }).answers[0]!.value!);
    expect([...seen].sort()).toEqual(['192.0.2.10', '203.0.113.30']); // never the disabled one
    expect(r.stats.total({ reason: 'no_healthy_origin', rcode: 'NOERROR' })).toBe(100);
    const off = threeOrigins().map((o) => ({ ...o, admin_state: 'disabled' as const }));
    r = responder(view('example.com', [record('app.example.com', off)]));
    let d = ask(r, { name: 'app.example.com' });
    expect(d.rcode).toBe(RCODE.SERVFAIL);
    expect(r.stats.total({ reason: 'no_healthy_origin', rcode: 'SERVFAIL' })).toBe(1);
    r = responder(view('example.com', [record('v4.example.com', [origin('o', ['192.0.2.1'], PLACES.london)])]));
    d = ask(r, { name: 'v4.example.com', qtype: TYPE.AAAA });
    expect([d.rcode, d.answers.length, d.authority[0]!.type]).toEqual([RCODE.NOERROR, 0, TYPE.SOA]);
  });

  it('answers: N gives N distinct addresses, the chosen origin first', () => {
    const origins = threeOrigins();
    origins[0]!.addresses.push('192.0.2.11');
    const r = responder(view('example.com', [record('app.example.com', origins, { answers: 3, subnets: { '10.0.0.0/8': { 'us-east': 0.7, 'us-west': 0.3 } } })]));
    for (let i = 0; i < 50; i++) {
      const d = ask(r, { name: 'app.example.com', edns: { ecs: { address: `10.9.${i}.0`, source: 24 } } });
      const values = d.answers.map((a) => a.value!);
      expect(new Set(values).size).toBe(3);
      const first = values[0]!;
      // After the chosen one: the other weighted origin, then London (not in the map) fills in.
      expect(values).toEqual(first === '203.0.113.30' ? ['203.0.113.30', '198.51.100.20', '192.0.2.10'] : ['198.51.100.20', '203.0.113.30', '192.0.2.10']);
    }
  });
});

describe('the packet', () => {
  const r = responder(learnedView);

  it('echoes ID and the question byte for byte (case preserved), sets QR AA, copies RD, puts OPT last with our size', () => {
    const raw = buildQuery({ id: 0xbeef, name: 'ApP.ExAmPlE.cOm', rd: true, edns: { udpSize: 4096, dnssecOk: true, ecs: { address: '10.1.2.0', source: 24 } } });
    const out = r.respond(raw, 'udp', LOCAL)!;
    expect(out.subarray(12, 12 + 21).equals(raw.subarray(12, 12 + 21))).toBe(true);
    const d = decodeResponse(out);
    expect([d.id, d.qr, d.aa, d.rd, d.tc]).toEqual([0xbeef, true, true, true, false]);
    expect(d.question!.rawName).toBe('ApP.ExAmPlE.cOm');
    expect(d.opt!.udpSize).toBe(1232);
    expect(d.opt!.dnssecOk).toBe(true);
    expect(d.optLast).toBe(true);
    expect(d.answers[0]!.ttl).toBe(30);
  });

  it('SOA and NS at the apex (NS with in-zone glue, names compressed)', () => {
    let d = ask(r, { name: 'example.com', qtype: TYPE.SOA });
    expect(d.answers[0]!.soa).toEqual({ mname: 'ns1.example.com', rname: 'hostmaster.example.com', serial: 1, minimum: 30 });
    expect(d.answers[0]!.ttl).toBe(3600);
    d = ask(r, { name: 'example.com', qtype: TYPE.NS, edns: {} });
    expect(d.answers.map((a) => a.value)).toEqual(['ns1.example.com', 'ns.other.net']);
    expect(d.additional.map((a) => a.value)).toEqual(['192.0.2.53', '2001:db8::53']);
    expect(d.optLast).toBe(true);
    // Glue names answer too.
    expect(ask(r, { name: 'ns1.example.com' }).answers[0]!.value).toBe('192.0.2.53');
  });

  it('NXDOMAIN and NODATA carry the SOA in authority with TTL min(SOA TTL, MINIMUM)', () => {
    let d = ask(r, { name: 'nope.example.com' });
    expect([d.rcode, d.aa, d.answers.length, d.authority[0]!.type, d.authority[0]!.ttl, d.authority[0]!.name]).toEqual([RCODE.NXDOMAIN, true, 0, TYPE.SOA, 30, 'example.com']);
    d = ask(r, { name: 'app.example.com', qtype: TYPE.TXT });
    expect([d.rcode, d.answers.length, d.authority[0]!.type]).toEqual([RCODE.NOERROR, 0, TYPE.SOA]);
    // An empty non-terminal exists (RFC 8020): NODATA, not NXDOMAIN.
    const ent = responder(view('example.com', [record('a.b.example.com', threeOrigins())]));
    expect(ask(ent, { name: 'b.example.com' }).rcode).toBe(RCODE.NOERROR);
    expect(ask(ent, { name: 'x.a.b.example.com' }).rcode).toBe(RCODE.NXDOMAIN);
  });

  it('REFUSED outside our zones and for other classes, without AA', () => {
    let d = ask(r, { name: 'www.example.org' });
    expect([d.rcode, d.aa]).toEqual([RCODE.REFUSED, false]);
    d = ask(r, { name: 'version.bind', qtype: TYPE.TXT, qclass: 3 });
    expect(d.rcode).toBe(RCODE.REFUSED);
  });

  it('BADVERS for EDNS version 1: extended RCODE 16 in OPT, version 0', () => {
    const d = ask(r, { name: 'app.example.com', edns: { version: 1 } });
    expect([d.fullRcode, d.opt!.version, d.answers.length]).toEqual([RCODE.BADVERS, 0, 0]);
  });

  it('FORMERR for malformed queries with a readable header; drops what has none', () => {
    const raw = buildQuery({ id: 99, name: 'app.example.com', edns: {} });
    const broken = Buffer.concat([raw.subarray(0, raw.length - 2), Buffer.from([0, 9])]); // OPT RDLENGTH 9, no data
    const d = decodeResponse(r.respond(broken, 'udp', LOCAL)!);
    expect([d.id, d.rcode]).toEqual([99, RCODE.FORMERR]);
    expect(r.respond(Buffer.from([1, 2, 3]), 'udp', LOCAL)).toBeNull();
    expect(r.stats.malformedDropped).toBeGreaterThan(0);
    expect(r.stats.malformedFormerr).toBeGreaterThan(0);
  });

  it('truncates over UDP when the answer exceeds the requester\'s size (TC, no partial RRset), full over TCP', () => {
    const many = Array.from({ length: 30 }, (_, i) => `2001:db8:1::${(i + 1).toString(16)}`);
    const big = responder(view('example.com', [record('big.example.com', [origin('o', many, PLACES.london)], { answers: 30 })]));
    let d = ask(big, { name: 'big.example.com', qtype: TYPE.AAAA });
    expect([d.tc, d.answers.length]).toEqual([true, 0]);
    d = ask(big, { name: 'big.example.com', qtype: TYPE.AAAA, edns: { udpSize: 4096 } });
    expect([d.tc, d.answers.length]).toEqual([false, 30]); // 30 * 28 + header fits our 1232
    d = ask(big, { name: 'big.example.com', qtype: TYPE.AAAA, edns: { udpSize: 512, ecs: { address: '10.0.0.0', source: 8 } } });
    expect([d.tc, d.answers.length, d.opt!.ecs!.source]).toEqual([true, 0, 8]); // OPT kept in the truncated answer
    d = ask(big, { name: 'big.example.com', qtype: TYPE.AAAA }, 'tcp');
    expect([d.tc, d.answers.length]).toEqual([false, 30]);
    expect(big.stats.truncated).toBe(2);
  });

  it('answers SERVFAIL before the first view arrives', () => {
    const empty = new Responder({ geo: null, limits: { ipv4: 24, ipv6: 56 }, udpPayloadSize: 1232 });
    expect(decodeResponse(empty.respond(buildQuery({ name: 'app.example.com' }), 'udp', LOCAL)!).rcode).toBe(RCODE.SERVFAIL);
  });
});
