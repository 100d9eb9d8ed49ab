// Parses a DNS query straight from the wire (RFC 1035 §4, RFC 6891 OPT, RFC 7871 ECS) without
// building an object tree: one pass, bounds-checked, no allocation beyond the result object and the
// name key. It is the only parser on the serving path (fast and general answers share it), so a
// malformed packet is classified here once: drop (not worth an answer), FORMERR, NOTIMP or BADVERS.
//
// Unlike dns2's Packet.parse it reads an ECS address of any length up to the family's size — dns2
// throws away the whole OPT record when an IPv6 source prefix needs an odd number of bytes (a /56
// sends 7), which would silently turn such a query into a non-EDNS, non-ECS one.
import { CLASS_IN, HEADER_LEN, MAX_NAME_WIRE, OPT_CODE_ECS, TYPE } from './constants.ts';

export const PARSE = { OK: 0, DROP: 1, FORMERR: 2, NOTIMP: 3, BADVERS: 4 } as const;
export type ParseStatus = (typeof PARSE)[keyof typeof PARSE];

export class Query {
  status: ParseStatus = PARSE.OK;
  /** Why a packet was rejected (for debug logs and tests). */
  problem = '';
  id = 0;
  /** The query's flags word (RD and CD are copied into the answer). */
  flags = 0;
  opcode = 0;
  /** The question was fully read: qname/qtype/qclass are valid and [12, questionEnd) can be echoed. */
  hasQuestion = false;
  questionEnd = 0;
  qtype = 0;
  qclass = 0;
  /** FNV-1a of the lower-cased wire-format qname: the fast path's lookup key (no string built). */
  nameHash = 0;
  private nameUpper = false;
  private key: string | null = null;
  private buf: Buffer | null = null;
  edns = false;
  ednsVersion = 0;
  udpSize = 0;
  dnssecOk = false;
  ecs = false;
  /** 1 = IPv4, 2 = IPv6 (IANA address family numbers). */
  ecsFamily = 0;
  ecsSource = 0;
  /** Address bytes as sent (ceil(source/8) of them), zero-padded to 16. */
  readonly ecsAddr = new Uint8Array(16);
  ecsAddrLen = 0;

  /** Lower-cased wire-format qname as a latin1 string (map key for the general path), built on demand. */
  get nameKey(): string {
    if (this.key === null) {
      const k = this.buf!.toString('latin1', HEADER_LEN, this.questionEnd - 4);
      this.key = this.nameUpper ? asciiLower(k) : k;
    }
    return this.key;
  }

  /** Clears every field so one Query can be reused for the next packet (the server is single-threaded). */
  reset(buf: Buffer): void {
    this.status = PARSE.OK;
    this.problem = '';
    this.id = this.flags = this.opcode = 0;
    this.hasQuestion = false;
    this.questionEnd = this.qtype = this.qclass = this.nameHash = 0;
    this.nameUpper = false;
    this.key = null;
    this.buf = buf;
    this.edns = this.dnssecOk = this.ecs = false;
    this.ednsVersion = this.udpSize = this.ecsFamily = this.ecsSource = this.ecsAddrLen = 0;
  }

  setName(hash: number, upper: boolean): void {
    this.nameHash = hash;
    this.nameUpper = upper;
  }
}

function fail(q: Query, status: ParseStatus, problem: string): Query {
  q.status = status;
  q.problem = problem;
  return q;
}

/** Skips a (possibly compressed) name in a non-question record; returns the offset after it, or -1. */
function skipName(buf: Buffer, off: number): number {
  for (let total = 0; ; ) {
    if (off >= buf.length) return -1;
    const len = buf[off]!;
    if (len === 0) return off + 1;
    // A pointer ends the name; its target does not matter for skipping.
    if ((len & 0xc0) === 0xc0) return off + 2 <= buf.length ? off + 2 : -1;
    if ((len & 0xc0) !== 0) return -1;
    total += len + 1;
    if (total >= MAX_NAME_WIRE) return -1;
    off += 1 + len;
  }
}

export function parseQuery(buf: Buffer, q: Query = new Query()): Query {
  q.reset(buf);
  const n = buf.length;
  // Too short for a header: nothing to answer to (no reliable ID). Drop.
  if (n < HEADER_LEN) return fail(q, PARSE.DROP, 'shorter than a header');
  q.id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  q.flags = flags;
  // A response sent to us (QR=1): never answer, or two servers could ping-pong forever.
  if (flags & 0x8000) return fail(q, PARSE.DROP, 'QR set (a response, not a query)');
  q.opcode = (flags >>> 11) & 0xf;
  if (q.opcode !== 0) return fail(q, PARSE.NOTIMP, `opcode ${q.opcode}`);
  const qdcount = buf.readUInt16BE(4);
  const ancount = buf.readUInt16BE(6);
  const nscount = buf.readUInt16BE(8);
  const arcount = buf.readUInt16BE(10);
  if (qdcount !== 1) return fail(q, PARSE.FORMERR, `QDCOUNT ${qdcount}`);

  // Question name: uncompressed labels only (nothing precedes it that a pointer could reference).
  let off = HEADER_LEN;
  let nameLen = 0;
  let upper = false;
  let hash = 0x811c9dc5;
  for (;;) {
    if (off >= n) return fail(q, PARSE.FORMERR, 'question name runs past the end');
    const len = buf[off]!;
    hash = Math.imul(hash ^ len, 0x01000193);
    if (len === 0) { off++; nameLen++; break; }
    if (len > 63) return fail(q, PARSE.FORMERR, 'compressed or extended label in the question');
    nameLen += len + 1;
    if (nameLen >= MAX_NAME_WIRE) return fail(q, PARSE.FORMERR, 'question name longer than 255 bytes');
    const end = off + 1 + len;
    if (end > n) return fail(q, PARSE.FORMERR, 'question label runs past the end');
    for (let i = off + 1; i < end; i++) {
      let c = buf[i]!;
      if (c >= 0x41 && c <= 0x5a) {
        upper = true;
        c += 32;
      }
      hash = Math.imul(hash ^ c, 0x01000193);
    }
    off = end;
  }
  if (off + 4 > n) return fail(q, PARSE.FORMERR, 'question truncated before QTYPE/QCLASS');
  // Case-insensitive lookup on ASCII only; the question itself is echoed byte for byte (RFC 4343).
  q.setName(hash >>> 0, upper);
  q.qtype = buf.readUInt16BE(off);
  q.qclass = buf.readUInt16BE(off + 2);
  off += 4;
  q.questionEnd = off;
  q.hasQuestion = true;

  if (ancount !== 0 || nscount !== 0) return fail(q, PARSE.FORMERR, 'answer or authority records in a query');

  for (let r = 0; r < arcount; r++) {
    const nameStart = off;
    off = skipName(buf, off);
    if (off < 0 || off + 10 > n) return fail(q, PARSE.FORMERR, 'additional record truncated');
    const type = buf.readUInt16BE(off);
    const rdlen = buf.readUInt16BE(off + 8);
    const rdata = off + 10;
    if (rdata + rdlen > n) return fail(q, PARSE.FORMERR, 'additional record data runs past the end');
    if (type === TYPE.OPT) {
      if (q.edns) return fail(q, PARSE.FORMERR, 'more than one OPT record');
      if (off !== nameStart + 1 || buf[nameStart] !== 0) return fail(q, PARSE.FORMERR, 'OPT owner is not the root');
      q.edns = true;
      q.udpSize = buf.readUInt16BE(off + 2);
      q.ednsVersion = buf[off + 5]!;
      q.dnssecOk = (buf[off + 6]! & 0x80) !== 0;
      const problem = parseOptions(q, buf, rdata, rdata + rdlen);
      if (problem) {
        q.edns = false; // we could not read it: answer as if there were none
        return fail(q, PARSE.FORMERR, problem);
      }
    }
    off = rdata + rdlen;
  }
  if (off !== n) return fail(q, PARSE.FORMERR, `${n - off} trailing bytes after the last record`);
  if (q.edns && q.ednsVersion > 0) return fail(q, PARSE.BADVERS, `EDNS version ${q.ednsVersion}`);
  return q;
}

function parseOptions(q: Query, buf: Buffer, off: number, end: number): string | null {
  while (off < end) {
    if (off + 4 > end) return 'EDNS option header truncated';
    const code = buf.readUInt16BE(off);
    const len = buf.readUInt16BE(off + 2);
    const data = off + 4;
    if (data + len > end) return 'EDNS option runs past the OPT record';
    if (code === OPT_CODE_ECS) {
      if (q.ecs) return 'more than one ECS option';
      // RFC 7871 §6: FAMILY, SOURCE PREFIX-LENGTH, SCOPE PREFIX-LENGTH, ADDRESS (ceil(source/8) bytes).
      if (len < 4) return 'ECS option shorter than 4 bytes';
      const family = buf.readUInt16BE(data);
      const source = buf[data + 2]!;
      const maxBits = family === 1 ? 32 : family === 2 ? 128 : -1;
      if (maxBits < 0) return `ECS family ${family} unsupported`;
      if (source > maxBits) return `ECS source prefix /${source} too long for the family`;
      const addrLen = len - 4;
      // §7.1.1: the address must be exactly as long as the source prefix needs, and bits beyond it zero.
      if (addrLen !== (source + 7) >> 3) return `ECS address is ${addrLen} bytes, /${source} needs ${(source + 7) >> 3}`;
      q.ecsAddr.fill(0);
      for (let i = 0; i < addrLen; i++) q.ecsAddr[i] = buf[data + 4 + i]!;
      if (source & 7 && addrLen > 0 && (q.ecsAddr[addrLen - 1]! & (0xff >> (source & 7))) !== 0) {
        return 'ECS address has bits set beyond the source prefix';
      }
      q.ecs = true;
      q.ecsFamily = family;
      q.ecsSource = source;
      q.ecsAddrLen = addrLen;
    }
    // Other options (COOKIE, NSID, padding, …) are not supported and, per RFC 6891 §6.1.2, ignored.
    off = data + len;
  }
  return null;
}

function asciiLower(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c >= 0x41 && c <= 0x5a ? String.fromCharCode(c + 32) : s[i];
  }
  return out;
}

/** Lower-cased qname key is not a record of ours with class IN and type A/AAAA: the general path. */
export function isAddressQuestion(q: Query): boolean {
  return q.qclass === CLASS_IN && (q.qtype === TYPE.A || q.qtype === TYPE.AAAA);
}
