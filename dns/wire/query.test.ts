import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { buildQuery, ecsOption, signQuery, withOpcode } from '../testing/packets.ts';
import { TYPE } from './constants.ts';
import { PARSE, parseQuery } from './query.ts';

const require = createRequire(import.meta.url);

describe('parseQuery', () => {
  it('reads header, case-insensitive name key, type and class', () => {
    const q = parseQuery(buildQuery({ id: 777, name: 'App.Example.COM', qtype: TYPE.AAAA }));
    expect(q.status).toBe(PARSE.OK);
    expect(q.id).toBe(777);
    expect(q.nameKey).toBe('\x03app\x07example\x03com\x00');
    expect(q.qtype).toBe(TYPE.AAAA);
    expect(q.qclass).toBe(1);
    expect(q.edns).toBe(false);
  });

  it('reads OPT and an IPv4 ECS option', () => {
    const q = parseQuery(buildQuery({ name: 'a.example.com', edns: { udpSize: 4096, dnssecOk: true, ecs: { address: '81.2.69.0', source: 24 } } }));
    expect(q.status).toBe(PARSE.OK);
    expect(q.edns && q.dnssecOk).toBe(true);
    expect(q.udpSize).toBe(4096);
    expect([q.ecs, q.ecsFamily, q.ecsSource, q.ecsAddrLen]).toEqual([true, 1, 24, 3]);
    expect([...q.ecsAddr.subarray(0, 3)]).toEqual([81, 2, 69]);
  });

  it('reads an IPv6 ECS /56 (7 address bytes) that dns2 drops together with the whole OPT record', () => {
    const packet = buildQuery({ name: 'app.example.com', qtype: TYPE.AAAA, edns: { ecs: { address: '2001:db8:aaaa:bb00::', source: 56 } } });
    const q = parseQuery(packet);
    expect(q.status).toBe(PARSE.OK);
    expect([q.ecs, q.ecsFamily, q.ecsSource, q.ecsAddrLen]).toEqual([true, 2, 56, 7]);
    expect(Buffer.from(q.ecsAddr.subarray(0, 7)).toString('hex')).toBe('20010db8aaaabb');
    // The quirk this parser exists to avoid: dns2 3.0.0 returns no additional records at all for this
    // packet (the OPT, and with it the ECS, is lost), while it keeps them for a /48.
    const { Packet } = require('dns2') as { Packet: { parse(b: Buffer): { additionals: { type: number }[] } } };
    expect(Packet.parse(packet).additionals).toHaveLength(0);
    const p48 = buildQuery({ name: 'app.example.com', qtype: TYPE.AAAA, edns: { ecs: { address: '2001:db8:aaaa::', source: 48 } } });
    expect(Packet.parse(p48).additionals.map((r) => r.type)).toEqual([TYPE.OPT]);
  });

  it('ignores unknown options such as COOKIE', () => {
    const cookie = Buffer.from('000a00080102030405060708', 'hex');
    const q = parseQuery(buildQuery({ name: 'a.example.com', edns: { extraOptions: cookie, ecs: { address: '10.1.0.0', source: 16 } } }));
    expect(q.status).toBe(PARSE.OK);
    expect(q.ecsSource).toBe(16);
  });

  const cases: [string, (b: Buffer) => void, number][] = [
    ['a response (QR=1)', (b) => void b.writeUInt16BE(0x8100, 2), PARSE.DROP],
    ['an unknown opcode', (b) => void b.writeUInt16BE(0x7800, 2), PARSE.NOTIMP],
    ['NOTIFY', (b) => void withOpcode(b, 4), PARSE.NOTIMP],
    ['UPDATE', (b) => void withOpcode(b, 5), PARSE.NOTIMP],
    ['QDCOUNT 2', (b) => void b.writeUInt16BE(2, 4), PARSE.FORMERR],
    ['ANCOUNT 1', (b) => void b.writeUInt16BE(1, 6), PARSE.FORMERR],
    ['a compression pointer in the question', (b) => void (b[12] = 0xc0), PARSE.FORMERR],
  ];
  it.each(cases)('classifies %s', (_what, mutate, status) => {
    const b = buildQuery({ name: 'a.example.com' });
    mutate(b);
    expect(parseQuery(b).status).toBe(status);
  });

  // Whatever else is wrong, an OPT in the additional section is found and the question is kept, so
  // every error answer can carry both (RFC 6891 §7). Rows: what, packet, verdict, OPT found, question read.
  const withOpt = () => buildQuery({ name: 'a.example.com', edns: { dnssecOk: true } });
  const opt = withOpt().subarray(-11);
  const optRows: [string, () => Buffer, number, boolean, boolean][] = [
    ['a malformed ECS option', () => buildQuery({ name: 'a.example.com', edns: { extraOptions: Buffer.from('000800030001', 'hex').subarray(0, 7) } }), PARSE.FORMERR, true, true],
    ['an option running past the OPT', () => buildQuery({ name: 'a.example.com', edns: { extraOptions: Buffer.from('000a001e0102', 'hex') } }), PARSE.FORMERR, true, true],
    ['two OPT records', () => { const b = Buffer.concat([withOpt(), opt]); b.writeUInt16BE(2, 10); return b; }, PARSE.FORMERR, true, true],
    ['QDCOUNT 2', () => { const b = withOpt(); const q = b.subarray(12, 12 + 19); const two = Buffer.concat([b.subarray(0, 31), q, b.subarray(31)]); two.writeUInt16BE(2, 4); return two; }, PARSE.FORMERR, true, true],
    ['QDCOUNT 0', () => { const b = withOpt(); const none = Buffer.concat([b.subarray(0, 12), b.subarray(31)]); none.writeUInt16BE(0, 4); return none; }, PARSE.FORMERR, true, false],
    ['trailing bytes', () => Buffer.concat([withOpt(), Buffer.from([1, 2])]), PARSE.FORMERR, true, true],
    ['an opcode we do not implement', () => withOpcode(withOpt(), 15), PARSE.NOTIMP, true, true],
    ['NOTIFY', () => withOpcode(withOpt(), 4), PARSE.NOTIMP, true, true],
    ['OPT data past the end of the packet', () => { const b = withOpt(); b.writeUInt16BE(9, b.length - 2); return b; }, PARSE.FORMERR, true, true],
    ['a TSIG before the OPT', () => { const s = signQuery(buildQuery({ name: 'a.example.com' }), { keyName: 'k' }); const b = Buffer.concat([s, opt]); b.writeUInt16BE(2, 10); return b; }, PARSE.FORMERR, true, true],
    ['EDNS version 1', () => buildQuery({ name: 'a.example.com', edns: { version: 1 } }), PARSE.BADVERS, true, true],
    ['an OPT in the answer section (not EDNS)', () => { const b = withOpt(); b.writeUInt16BE(1, 6); b.writeUInt16BE(0, 10); return b; }, PARSE.FORMERR, false, true],
  ];
  it.each(optRows)('keeps the OPT and the question of a query with %s', (_what, build, status, edns, question) => {
    const q = parseQuery(build());
    expect([q.status, q.edns, q.hasQuestion]).toEqual([status, edns, question]);
  });

  it('checks in the order knot and gdnsd do: structure, EDNS version, opcode, then content', () => {
    // EDNS version 1 wins over the opcode and over a broken ECS option (whose format is version 0's).
    expect(parseQuery(withOpcode(buildQuery({ name: 'a.example.com', edns: { version: 1 } }), 15)).status).toBe(PARSE.BADVERS);
    expect(parseQuery(buildQuery({ name: 'a.example.com', edns: { version: 1, extraOptions: Buffer.from('0008000300', 'hex') } })).status).toBe(PARSE.BADVERS);
    // A structural error wins over EDNS version 1.
    expect(parseQuery(Buffer.concat([buildQuery({ name: 'a.example.com', edns: { version: 1 } }), Buffer.from([0])])).status).toBe(PARSE.FORMERR);
    // UPDATE carries records in the answer/authority sections: NOTIMP, not FORMERR.
    const update = withOpcode(buildQuery({ name: 'a.example.com' }), 5);
    update.writeUInt16BE(1, 8);
    const withNs = Buffer.concat([update, Buffer.from('c00c000100010000001e000400000000', 'hex')]);
    expect(parseQuery(withNs).status).toBe(PARSE.NOTIMP);
  });

  it('reads a TSIG record (RFC 8945 §4.2) and requires it last and alone', () => {
    const signed = signQuery(buildQuery({ id: 4321, name: 'a.example.com', edns: {} }), { keyName: 'Key.Example', timeSigned: 1_700_000_000, fudge: 300, macLength: 32 });
    const q = parseQuery(signed);
    expect([q.status, q.tsig, q.edns]).toEqual([PARSE.OK, true, true]);
    const t = q.tsigFields;
    expect([t.keyName, t.algorithm, t.timeSigned, t.fudge, t.macLen, t.originalId, t.error, t.otherLen]).toEqual([
      '\x03key\x07example\x00', '\x0bhmac-sha256\x00', 1_700_000_000, 300, 32, 4321, 0, 0,
    ]);
    expect(signed.readUInt16BE(t.start + 13)).toBe(TYPE.TSIG); // the record starts at the key name (13 bytes)
    const twice = signQuery(signed, { keyName: 'k' });
    expect(parseQuery(twice).problem).toMatch(/TSIG is not the last/);
    const cut = Buffer.from(signed.subarray(0, signed.length - 3));
    cut.writeUInt16BE(cut.readUInt16BE(t.start + 13 + 8) - 3, t.start + 13 + 8); // RDLENGTH follows
    expect(parseQuery(cut).status).toBe(PARSE.FORMERR);
  });

  it('drops packets shorter than a header and FORMERRs truncated questions and trailing bytes', () => {
    expect(parseQuery(Buffer.alloc(5)).status).toBe(PARSE.DROP);
    const b = buildQuery({ name: 'a.example.com' });
    expect(parseQuery(b.subarray(0, b.length - 2)).status).toBe(PARSE.FORMERR);
    expect(parseQuery(Buffer.concat([b, Buffer.from([0])])).status).toBe(PARSE.FORMERR);
  });

  it('FORMERRs invalid ECS (RFC 7871 §6): wrong address length, bad family, a prefix too long for the family', () => {
    const base = (opt: Buffer) => buildQuery({ name: 'a.example.com', edns: { extraOptions: opt } });
    const short = Buffer.from('0008000600011800' + '0a01', 'hex'); // a /24 with 2 address bytes
    expect(parseQuery(base(short)).problem).toMatch(/ECS address is 2 bytes, \/24 needs 3/);
    const long = Buffer.concat([ecsOption('10.1.2.0', 24), Buffer.from([0])]);
    long.writeUInt16BE(8, 2); // 4 address bytes for a /24: knot accepts it, gdnsd and the RFC (SHOULD) do not
    expect(parseQuery(base(long)).status).toBe(PARSE.FORMERR);
    const fam = ecsOption('10.1.2.0', 24);
    fam.writeUInt16BE(3, 4);
    expect(parseQuery(base(fam)).status).toBe(PARSE.FORMERR);
    const v4_33 = Buffer.from('000800090001210001020304' + '05', 'hex');
    expect(parseQuery(base(v4_33)).problem).toMatch(/too long for the family/);
  });

  it('accepts what knot and gdnsd accept: bits beyond the source prefix, a scope in the query, a second ECS option', () => {
    const base = (opt: Buffer) => buildQuery({ name: 'a.example.com', edns: { extraOptions: opt } });
    const dirty = ecsOption('10.1.2.0', 23);
    dirty[10] = 0x03; // bit 24 set although the prefix is /23: echoed as sent, masked for the choice
    const d = parseQuery(base(dirty));
    expect([d.status, d.ecsSource, d.ecsAddr[2]]).toEqual([PARSE.OK, 23, 3]);
    const scoped = ecsOption('10.1.2.0', 24);
    scoped[7] = 24;
    expect(parseQuery(base(scoped)).status).toBe(PARSE.OK);
    const two = parseQuery(base(Buffer.concat([ecsOption('10.1.2.0', 24), ecsOption('10.1.3.0', 24)])));
    expect([two.status, two.ecsSource, two.ecsAddr[2]]).toEqual([PARSE.OK, 24, 2]);
  });

  it('flags EDNS version > 0 as BADVERS and a second OPT as FORMERR', () => {
    expect(parseQuery(buildQuery({ name: 'a.example.com', edns: { version: 1 } })).status).toBe(PARSE.BADVERS);
    const one = buildQuery({ name: 'a.example.com', edns: {} });
    const opt = one.subarray(one.length - 11);
    const two = Buffer.concat([one, opt]);
    two.writeUInt16BE(2, 10);
    expect(parseQuery(two).problem).toMatch(/more than one OPT/);
  });
});
