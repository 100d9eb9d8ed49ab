import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { buildQuery, ecsOption } from '../testing/packets.ts';
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
    ['an unknown opcode', (b) => void b.writeUInt16BE(0x2800, 2), PARSE.NOTIMP],
    ['QDCOUNT 2', (b) => void b.writeUInt16BE(2, 4), PARSE.FORMERR],
    ['ANCOUNT 1', (b) => void b.writeUInt16BE(1, 6), PARSE.FORMERR],
    ['a compression pointer in the question', (b) => void (b[12] = 0xc0), PARSE.FORMERR],
  ];
  it.each(cases)('classifies %s', (_what, mutate, status) => {
    const b = buildQuery({ name: 'a.example.com' });
    mutate(b);
    expect(parseQuery(b).status).toBe(status);
  });

  it('drops packets shorter than a header and FORMERRs truncated questions and trailing bytes', () => {
    expect(parseQuery(Buffer.alloc(5)).status).toBe(PARSE.DROP);
    const b = buildQuery({ name: 'a.example.com' });
    expect(parseQuery(b.subarray(0, b.length - 2)).status).toBe(PARSE.FORMERR);
    expect(parseQuery(Buffer.concat([b, Buffer.from([0])])).status).toBe(PARSE.FORMERR);
  });

  it('FORMERRs invalid ECS (RFC 7871 §7.1.1): wrong address length, bits beyond the prefix, bad family', () => {
    const base = (opt: Buffer) => buildQuery({ name: 'a.example.com', edns: { extraOptions: opt } });
    const long = ecsOption('10.1.2.0', 24);
    long.writeUInt16BE(6, 2); // claims 2 address bytes for a /24
    expect(parseQuery(base(Buffer.concat([long.subarray(0, 6), long.subarray(8, 10)]))).status).toBe(PARSE.FORMERR);
    const dirty = ecsOption('10.1.2.0', 23);
    dirty[10] = 0x03; // bit 24 set although the prefix is /23
    expect(parseQuery(base(dirty)).problem).toMatch(/beyond the source prefix/);
    const fam = ecsOption('10.1.2.0', 24);
    fam.writeUInt16BE(3, 4);
    expect(parseQuery(base(fam)).status).toBe(PARSE.FORMERR);
    const two = Buffer.concat([ecsOption('10.1.2.0', 24), ecsOption('10.1.3.0', 24)]);
    expect(parseQuery(base(two)).problem).toMatch(/more than one ECS/);
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
