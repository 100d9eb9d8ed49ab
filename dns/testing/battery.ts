// The query battery of the differential test (test/dns-differential.test.ts): normal, error, EDNS,
// ECS, TSIG and malformed queries, each sent to sluice and to reference servers serving the same zone
// (BATTERY_ZONE). The fuzz tests use the same packets as seeds, so every path the battery reaches
// (OPT on errors, TSIG, unknown opcodes) is also mutated at random.
import type { DnsView } from '../../model/views.ts';
import { TYPE } from '../wire/constants.ts';
import { origin, PLACES, record, view } from './fixtures.ts';
import { buildQuery, ecsOption, signQuery, withOpcode, type QuerySpec } from './packets.ts';

export interface BatteryQuery {
  name: string;
  transport: 'udp' | 'tcp';
  packet: Buffer;
}

/** The zone every server in the comparison serves (written as a zone file for knot and gdnsd, as a view for sluice). */
export const BATTERY_ZONE = {
  zone: 'example.com',
  soa: { mname: 'ns1.example.com', rname: 'hostmaster.example.com', serial: 7, refresh: 3600, retry: 600, expire: 1209600, minimum: 30, ttl: 3600 },
  nameserver: { name: 'ns1.example.com', address: '127.0.0.1' },
  /** hostname -> addresses (one origin each, so every server answers the same single RRset). */
  records: {
    'app.example.com': ['203.0.113.30', '2001:db8:30::30'],
    'deep.ent.example.com': ['192.0.2.1'],
    'big.example.com': Array.from({ length: 40 }, (_, i) => `2001:db8:99::${(i + 1).toString(16)}`),
  } as Record<string, string[]>,
  ttl: 30,
};

/** BATTERY_ZONE as a master file, for knot and gdnsd. */
export function batteryZoneFile(): string {
  const z = BATTERY_ZONE;
  const lines = [
    `$ORIGIN ${z.zone}.`,
    `$TTL ${z.soa.ttl}`,
    `@ SOA ${z.soa.mname}. ${z.soa.rname}. ${z.soa.serial} ${z.soa.refresh} ${z.soa.retry} ${z.soa.expire} ${z.soa.minimum}`,
    `@ NS ${z.nameserver.name}.`,
    `${z.nameserver.name}. A ${z.nameserver.address}`,
  ];
  for (const [host, addresses] of Object.entries(z.records)) {
    for (const a of addresses) lines.push(`${host}. ${z.ttl} ${a.includes(':') ? 'AAAA' : 'A'} ${a}`);
  }
  return `${lines.join('\n')}\n`;
}

/** BATTERY_ZONE as a sluice view (one origin per record, all its addresses answered) and the config lines for its SOA/NS. */
export function batteryView(): { view: DnsView; configLines: string[] } {
  const z = BATTERY_ZONE;
  const records = Object.entries(z.records).map(([host, addresses]) => record(host, [origin(`o-${host.split('.')[0]}`, addresses, PLACES.london)], { ttl: z.ttl, answers: addresses.length }));
  return {
    view: view(z.zone, records, String(z.soa.serial), z.soa.serial),
    configLines: [
      `authority: { primary_ns: ${z.soa.mname}, hostmaster: ${z.soa.rname}, nameservers: [{ name: ${z.nameserver.name}, addresses: [${z.nameserver.address}] }],`,
      `  soa_ttl: ${z.soa.ttl}, ns_ttl: ${z.soa.ttl}, negative_ttl: ${z.soa.minimum}, refresh: ${z.soa.refresh}, retry: ${z.soa.retry}, expire: ${z.soa.expire} }`,
    ],
  };
}

const ID = 0x5a5a;
const q = (name: string, spec: Partial<QuerySpec> = {}): Buffer => buildQuery({ id: ID, name, ...spec });
const e = (name: string, spec: Partial<QuerySpec> = {}, edns: QuerySpec['edns'] = {}): Buffer => q(name, { ...spec, edns });
const opt = (): Buffer => e('app.example.com').subarray(-11);

function setFlag(b: Buffer, byte: 2 | 3, mask: number): Buffer {
  b[byte] = b[byte]! | mask;
  return b;
}
function withCounts(b: Buffer, counts: Partial<Record<'qd' | 'an' | 'ns' | 'ar', number>>): Buffer {
  const at = { qd: 4, an: 6, ns: 8, ar: 10 };
  for (const [k, v] of Object.entries(counts)) b.writeUInt16BE(v, at[k as keyof typeof at]);
  return b;
}
function appendAdditional(b: Buffer, rr: Buffer): Buffer {
  const out = Buffer.concat([b, rr]);
  return withCounts(out, { ar: out.readUInt16BE(10) + 1 });
}
const unknownKey = (b: Buffer, extra: { algorithm?: string; macLength?: number } = {}) => signQuery(b, { keyName: 'unknown.key', ...extra });
const ecs = (hex: string) => Buffer.from(hex, 'hex');

/** [name, packet, transport]: at least 60 queries; names are what dns/README.md's difference table refers to. */
const ROWS: [string, () => Buffer, ('udp' | 'tcp')?][] = [
  // Normal answers
  ['a-plain', () => q('app.example.com')],
  ['a-edns', () => e('app.example.com')],
  ['aaaa-edns', () => e('app.example.com', { qtype: TYPE.AAAA })],
  ['a-mixed-case', () => e('ApP.ExAmPlE.CoM')],
  ['a-dnssec-ok', () => e('app.example.com', {}, { dnssecOk: true })],
  ['a-cd-flag', () => setFlag(e('app.example.com'), 3, 0x10)],
  ['a-ad-flag', () => setFlag(e('app.example.com'), 3, 0x20)],
  ['a-no-rd', () => e('app.example.com', { rd: false })],
  ['a-tc-and-ra-in-query', () => setFlag(setFlag(e('app.example.com'), 2, 0x02), 3, 0x80)],
  ['a-z-bit', () => setFlag(e('app.example.com'), 3, 0x40)],
  ['soa-apex', () => e('example.com', { qtype: TYPE.SOA })],
  ['ns-apex-with-glue', () => e('example.com', { qtype: TYPE.NS })],
  ['ns-apex-udp-size-100', () => e('example.com', { qtype: TYPE.NS }, { udpSize: 100 })],
  ['a-at-apex-nodata', () => e('example.com')],
  ['mx-at-apex-nodata', () => e('example.com', { qtype: TYPE.MX })],
  ['glue-a', () => e('ns1.example.com')],
  ['glue-aaaa-nodata', () => e('ns1.example.com', { qtype: TYPE.AAAA })],
  ['mx-nodata', () => e('app.example.com', { qtype: TYPE.MX })],
  ['txt-nodata', () => e('app.example.com', { qtype: TYPE.TXT })],
  ['any-rfc8482', () => e('app.example.com', { qtype: TYPE.ANY })],
  ['qclass-any', () => e('app.example.com', { qclass: 255 })],
  ['nxdomain', () => e('nope.example.com')],
  ['nxdomain-below-record', () => e('x.app.example.com')],
  ['empty-non-terminal', () => e('ent.example.com')],
  ['deep-record', () => e('deep.ent.example.com')],
  ['refused-other-zone', () => e('www.example.org')],
  ['refused-root', () => e('', { qtype: TYPE.NS })],
  ['refused-parent', () => e('com', { qtype: TYPE.SOA })],
  ['refused-class-none', () => e('app.example.com', { qclass: 254 })],
  ['chaos-version-bind', () => e('version.bind', { qtype: TYPE.TXT, qclass: 3 })],
  ['qtype-rrsig', () => e('app.example.com', { qtype: 46 })],
  ['qtype-opt', () => e('app.example.com', { qtype: TYPE.OPT })],
  ['qtype-tkey', () => e('app.example.com', { qtype: TYPE.TKEY })],
  ['qtype-0', () => e('app.example.com', { qtype: 0 })],
  ['long-name-refused', () => e(Array.from({ length: 4 }, () => 'a'.repeat(61)).join('.'))],
  ['big-no-edns-truncated', () => q('big.example.com', { qtype: TYPE.AAAA })],
  ['big-edns-4096', () => e('big.example.com', { qtype: TYPE.AAAA }, { udpSize: 4096 })],
  ['big-edns-512-truncated', () => e('big.example.com', { qtype: TYPE.AAAA }, { udpSize: 512 })],
  ['tcp-big', () => q('big.example.com', { qtype: TYPE.AAAA }), 'tcp'],
  ['tcp-a-edns', () => e('app.example.com'), 'tcp'],
  ['tcp-nxdomain', () => e('nope.example.com'), 'tcp'],
  // ECS (RFC 7871)
  ['ecs-v4-24', () => e('app.example.com', {}, { ecs: { address: '10.1.2.0', source: 24 } })],
  ['ecs-v6-56', () => e('app.example.com', { qtype: TYPE.AAAA }, { ecs: { address: '2001:db8:aaaa:5600::', source: 56 } })],
  ['ecs-source-0', () => e('app.example.com', {}, { ecs: { address: '0.0.0.0', source: 0 } })],
  ['ecs-bits-beyond-prefix', () => e('app.example.com', {}, { extraOptions: ecs('00080007000117000a0103') })],
  ['ecs-scope-in-query', () => e('app.example.com', {}, { extraOptions: ecs('0008000700011818' + '0a0102') })],
  ['ecs-twice', () => e('app.example.com', {}, { extraOptions: Buffer.concat([ecsOption('10.1.2.0', 24), ecsOption('10.1.3.0', 24)]) })],
  ['ecs-shorter-than-4', () => e('app.example.com', {}, { extraOptions: ecs('00080003000118') })],
  ['ecs-family-9', () => e('app.example.com', {}, { extraOptions: ecs('00080005000908000a') })],
  ['ecs-v4-prefix-33', () => e('app.example.com', {}, { extraOptions: ecs('000800090001210001020304' + '05') })],
  ['ecs-address-too-long', () => e('app.example.com', {}, { extraOptions: ecs('0008000800011800' + '0a010200') })],
  ['ecs-address-too-short', () => e('app.example.com', {}, { extraOptions: ecs('0008000600011800' + '0a01') })],
  // EDNS (RFC 6891)
  ['edns-version-1', () => e('app.example.com', {}, { version: 1 })],
  ['edns-version-1-nxdomain', () => e('nope.example.com', {}, { version: 1 })],
  ['edns-version-1-out-of-zone', () => e('www.example.org', {}, { version: 1 })],
  ['edns-version-1-bad-ecs', () => e('app.example.com', {}, { version: 1, extraOptions: ecs('00080003000118') })],
  ['edns-nsid', () => e('app.example.com', {}, { extraOptions: ecs('00030000') })],
  ['edns-cookie', () => e('app.example.com', {}, { extraOptions: ecs('000a00080102030405060708') })],
  ['edns-cookie-bad-length', () => e('app.example.com', {}, { extraOptions: ecs('000a0003010203') })],
  ['edns-unknown-option', () => e('app.example.com', {}, { extraOptions: ecs('fde90002abcd') })],
  ['edns-z-flags', () => { const b = e('app.example.com'); b[b.length - 3] = 0x01; return b; }],
  ['opt-owner-not-root', () => { const b = e('app.example.com'); return Buffer.concat([b.subarray(0, b.length - 11), Buffer.from([1, 0x61]), b.subarray(b.length - 11)]); }],
  ['two-opt-records', () => appendAdditional(e('app.example.com'), opt())],
  ['edns-option-overruns-opt', () => e('app.example.com', {}, { extraOptions: ecs('000a001e0102') })],
  ['opt-rdata-overruns-packet', () => { const b = e('app.example.com'); b.writeUInt16BE(5, b.length - 2); return b; }],
  // Opcodes
  ['opcode-iquery', () => withOpcode(e('example.com'), 1)],
  ['opcode-status', () => withOpcode(e('example.com'), 2)],
  ['opcode-notify', () => withOpcode(e('example.com', { qtype: TYPE.SOA }), 4)],
  ['opcode-update', () => withOpcode(e('example.com', { qtype: TYPE.SOA }), 5)],
  ['opcode-dso', () => withOpcode(e('example.com'), 6)],
  ['opcode-15-no-edns', () => withOpcode(q('example.com'), 15)],
  ['opcode-15-edns-1', () => withOpcode(e('example.com', {}, { version: 1 }), 15)],
  ['axfr-udp', () => e('example.com', { qtype: TYPE.AXFR })],
  ['ixfr-udp', () => e('example.com', { qtype: TYPE.IXFR })],
  ['axfr-tcp', () => e('example.com', { qtype: TYPE.AXFR }), 'tcp'],
  // Malformed
  ['qdcount-2', () => { const b = e('app.example.com'); const two = Buffer.concat([b.subarray(0, 33), b.subarray(12, 33), b.subarray(33)]); return withCounts(two, { qd: 2 }); }],
  ['qdcount-0', () => { const b = e('app.example.com'); return withCounts(Buffer.concat([b.subarray(0, 12), b.subarray(33)]), { qd: 0 }); }],
  ['ancount-1', () => withCounts(e('app.example.com'), { an: 1 })],
  ['opt-in-answer-section', () => withCounts(e('app.example.com'), { an: 1, ar: 0 })],
  ['arcount-too-high', () => withCounts(e('app.example.com'), { ar: 2 })],
  ['trailing-bytes', () => Buffer.concat([e('app.example.com'), Buffer.from([1, 2, 3])])],
  ['header-only', () => withCounts(Buffer.from(q('app.example.com').subarray(0, 12)), { qd: 1 })],
  ['question-truncated', () => Buffer.from(e('app.example.com').subarray(0, 20))],
  ['question-pointer', () => { const b = e('app.example.com'); b[12] = 0xc0; b[13] = 0x0c; return b; }],
  ['response-bit-set', () => setFlag(e('app.example.com'), 2, 0x80)],
  ['garbage-after-header', () => Buffer.concat([q('app.example.com').subarray(0, 12), Buffer.from('ffffffffffffffff', 'hex')])],
  // TSIG (RFC 8945): no key is configured anywhere
  ['tsig-unknown-key', () => unknownKey(q('app.example.com'))],
  ['tsig-unknown-key-edns', () => unknownKey(e('app.example.com'))],
  ['tsig-unknown-algorithm', () => unknownKey(e('app.example.com'), { algorithm: 'hmac-md5.sig-alg.reg.int' })],
  ['tsig-empty-mac', () => unknownKey(e('app.example.com'), { macLength: 0 })],
  ['tsig-out-of-zone', () => unknownKey(e('www.example.org'))],
  ['tsig-nxdomain', () => unknownKey(e('nope.example.com'))],
  ['tsig-edns-version-1', () => unknownKey(e('app.example.com', {}, { version: 1 }))],
  ['tsig-axfr', () => unknownKey(e('example.com', { qtype: TYPE.AXFR }))],
  ['tsig-opcode-15', () => unknownKey(withOpcode(e('example.com'), 15))],
  ['tsig-before-opt', () => appendAdditional(unknownKey(q('app.example.com')), opt())],
  ['tsig-twice', () => unknownKey(unknownKey(q('app.example.com')))],
  ['tsig-rdata-truncated', () => fixTsigRdlen(Buffer.from(unknownKey(e('app.example.com')).subarray(0, -4)), 4)],
  ['tsig-tcp', () => unknownKey(e('app.example.com')), 'tcp'],
];

/** The TSIG record of `b` lost `cut` bytes at its end: shorten its RDLENGTH to match. */
function fixTsigRdlen(b: Buffer, cut: number): Buffer {
  // The unknown key's record starts after the OPT (11 bytes) of a query whose question ends at 33.
  const tsigAt = 33 + 11;
  const nameLen = b.indexOf(0, tsigAt) + 1 - tsigAt;
  const rdlenAt = tsigAt + nameLen + 8;
  b.writeUInt16BE(b.readUInt16BE(rdlenAt) - cut, rdlenAt);
  return b;
}

export const BATTERY: BatteryQuery[] = ROWS.map(([name, build, transport]) => ({ name, packet: build(), transport: transport ?? 'udp' }));
