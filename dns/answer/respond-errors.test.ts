// Error answers and TSIG through the pure core. Each row is a class of hostile or malformed input
// from issue 11; on the code before it, the EDNS rows answered without OPT (or without the question),
// zone transfers got REFUSED and a TSIG-signed query got an ordinary unsigned answer.
import { describe, expect, it } from 'vitest';
import { answerMacValid, buildQuery, decodeResponse, ecsOption, signQuery, withOpcode, type Decoded } from '../testing/packets.ts';
import { origin, PLACES, record, threeOrigins, view } from '../testing/fixtures.ts';
import { nameToWireKey, RCODE, TSIG_ERROR, TYPE } from '../wire/constants.ts';
import { HMAC_SHA256, TsigKeyring } from '../wire/tsig.ts';
import { Responder, type Remote } from './respond.ts';
import { buildViewIndex, type Authority } from './view-index.ts';

const AUTHORITY: Authority = {
  primaryNs: 'ns1.example.com',
  hostmaster: 'hostmaster@example.com',
  nameservers: [{ name: 'ns1.example.com', addresses: ['192.0.2.53'] }],
  soaTtl: 3600,
  nsTtl: 3600,
  negativeTtl: 30,
  refresh: 3600,
  retry: 600,
  expire: 1209600,
};
const LOCAL: Remote = { family: 4, v4: 0x7f000001, v6: new Uint8Array(16) };
const SECRET = Buffer.alloc(32, 0x42).toString('base64');
const NOW_S = 1_800_000_000;

function responder(opts: { keys?: boolean; withView?: boolean } = {}): Responder {
  const r = new Responder({
    geo: null,
    limits: { ipv4: 24, ipv6: 56 },
    udpPayloadSize: 1232,
    now: () => NOW_S * 1000,
    ...(opts.keys ? { tsigKeys: new TsigKeyring([{ name: nameToWireKey('key.example.com'), algorithm: HMAC_SHA256, secret: Buffer.from(SECRET, 'base64') }]) } : {}),
  });
  if (opts.withView !== false) {
    const many = Array.from({ length: 40 }, (_, i) => `2001:db8:1::${(i + 1).toString(16)}`);
    r.setIndex(buildViewIndex(view('example.com', [record('app.example.com', threeOrigins()), record('big.example.com', [origin('o', many, PLACES.london)], { answers: 40 })]), AUTHORITY));
  }
  return r;
}

function answer(r: Responder, packet: Buffer, transport: 'udp' | 'tcp' = 'udp'): Decoded {
  const out = r.respond(packet, transport, LOCAL);
  if (!out) throw new Error('dropped');
  return decodeResponse(out);
}

const edns = { dnssecOk: true };
const q = (name: string, extra: Parameters<typeof buildQuery>[0] extends infer S ? Partial<S> : never = {}) => buildQuery({ id: 0x4242, name, edns, ...extra });
const opt = () => q('app.example.com').subarray(-11);

describe('every answer to a query with OPT carries OPT (RFC 6891 §7), with the question echoed', () => {
  // [what, query, full RCODE (with OPT's extended bits), opcode echoed, question name echoed]
  const rows: [string, () => Buffer, number, number, string][] = [
    ['FORMERR: ECS option shorter than 4 bytes', () => q('app.example.com', { edns: { ...edns, extraOptions: Buffer.from('0008000200', 'hex').subarray(0, 6) } }), RCODE.FORMERR, 0, 'app.example.com'],
    ['FORMERR: an ECS address longer than its prefix needs', () => q('app.example.com', { edns: { ...edns, extraOptions: (() => { const e = Buffer.concat([ecsOption('10.1.2.0', 24), Buffer.from([0])]); e.writeUInt16BE(8, 2); return e; })() } }), RCODE.FORMERR, 0, 'app.example.com'],
    ['FORMERR: ECS family 9', () => q('app.example.com', { edns: { ...edns, extraOptions: Buffer.from('00080005000908000a', 'hex') } }), RCODE.FORMERR, 0, 'app.example.com'],
    ['FORMERR: an option running past the OPT', () => q('app.example.com', { edns: { ...edns, extraOptions: Buffer.from('000a001e0102', 'hex') } }), RCODE.FORMERR, 0, 'app.example.com'],
    ['FORMERR: two OPT records', () => { const b = Buffer.concat([q('app.example.com'), opt()]); b.writeUInt16BE(2, 10); return b; }, RCODE.FORMERR, 0, 'app.example.com'],
    ['FORMERR: QDCOUNT 2', () => { const b = q('app.example.com'); const two = Buffer.concat([b.subarray(0, 33), b.subarray(12, 33), b.subarray(33)]); two.writeUInt16BE(2, 4); return two; }, RCODE.FORMERR, 0, 'app.example.com'],
    ['FORMERR: trailing bytes', () => Buffer.concat([q('app.example.com'), Buffer.from([7])]), RCODE.FORMERR, 0, 'app.example.com'],
    ['FORMERR: ARCOUNT larger than the records sent', () => { const b = q('app.example.com'); b.writeUInt16BE(2, 10); return b; }, RCODE.FORMERR, 0, 'app.example.com'],
    ['FORMERR: TSIG not last', () => { const b = Buffer.concat([signQuery(buildQuery({ id: 0x4242, name: 'app.example.com' }), { keyName: 'k' }), opt()]); b.writeUInt16BE(2, 10); return b; }, RCODE.FORMERR, 0, 'app.example.com'],
    ['NOTIMP: opcode 15', () => withOpcode(q('example.com'), 15), RCODE.NOTIMP, 15, 'example.com'],
    ['NOTIMP: NOTIFY', () => withOpcode(q('example.com', { qtype: TYPE.SOA }), 4), RCODE.NOTIMP, 4, 'example.com'],
    ['NOTIMP: UPDATE', () => withOpcode(q('example.com', { qtype: TYPE.SOA }), 5), RCODE.NOTIMP, 5, 'example.com'],
    ['NOTIMP: AXFR', () => q('example.com', { qtype: TYPE.AXFR }), RCODE.NOTIMP, 0, 'example.com'],
    ['NOTIMP: IXFR', () => q('example.com', { qtype: TYPE.IXFR }), RCODE.NOTIMP, 0, 'example.com'],
    ['REFUSED: a name outside our zones', () => q('www.example.org'), RCODE.REFUSED, 0, 'www.example.org'],
    ['REFUSED: class CHAOS', () => q('version.bind', { qtype: TYPE.TXT, qclass: 3 }), RCODE.REFUSED, 0, 'version.bind'],
    ['BADVERS: EDNS version 1', () => q('app.example.com', { edns: { ...edns, version: 1 } }), RCODE.BADVERS, 0, 'app.example.com'],
    ['BADVERS: version 1 with an opcode we do not implement', () => withOpcode(q('app.example.com', { edns: { ...edns, version: 1 } }), 15), RCODE.BADVERS, 15, 'app.example.com'],
    ['NOTAUTH: a TSIG-signed query with no key configured', () => signQuery(q('app.example.com'), { keyName: 'key.example.com' }), RCODE.NOTAUTH, 0, 'app.example.com'],
  ];

  it.each(rows)('%s', (_what, build, fullRcode, opcode, qname) => {
    const r = responder();
    const packet = build();
    const out = r.respond(packet, 'udp', LOCAL)!;
    const d = decodeResponse(out);
    expect(d.id).toBe(0x4242);
    expect(d.fullRcode).toBe(fullRcode);
    expect((out.readUInt16BE(2) >> 11) & 0xf).toBe(opcode);
    expect(d.opt).not.toBeNull();
    expect(d.opt!.version).toBe(0);
    expect(d.opt!.dnssecOk).toBe(true);
    expect(d.aa).toBe(false);
    expect(d.question?.name).toBe(qname);
  });

  it('SERVFAIL before the first view carries OPT too', () => {
    const d = answer(responder({ withView: false }), q('app.example.com'));
    expect([d.rcode, d.opt !== null, d.question!.name]).toEqual([RCODE.SERVFAIL, true, 'app.example.com']);
  });

  it('answers without OPT when the query had none, whatever the error', () => {
    const r = responder();
    for (const packet of [withOpcode(buildQuery({ name: 'example.com' }), 4), buildQuery({ name: 'example.com', qtype: TYPE.AXFR }), buildQuery({ name: 'x.example.org' })]) {
      expect(answer(r, packet).opt).toBeNull();
    }
  });

  it('answers QCLASS * (ANY) from the IN data, as knot and gdnsd do; class NONE is REFUSED', () => {
    const r = responder();
    const d = answer(r, q('app.example.com', { qclass: 255 }));
    expect([d.rcode, d.aa, d.answers.length, d.answers[0]!.class]).toEqual([RCODE.NOERROR, true, 1, 1]);
    expect(answer(r, q('app.example.com', { qclass: 254 })).rcode).toBe(RCODE.REFUSED);
  });
});

describe('TSIG (RFC 8945)', () => {
  it('without keys: NOTAUTH + BADKEY, unsigned, the request\'s TSIG fields echoed, OPT before TSIG', () => {
    const r = responder();
    const d = answer(r, signQuery(q('app.example.com'), { keyName: 'Some.Key', timeSigned: NOW_S - 5, fudge: 300 }));
    expect([d.rcode, d.aa, d.answers.length, d.question!.name]).toEqual([RCODE.NOTAUTH, false, 0, 'app.example.com']);
    expect(d.opt).not.toBeNull();
    expect(d.tsig).toMatchObject({ keyName: 'some.key', algorithm: 'hmac-sha256', timeSigned: NOW_S - 5, fudge: 300, originalId: 0x4242, error: TSIG_ERROR.BADKEY });
    expect(d.tsig!.mac.length).toBe(0);
    expect(r.stats.total({ rcode: 'NOTAUTH', reason: 'tsig' })).toBe(1);
    expect(r.stats.tsig[1]).toBe(1); // badkey
  });

  describe('with a configured hmac-sha256 key', () => {
    const r = responder({ keys: true });
    const sign = (packet: Buffer, extra: { secret?: string; timeSigned?: number; macLength?: number; keyName?: string } = {}) =>
      signQuery(packet, { keyName: extra.keyName ?? 'key.example.com', secret: extra.secret ?? SECRET, timeSigned: extra.timeSigned ?? NOW_S, ...(extra.macLength ? { macLength: extra.macLength } : {}) });

    it('verifies the query and signs its answer (fast path and general path)', () => {
      for (const packet of [q('app.example.com'), q('example.com', { qtype: TYPE.SOA }), q('nope.example.com'), q('big.example.com', { qtype: TYPE.MX })]) {
        const signed = sign(packet);
        const out = r.respond(signed, 'udp', LOCAL)!;
        const d = decodeResponse(out);
        expect(d.tsig).toMatchObject({ keyName: 'key.example.com', error: 0, timeSigned: NOW_S, originalId: 0x4242 });
        expect(d.tsig!.mac.length).toBe(32);
        const requestMac = decodeResponse(signed).tsig!.mac; // decode the query's own TSIG
        expect(answerMacValid(out, requestMac, SECRET)).toBe(true);
        expect(answerMacValid(out, requestMac, Buffer.alloc(32, 1).toString('base64'))).toBe(false);
      }
      expect(answer(r, sign(q('app.example.com'))).answers.length).toBe(1);
      // A name outside our zones is refused before the key is looked at (unsigned), as knot does.
      const refused = answer(r, sign(q('x.example.org')));
      expect([refused.rcode, refused.tsig]).toEqual([RCODE.REFUSED, null]);
    });

    it('a wrong secret: NOTAUTH + BADSIG, unsigned; an unknown key: BADKEY', () => {
      let d = answer(r, sign(q('app.example.com'), { secret: Buffer.alloc(32, 7).toString('base64') }));
      expect([d.rcode, d.tsig!.error, d.tsig!.mac.length, d.answers.length]).toEqual([RCODE.NOTAUTH, TSIG_ERROR.BADSIG, 0, 0]);
      d = answer(r, sign(q('app.example.com'), { keyName: 'other.example.com' }));
      expect([d.rcode, d.tsig!.error]).toEqual([RCODE.NOTAUTH, TSIG_ERROR.BADKEY]);
    });

    it('outside Time Signed ± fudge: NOTAUTH + BADTIME, signed, our time in Other Data', () => {
      const signed = sign(q('app.example.com'), { timeSigned: NOW_S - 301 });
      const out = r.respond(signed, 'udp', LOCAL)!;
      const d = decodeResponse(out);
      expect([d.rcode, d.tsig!.error, d.tsig!.timeSigned, d.answers.length]).toEqual([RCODE.NOTAUTH, TSIG_ERROR.BADTIME, NOW_S - 301, 0]);
      expect(d.tsig!.other.readUInt32BE(2)).toBe(NOW_S);
      expect(answerMacValid(out, decodeResponse(signed).tsig!.mac, SECRET)).toBe(true);
    });

    it('accepts a MAC truncated to half the hash; a shorter one is FORMERR (§5.2.2.1)', () => {
      expect(answer(r, sign(q('app.example.com'), { macLength: 16 })).tsig!.error).toBe(0);
      expect(answer(r, sign(q('app.example.com'), { macLength: 10 })).rcode).toBe(RCODE.FORMERR);
    });

    it('a signed answer that does not fit over UDP is truncated with room for its TSIG', () => {
      const signed = sign(buildQuery({ id: 0x4242, name: 'big.example.com', qtype: TYPE.AAAA, edns: { udpSize: 1232 } }));
      const out = r.respond(signed, 'udp', LOCAL)!;
      const d = decodeResponse(out);
      expect([d.tc, d.answers.length, d.tsig!.error]).toEqual([true, 0, 0]);
      expect(out.length).toBeLessThanOrEqual(1232);
      expect(answer(r, sign(buildQuery({ id: 0x4242, name: 'big.example.com', qtype: TYPE.AAAA })), 'tcp').answers.length).toBe(40);
    });
  });
});
