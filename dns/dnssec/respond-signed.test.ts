// The answering core with a signed zone: DO queries get RRSIGs that verify, compact denial (RFC 9824)
// for negative answers, DNSKEY/CDS/CDNSKEY at the apex; queries without DO get exactly the bytes of an
// unsigned zone; the ECS scope does not change with DO; signatures are cached per RRset.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { GeoLocator } from '../answer/geo.ts';
import { Responder, type Remote } from '../answer/respond.ts';
import { buildViewIndex } from '../answer/view-index.ts';
import { memoryKey, parseRrsig, testSigner, verifiesWith } from '../testing/dnssec.ts';
import { GEOIP_TEST_DB, origin, PLACES, record, TEST_AUTHORITY, threeOrigins, view } from '../testing/fixtures.ts';
import { buildQuery, decodeResponse, signQuery, type DecodedRr, type QuerySpec } from '../testing/packets.ts';
import { HMAC_SHA256, TsigKeyring } from '../wire/tsig.ts';
import { nameToWireKey, RCODE, TYPE } from '../wire/constants.ts';
import type { OnlineSigner } from './online.ts';
import { bitmapTypes, DNSSEC_TYPE, dsRdata } from './wire.ts';

const AUTHORITY = TEST_AUTHORITY;
const LOCAL: Remote = { family: 4, v4: 0x7f000001, v6: new Uint8Array(16) };
const geo = GeoLocator.open(fileURLToPath(GEOIP_TEST_DB), []);
const v = view('example.com', [
  record('app.example.com', threeOrigins(), { subnets: { '10.0.0.0/8': { 'eu-london': 0.5, 'us-east': 0.3, 'us-west': 0.2 } } }),
  record('v4only.example.com', [origin('solo', ['192.0.2.99'], PLACES.frankfurt)]),
  record('a.deep.example.com', [origin('deep', ['192.0.2.77'], PLACES.frankfurt)]),
]);
const T0 = Date.UTC(2026, 0, 1) ;

function setup(opts: { signer?: boolean; udp?: number } = {}) {
  const clock = { ms: T0 };
  const key = memoryKey('example.com');
  const signer = opts.signer === false ? undefined : testSigner([key], clock);
  const r = new Responder({ geo, limits: { ipv4: 24, ipv6: 56 }, udpPayloadSize: opts.udp ?? 1232, ...(signer ? { dnssec: signer } : {}) });
  r.setIndex(buildViewIndex(v, AUTHORITY));
  const raw = (spec: QuerySpec) => r.respond(buildQuery(spec), 'udp', LOCAL)!;
  return { r, key, signer: signer as OnlineSigner, clock, raw, ask: (spec: QuerySpec) => decodeResponse(raw(spec)) };
}

const DO = { dnssecOk: true };
const ofType = (rrs: DecodedRr[], type: number) => rrs.filter((x) => x.type === type);

describe('DO answers in a signed zone', () => {
  it('a steered A answer carries an RRSIG that verifies with the zone key, inception backdated 1 h, valid 7 days', () => {
    const { ask, key, clock } = setup();
    const d = ask({ name: 'App.Example.com', edns: { ...DO, ecs: { address: '10.1.2.0', source: 24 } } });
    expect(d.rcode).toBe(RCODE.NOERROR);
    const [sig] = ofType(d.answers, DNSSEC_TYPE.RRSIG);
    const a = ofType(d.answers, TYPE.A);
    expect(a).toHaveLength(1);
    expect(verifiesWith(sig!, a, key.rdata)).toBe(true);
    const f = parseRrsig(sig!.data);
    expect(f).toMatchObject({ typeCovered: TYPE.A, algorithm: 13, labels: 3, originalTtl: 30, keyTag: key.tag, signer: 'example.com' });
    expect(f.inception).toBe(clock.ms / 1000 - 3600);
    expect(f.expiration).toBe(clock.ms / 1000 + 7 * 86400);
    expect(sig!.ttl).toBe(30);
    expect(d.opt!.dnssecOk).toBe(true);
  });

  it('signatures cover the RRset, not the client: the ECS scope is the same with and without DO', () => {
    const { ask } = setup();
    for (const ecs of [{ address: '10.1.2.0', source: 24 }, { address: '81.2.69.0', source: 24 }, { address: '192.0.2.0', source: 24 }]) {
      const plain = ask({ name: 'app.example.com', edns: { ecs } });
      const signed = ask({ name: 'app.example.com', edns: { ...DO, ecs } });
      expect(signed.opt!.ecs!.scope).toBe(plain.opt!.ecs!.scope);
      expect(ofType(signed.answers, TYPE.A)).toEqual(plain.answers);
    }
  });

  it('signs each distinct RRset once: 2,000 subnets over three origins make three signatures', () => {
    const { ask, signer } = setup();
    for (let i = 0; i < 2000; i++) ask({ name: 'app.example.com', edns: { ...DO, ecs: { address: `10.${i >> 8}.${i & 255}.0`, source: 24 } } });
    expect(signer.stats.signatures).toBe(3);
    expect(signer.stats.hits).toBe(2000 - 3);
  });

  it('a new view with the same addresses reuses the signatures; a refreshed one is re-made after refresh_before', () => {
    const { r, ask, signer, clock } = setup();
    ask({ name: 'v4only.example.com', edns: DO });
    r.setIndex(buildViewIndex({ ...v, version: '2' }, AUTHORITY));
    const first = parseRrsig(ofType(ask({ name: 'v4only.example.com', edns: DO }).answers, DNSSEC_TYPE.RRSIG)[0]!.data);
    expect(signer.stats.signatures).toBe(1);
    clock.ms += (5 * 86400 + 1) * 1000; // past expiration - refresh_before (7 d - 2 d)
    const second = parseRrsig(ofType(ask({ name: 'v4only.example.com', edns: DO }).answers, DNSSEC_TYPE.RRSIG)[0]!.data);
    expect(signer.stats.signatures).toBe(2);
    expect(second.expiration).toBe(first.expiration + 5 * 86400 + 1);
  });

  it('SOA, NS and glue carry RRSIGs; DNSKEY, CDS and CDNSKEY are answered at the apex', () => {
    const { ask, key } = setup();
    const soa = ask({ name: 'example.com', qtype: TYPE.SOA, edns: DO });
    expect(soa.answers.map((x) => x.type)).toEqual([TYPE.SOA, DNSSEC_TYPE.RRSIG]);
    const ns = ask({ name: 'example.com', qtype: TYPE.NS, edns: DO });
    expect(ns.answers.map((x) => x.type)).toEqual([TYPE.NS, TYPE.NS, DNSSEC_TYPE.RRSIG]);
    // In-zone glue, signed: ns1's A and AAAA; ns.other.net is not ours.
    expect(ns.additional.map((x) => x.type)).toEqual([TYPE.A, DNSSEC_TYPE.RRSIG, TYPE.AAAA, DNSSEC_TYPE.RRSIG]);
    expect(verifiesWith(ns.additional[1]!, [ns.additional[0]!], key.rdata)).toBe(true);
    const dnskey = ask({ name: 'example.com', qtype: DNSSEC_TYPE.DNSKEY, edns: DO });
    expect(ofType(dnskey.answers, DNSSEC_TYPE.DNSKEY).map((x) => x.data)).toEqual([key.rdata]);
    expect(verifiesWith(ofType(dnskey.answers, DNSSEC_TYPE.RRSIG)[0]!, ofType(dnskey.answers, DNSSEC_TYPE.DNSKEY), key.rdata)).toBe(true);
    const cds = ask({ name: 'example.com', qtype: DNSSEC_TYPE.CDS, edns: DO });
    expect(ofType(cds.answers, DNSSEC_TYPE.CDS).map((x) => x.data)).toEqual([dsRdata(nameToWireKey('example.com'), key.rdata)]);
    expect(ofType(ask({ name: 'example.com', qtype: DNSSEC_TYPE.CDNSKEY, edns: DO }).answers, DNSSEC_TYPE.CDNSKEY).map((x) => x.data)).toEqual([key.rdata]);
  });
});

describe('compact denial of existence (RFC 9824)', () => {
  const nsecOf = (d: ReturnType<ReturnType<typeof setup>['ask']>) => {
    const nsec = ofType(d.authority, DNSSEC_TYPE.NSEC);
    expect(nsec).toHaveLength(1);
    const next = nameToWireKey(nsec[0]!.name);
    return { rr: nsec[0]!, next: nsec[0]!.data.subarray(0, next.length + 2).toString('latin1'), types: bitmapTypes(nsec[0]!.data.subarray(next.length + 2)) };
  };

  it('a nonexistent name: NOERROR, SOA + RRSIG, one NSEC at the name (next \\000.name, bitmap RRSIG NSEC NXNAME) + RRSIG', () => {
    const { ask, key } = setup();
    const d = ask({ name: 'Nope.example.com', edns: DO });
    expect(d.rcode).toBe(RCODE.NOERROR);
    expect(d.answers).toEqual([]);
    expect(d.authority.map((x) => x.type)).toEqual([TYPE.SOA, DNSSEC_TYPE.RRSIG, DNSSEC_TYPE.NSEC, DNSSEC_TYPE.RRSIG]);
    const n = nsecOf(d);
    expect(n.rr.name).toBe('nope.example.com');
    expect(n.next).toBe(`\x01\x00${nameToWireKey('nope.example.com')}`);
    expect(n.types).toEqual([DNSSEC_TYPE.RRSIG, DNSSEC_TYPE.NSEC, DNSSEC_TYPE.NXNAME]);
    expect(n.rr.ttl).toBe(30);
    expect(verifiesWith(d.authority[3]!, [n.rr], key.rdata)).toBe(true);
    expect(d.opt!.compactOk).toBe(false);
  });

  it('with the Compact Answers OK flag (CO) the rcode says NXDOMAIN and CO is echoed (§5.1)', () => {
    const d = setup().ask({ name: 'nope.example.com', edns: { ...DO, compactOk: true } });
    expect(d.rcode).toBe(RCODE.NXDOMAIN);
    expect(d.opt!.compactOk).toBe(true);
    expect(nsecOf(d).types).toContain(DNSSEC_TYPE.NXNAME);
  });

  it('NODATA lists the types that exist (never the one asked); an empty non-terminal lists only RRSIG and NSEC', () => {
    const { ask } = setup();
    expect(nsecOf(ask({ name: 'app.example.com', qtype: TYPE.TXT, edns: DO })).types).toEqual([TYPE.A, TYPE.AAAA, DNSSEC_TYPE.RRSIG, DNSSEC_TYPE.NSEC]);
    // AAAA at a record whose origins have no IPv6 address: the steering path's no_address NODATA.
    const noV6 = ask({ name: 'v4only.example.com', qtype: TYPE.AAAA, edns: DO });
    expect(noV6.rcode).toBe(RCODE.NOERROR);
    expect(nsecOf(noV6).types).toEqual([TYPE.A, DNSSEC_TYPE.RRSIG, DNSSEC_TYPE.NSEC]);
    expect(nsecOf(ask({ name: 'deep.example.com', edns: DO })).types).toEqual([DNSSEC_TYPE.RRSIG, DNSSEC_TYPE.NSEC]);
    const apex = nsecOf(ask({ name: 'example.com', qtype: TYPE.TXT, edns: DO })).types;
    expect(apex).toEqual([TYPE.NS, TYPE.SOA, DNSSEC_TYPE.RRSIG, DNSSEC_TYPE.NSEC, DNSSEC_TYPE.DNSKEY, DNSSEC_TYPE.CDS, DNSSEC_TYPE.CDNSKEY]);
    // DS is the parent's: asked at our apex it is denied like any absent type.
    expect(nsecOf(ask({ name: 'example.com', qtype: DNSSEC_TYPE.DS, edns: DO })).types).not.toContain(DNSSEC_TYPE.DS);
  });

  it('an explicit query for NXNAME is FORMERR (§3.5); the NSEC itself can be asked for', () => {
    const { ask } = setup();
    expect(ask({ name: 'app.example.com', qtype: DNSSEC_TYPE.NXNAME, edns: DO }).rcode).toBe(RCODE.FORMERR);
    const nsec = ask({ name: 'app.example.com', qtype: DNSSEC_TYPE.NSEC, edns: DO });
    expect(nsec.answers.map((x) => x.type)).toEqual([DNSSEC_TYPE.NSEC, DNSSEC_TYPE.RRSIG]);
    expect(bitmapTypes(nsec.answers[0]!.data.subarray(nameToWireKey('app.example.com').length + 2))).toContain(DNSSEC_TYPE.NSEC);
  });
});

describe('the DO bit is honoured', () => {
  it('without DO the answers are byte for byte those of an unsigned zone (and NXDOMAIN stays NXDOMAIN)', () => {
    const signed = setup();
    const plain = setup({ signer: false });
    const specs: QuerySpec[] = [
      { name: 'app.example.com', edns: { ecs: { address: '10.1.2.0', source: 24 } } },
      { name: 'app.example.com' },
      { name: 'nope.example.com', edns: {} },
      { name: 'app.example.com', qtype: TYPE.TXT, edns: {} },
      { name: 'example.com', qtype: TYPE.SOA },
      { name: 'example.com', qtype: TYPE.NS, edns: {} },
    ];
    for (const spec of specs) expect(signed.raw(spec).toString('hex'), JSON.stringify(spec)).toBe(plain.raw(spec).toString('hex'));
    expect(signed.ask({ name: 'nope.example.com', edns: {} }).rcode).toBe(RCODE.NXDOMAIN);
    expect(signed.signer.stats.signatures).toBe(0);
  });

  it('the DNSKEY set is published to everyone; only DO queries get its RRSIG', () => {
    const d = setup().ask({ name: 'example.com', qtype: DNSSEC_TYPE.DNSKEY, edns: {} });
    expect(d.answers.map((x) => x.type)).toEqual([DNSSEC_TYPE.DNSKEY]);
  });

  it('DO in a zone without keys: no DNSSEC records, and DNSKEY is NODATA', () => {
    const { ask } = setup({ signer: false });
    expect(ask({ name: 'app.example.com', edns: DO }).answers.map((x) => x.type)).toEqual([TYPE.A]);
    const d = ask({ name: 'example.com', qtype: DNSSEC_TYPE.DNSKEY, edns: DO });
    expect([d.rcode, d.answers.length, d.authority.map((x) => x.type)]).toEqual([RCODE.NOERROR, 0, [TYPE.SOA]]);
  });
});

describe('with the rest of the protocol', () => {
  it('copies CD (a security-aware server, RFC 4035 §3.1.6); without DNSSEC configured CD is cleared', () => {
    const withCd = (q: Buffer) => ((q[3]! |= 0x10), q);
    const signed = setup();
    const plain = setup({ signer: false });
    for (const q of [{ name: 'app.example.com', edns: DO }, { name: 'nope.example.com', edns: DO }]) {
      expect(signed.r.respond(withCd(buildQuery(q)), 'udp', LOCAL)!.readUInt16BE(2) & 0x10).toBe(0x10);
      expect(plain.r.respond(withCd(buildQuery(q)), 'udp', LOCAL)!.readUInt16BE(2) & 0x10).toBe(0);
    }
  });

  it('a TSIG-signed DO query gets the RRSIGs and, last, its TSIG', () => {
    const clock = { ms: T0 };
    const key = memoryKey('example.com');
    const secret = Buffer.alloc(32, 9).toString('base64');
    const r = new Responder({
      geo,
      limits: { ipv4: 24, ipv6: 56 },
      udpPayloadSize: 1232,
      now: () => clock.ms,
      dnssec: testSigner([key], clock),
      tsigKeys: new TsigKeyring([{ name: nameToWireKey('key.example.com'), algorithm: HMAC_SHA256, secret: Buffer.from(secret, 'base64') }]),
    });
    r.setIndex(buildViewIndex(v, AUTHORITY));
    const q = signQuery(buildQuery({ name: 'v4only.example.com', edns: DO }), { keyName: 'key.example.com', secret, timeSigned: T0 / 1000 });
    const d = decodeResponse(r.respond(q, 'udp', LOCAL)!);
    expect(d.answers.map((x) => x.type)).toEqual([TYPE.A, DNSSEC_TYPE.RRSIG]);
    expect(verifiesWith(d.answers[1]!, [d.answers[0]!], key.rdata)).toBe(true);
    expect(d.tsig).not.toBeNull();
    expect(d.tsig!.error).toBe(0);
  });
});

describe('size limits and key states', () => {
  it('a signed answer that does not fit the requester size is truncated whole (TC, no partial RRset)', () => {
    const big = view('example.com', [record('big.example.com', [origin('big', Array.from({ length: 20 }, (_, i) => `2001:db8::${i + 1}`), PLACES.frankfurt)], { answers: 20 })]);
    const { r } = setup();
    r.setIndex(buildViewIndex(big, AUTHORITY));
    // 20 AAAA (560 bytes) + RRSIG fit 1232, not 600.
    const fits = decodeResponse(r.respond(buildQuery({ name: 'big.example.com', qtype: TYPE.AAAA, edns: DO }), 'udp', LOCAL)!);
    expect([fits.tc, fits.answers.length]).toEqual([false, 21]);
    const cut = decodeResponse(r.respond(buildQuery({ name: 'big.example.com', qtype: TYPE.AAAA, edns: { ...DO, udpSize: 600 } }), 'udp', LOCAL)!);
    expect([cut.tc, cut.answers.length]).toEqual([true, 0]);
  });

  it('no key signs any more: cached signatures are served until they expire, then answers go unsigned (counted)', () => {
    const clock = { ms: T0 };
    const key = memoryKey('example.com', 'csk', { Created: 0, Publish: 0, Activate: 0, Inactive: T0 / 1000 + 3 * 86400 });
    const signer = testSigner([key], clock);
    const r = new Responder({ geo, limits: { ipv4: 24, ipv6: 56 }, udpPayloadSize: 1232, dnssec: signer });
    r.setIndex(buildViewIndex(v, AUTHORITY));
    const sigs = () => ofType(decodeResponse(r.respond(buildQuery({ name: 'v4only.example.com', edns: DO }), 'udp', LOCAL)!).answers, DNSSEC_TYPE.RRSIG).length;
    expect(sigs()).toBe(1);
    clock.ms += 6 * 86400 * 1000; // key inactive, signature past refresh but not expired
    expect(sigs()).toBe(1);
    expect(signer.takeServedExpiries().get('example.com')).toBe(T0 / 1000 + 7 * 86400);
    expect(signer.takeServedExpiries().size).toBe(0); // reset by the scrape
    clock.ms += 2 * 86400 * 1000; // expired
    expect(sigs()).toBe(0);
    expect(signer.stats.unsignedAnswers).toBeGreaterThan(0);
    expect(signer.stats.signatures).toBe(1);
  });

  it('a ZSK rollover re-signs with the new key the moment it activates', () => {
    const clock = { ms: T0 };
    const t = T0 / 1000;
    const ksk = memoryKey('example.com', 'ksk');
    const z1 = memoryKey('example.com', 'zsk', { Created: 0, Publish: 0, Activate: 0, Inactive: t + 100, Delete: t + 200 });
    const z2 = memoryKey('example.com', 'zsk', { Created: 0, Publish: t + 10, Activate: t + 100 });
    const signer = testSigner([ksk, z1, z2], clock);
    const r = new Responder({ geo, limits: { ipv4: 24, ipv6: 56 }, udpPayloadSize: 1232, dnssec: signer });
    r.setIndex(buildViewIndex(v, AUTHORITY));
    const ask = (spec: QuerySpec) => decodeResponse(r.respond(buildQuery(spec), 'udp', LOCAL)!);
    const tagOf = () => parseRrsig(ofType(ask({ name: 'v4only.example.com', edns: DO }).answers, DNSSEC_TYPE.RRSIG)[0]!.data).keyTag;
    const dnskeyTags = () => ofType(ask({ name: 'example.com', qtype: DNSSEC_TYPE.DNSKEY, edns: DO }).answers, DNSSEC_TYPE.DNSKEY).length;
    expect([tagOf(), dnskeyTags()]).toEqual([z1.tag, 2]);
    clock.ms += 10_000;
    expect([tagOf(), dnskeyTags()]).toEqual([z1.tag, 3]); // pre-published
    clock.ms += 90_000;
    expect([tagOf(), dnskeyTags()]).toEqual([z2.tag, 3]); // new signatures, old key still published
    clock.ms += 100_000;
    expect([tagOf(), dnskeyTags()]).toEqual([z2.tag, 2]); // old key removed
    // The DNSKEY set is signed by the KSK only.
    const dk = ask({ name: 'example.com', qtype: DNSSEC_TYPE.DNSKEY, edns: DO });
    expect(ofType(dk.answers, DNSSEC_TYPE.RRSIG).map((x) => parseRrsig(x.data).keyTag)).toEqual([ksk.tag]);
  });
});
