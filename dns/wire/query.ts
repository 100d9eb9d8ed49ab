// Parses a DNS query straight from the wire (RFC 1035 §4, RFC 6891 OPT, RFC 7871 ECS, RFC 8945 TSIG)
// without building an object tree: one pass, bounds-checked, no allocation on the hot path beyond the
// reused result object. It is the only parser on the serving path (fast and general answers share
// it), so a packet is classified here once: OK, drop (not worth an answer), FORMERR, NOTIMP or
// BADVERS.
//
// Invariants the responder relies on:
// - The whole packet is walked before it is classified, so an OPT record is found even when the
//   query is rejected for something else (a second question, an unknown opcode, a bad ECS option):
//   `edns` is true whenever the additional section held a readable OPT header, and every response to
//   such a query carries OPT (RFC 6891 §7: a client must be able to tell "bad option" from "no EDNS").
// - `hasQuestion` is true whenever the first question could be read, whatever the verdict, so error
//   answers echo it as knot and gdnsd do.
// - The checks run in the order knot and gdnsd apply them: structure (FORMERR), EDNS version
//   (BADVERS), opcode (NOTIMP), then the content of the query (counts, EDNS options, TSIG).
//
// Unlike dns2's Packet.parse it reads an ECS address of any length up to the family's size — dns2
// throws away the whole OPT record when an IPv6 source prefix needs an odd number of bytes (a /56
// sends 7), which would silently turn such a query into a non-EDNS, non-ECS one.
import { CLASS_ANY, CLASS_IN, HEADER_LEN, MAX_NAME_WIRE, OPT_CODE_ECS, TYPE } from './constants.ts';

export const PARSE = { OK: 0, DROP: 1, FORMERR: 2, NOTIMP: 3, BADVERS: 4 } as const;
export type ParseStatus = (typeof PARSE)[keyof typeof PARSE];

/** Where the TSIG record sits and what it says (RFC 8945 §4.2); offsets into the query. */
export class TsigFields {
  /** Offset of the TSIG RR (its owner name): the message without TSIG is [0, start). */
  start = 0;
  /** Key name and algorithm, lower-cased uncompressed wire format (latin1), as the MAC needs them. */
  keyName = '';
  algorithm = '';
  /** Seconds since the epoch (48 bits: fits a double exactly). */
  timeSigned = 0;
  fudge = 0;
  macStart = 0;
  macLen = 0;
  originalId = 0;
  error = 0;
  otherStart = 0;
  otherLen = 0;
}

export class Query {
  status: ParseStatus = PARSE.OK;
  /** Why a packet was rejected (for debug logs and tests). */
  problem = '';
  id = 0;
  /** The query's flags word (RD and CD are copied into the answer). */
  flags = 0;
  opcode = 0;
  /** The first question was fully read: qname/qtype/qclass are valid and [12, questionEnd) can be echoed. */
  hasQuestion = false;
  questionEnd = 0;
  qtype = 0;
  qclass = 0;
  /** FNV-1a of the lower-cased wire-format qname: the fast path's lookup key (no string built). */
  nameHash = 0;
  private nameUpper = false;
  private key: string | null = null;
  private buf: Buffer | null = null;
  /** An OPT record was found (even a broken one): the answer carries OPT. */
  edns = false;
  ednsVersion = 0;
  udpSize = 0;
  dnssecOk = false;
  /** EDNS flag CO, Compact Answers OK (RFC 9824 §5.1): NXDOMAIN may be signalled with the rcode. */
  compactOk = false;
  private optStart = 0;
  private optEnd = 0;
  ecs = false;
  /** 1 = IPv4, 2 = IPv6 (IANA address family numbers). */
  ecsFamily = 0;
  ecsSource = 0;
  /** Address bytes as sent (ceil(source/8) of them), zero-padded to 16. */
  readonly ecsAddr = new Uint8Array(16);
  ecsAddrLen = 0;
  /** A TSIG record was found last in the additional section; `tsigFields` says what it holds. */
  tsig = false;
  readonly tsigFields = new TsigFields();
  private tsigRdata = 0;
  private tsigEnd = 0;

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
    this.edns = this.dnssecOk = this.compactOk = this.ecs = this.tsig = false;
    this.ednsVersion = this.udpSize = this.ecsFamily = this.ecsSource = this.ecsAddrLen = 0;
    this.optStart = this.optEnd = this.tsigRdata = this.tsigEnd = 0;
  }

  setName(hash: number, upper: boolean): void {
    this.nameHash = hash;
    this.nameUpper = upper;
  }

  /** Records the OPT's fixed fields (owner and TYPE already checked); options are read later. */
  setOpt(buf: Buffer, typeAt: number, rdata: number, rdataEnd: number): void {
    this.edns = true;
    this.udpSize = buf.readUInt16BE(typeAt + 2);
    this.ednsVersion = buf[typeAt + 5]!;
    this.dnssecOk = (buf[typeAt + 6]! & 0x80) !== 0;
    this.compactOk = (buf[typeAt + 6]! & 0x40) !== 0;
    this.optStart = rdata;
    this.optEnd = rdataEnd;
  }

  setTsig(start: number, rdata: number, rdataEnd: number): void {
    this.tsig = true;
    this.tsigFields.start = start;
    this.tsigRdata = rdata;
    this.tsigEnd = rdataEnd;
  }

  /** Reads the EDNS options (only for EDNS version 0, whose option format we know). */
  readOptions(buf: Buffer): string | null {
    return parseOptions(this, buf, this.optStart, this.optEnd);
  }

  readTsig(buf: Buffer): string | null {
    return parseTsig(this.tsigFields, buf, this.tsigRdata, this.tsigEnd);
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

/** Skips one resource record; returns the offset after it, or -1 when it runs past the end. */
function skipRecord(buf: Buffer, off: number): number {
  off = skipName(buf, off);
  if (off < 0 || off + 10 > buf.length) return -1;
  const end = off + 10 + buf.readUInt16BE(off + 8);
  return end <= buf.length ? end : -1;
}

/** Reads the first question into q; returns the offset after it, or -1 with q.problem set. */
function readQuestion(buf: Buffer, q: Query): number {
  // Uncompressed labels only (nothing precedes the question that a pointer could reference).
  const n = buf.length;
  let off = HEADER_LEN;
  let nameLen = 0;
  let upper = false;
  let hash = 0x811c9dc5;
  for (;;) {
    if (off >= n) return (q.problem = 'question name runs past the end'), -1;
    const len = buf[off]!;
    hash = Math.imul(hash ^ len, 0x01000193);
    if (len === 0) {
      off++;
      nameLen++;
      break;
    }
    if (len > 63) return (q.problem = 'compressed or extended label in the question'), -1;
    nameLen += len + 1;
    if (nameLen >= MAX_NAME_WIRE) return (q.problem = 'question name longer than 255 bytes'), -1;
    const end = off + 1 + len;
    if (end > n) return (q.problem = 'question label runs past the end'), -1;
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
  if (off + 4 > n) return (q.problem = 'question truncated before QTYPE/QCLASS'), -1;
  // Case-insensitive lookup on ASCII only; the question itself is echoed byte for byte (RFC 4343).
  q.setName(hash >>> 0, upper);
  q.qtype = buf.readUInt16BE(off);
  q.qclass = buf.readUInt16BE(off + 2);
  q.questionEnd = off + 4;
  q.hasQuestion = true;
  return off + 4;
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
  const qdcount = buf.readUInt16BE(4);
  const ancount = buf.readUInt16BE(6);
  const nscount = buf.readUInt16BE(8);
  const arcount = buf.readUInt16BE(10);

  // 1. Structure: walk every section so that the OPT (and TSIG) is found whatever else is wrong.
  let off = HEADER_LEN;
  if (qdcount > 0) {
    off = readQuestion(buf, q);
    if (off < 0) return fail(q, PARSE.FORMERR, q.problem);
    for (let i = 1; i < qdcount; i++) {
      off = skipName(buf, off);
      if (off < 0 || off + 4 > n) return fail(q, PARSE.FORMERR, 'a further question runs past the end');
      off += 4;
    }
  }
  // Answer and authority records are not OPT even when typed 41 (OPT lives in the additional section).
  for (let i = 0; i < ancount + nscount; i++) {
    off = skipRecord(buf, off);
    if (off < 0) return fail(q, PARSE.FORMERR, 'answer or authority record runs past the end');
  }
  // RFC 8945 §5.2: TSIG must be the last record, and there is at most one. A misplaced one is a
  // FORMERR once the walk is over (an OPT after it still counts).
  let tsigMisplaced = false;
  for (let r = 0; r < arcount; r++) {
    if (q.tsig) tsigMisplaced = true;
    const start = off;
    off = skipName(buf, off);
    if (off < 0 || off + 10 > n) return fail(q, PARSE.FORMERR, 'additional record truncated');
    const type = buf.readUInt16BE(off);
    const rdata = off + 10;
    const rdataEnd = rdata + buf.readUInt16BE(off + 8);
    if (type === TYPE.OPT) {
      // RFC 6891 §6.1.1: one OPT at most. The first one stays in force, so the FORMERR carries OPT.
      if (q.edns) return fail(q, PARSE.FORMERR, 'more than one OPT record');
      // The owner MUST be the root (§6.1.2); knot reads an OPT with another owner anyway, and so do we.
      q.setOpt(buf, off, rdata, rdataEnd);
    } else if (type === TYPE.TSIG) q.setTsig(start, rdata, rdataEnd);
    if (rdataEnd > n) return fail(q, PARSE.FORMERR, 'additional record data runs past the end');
    off = rdataEnd;
  }
  if (off !== n) return fail(q, PARSE.FORMERR, `${n - off} trailing bytes after the last record`);
  if (tsigMisplaced) return fail(q, PARSE.FORMERR, 'TSIG is not the last record of the additional section');

  // 2. EDNS version before anything that depends on its format (RFC 6891 §6.1.3).
  if (q.edns && q.ednsVersion > 0) return fail(q, PARSE.BADVERS, `EDNS version ${q.ednsVersion}`);
  // 3. Opcode: only QUERY is implemented (NOTIFY, UPDATE, DSO… are NOTIMP, as gdnsd answers).
  if (q.opcode !== 0) return fail(q, PARSE.NOTIMP, `opcode ${q.opcode}`);
  // 4. The content of a QUERY.
  if (qdcount !== 1) return fail(q, PARSE.FORMERR, `QDCOUNT ${qdcount}`);
  if (ancount !== 0 || nscount !== 0) return fail(q, PARSE.FORMERR, 'answer or authority records in a query');
  if (q.edns) {
    const problem = q.readOptions(buf);
    if (problem) return fail(q, PARSE.FORMERR, problem);
  }
  if (q.tsig) {
    const problem = q.readTsig(buf);
    if (problem) return fail(q, PARSE.FORMERR, problem);
  }
  return q;
}

function parseOptions(q: Query, buf: Buffer, off: number, end: number): string | null {
  while (off < end) {
    if (off + 4 > end) return 'EDNS option header truncated';
    const code = buf.readUInt16BE(off);
    const len = buf.readUInt16BE(off + 2);
    const data = off + 4;
    if (data + len > end) return 'EDNS option runs past the OPT record';
    // A second ECS option is ignored (knot and gdnsd accept such queries); the first one decides.
    if (code === OPT_CODE_ECS && !q.ecs) {
      const problem = parseEcs(q, buf, data, len);
      if (problem) return problem;
    }
    // Other options (COOKIE, NSID, padding, …) are not supported and, per RFC 6891 §6.1.2, ignored.
    off = data + len;
  }
  return null;
}

/** RFC 7871 §6: FAMILY, SOURCE PREFIX-LENGTH, SCOPE PREFIX-LENGTH, ADDRESS (ceil(source/8) bytes). */
function parseEcs(q: Query, buf: Buffer, data: number, len: number): string | null {
  if (len < 4) return 'ECS option shorter than 4 bytes';
  const family = buf.readUInt16BE(data);
  const source = buf[data + 2]!;
  const maxBits = family === 1 ? 32 : family === 2 ? 128 : -1;
  if (maxBits < 0) return `ECS family ${family} unsupported`;
  if (source > maxBits) return `ECS source prefix /${source} too long for the family`;
  // A non-zero SCOPE PREFIX-LENGTH in a query (§6: "MUST be set to 0") is ignored, as knot does.
  const addrLen = len - 4;
  // §6: the address must be exactly as long as the source prefix needs (knot accepts a longer one,
  // gdnsd does not; the RFC says SHOULD FORMERR). Bits set beyond the prefix are accepted, as knot
  // and gdnsd do (the RFC's SHOULD FORMERR again): they are echoed as sent and masked for the choice.
  if (addrLen !== (source + 7) >> 3) return `ECS address is ${addrLen} bytes, /${source} needs ${(source + 7) >> 3}`;
  q.ecsAddr.fill(0);
  for (let i = 0; i < addrLen; i++) q.ecsAddr[i] = buf[data + 4 + i]!;
  q.ecs = true;
  q.ecsFamily = family;
  q.ecsSource = source;
  q.ecsAddrLen = addrLen;
  return null;
}

/** RFC 8945 §4.2: the TSIG RDATA. Any field running past RDLENGTH is a FORMERR. */
function parseTsig(t: TsigFields, buf: Buffer, rdata: number, end: number): string | null {
  const key = readNameKey(buf, t.start);
  if (!key) return 'TSIG key name unreadable';
  t.keyName = key.key;
  const alg = readNameKey(buf, rdata);
  if (!alg || alg.end > end) return 'TSIG algorithm name unreadable';
  t.algorithm = alg.key;
  let off = alg.end;
  if (off + 10 > end) return 'TSIG record truncated before the MAC';
  t.timeSigned = buf.readUInt16BE(off) * 2 ** 32 + buf.readUInt32BE(off + 2);
  t.fudge = buf.readUInt16BE(off + 6);
  t.macLen = buf.readUInt16BE(off + 8);
  t.macStart = off + 10;
  off = t.macStart + t.macLen;
  if (off + 6 > end) return 'TSIG record truncated after the MAC';
  t.originalId = buf.readUInt16BE(off);
  t.error = buf.readUInt16BE(off + 2);
  t.otherLen = buf.readUInt16BE(off + 4);
  t.otherStart = off + 6;
  if (t.otherStart + t.otherLen !== end) return 'TSIG other data does not end the record';
  return null;
}

/**
 * A (possibly compressed) name as a lower-cased uncompressed wire key, following pointers backwards
 * only (so it always ends); null when unreadable. Off the hot path: TSIG names only.
 */
export function readNameKey(buf: Buffer, start: number): { key: string; end: number } | null {
  let off = start;
  let end = -1;
  let key = '';
  for (;;) {
    if (off >= buf.length) return null;
    const len = buf[off]!;
    if (len === 0) {
      key += '\x00';
      return { key, end: end < 0 ? off + 1 : end };
    }
    if ((len & 0xc0) === 0xc0) {
      if (off + 1 >= buf.length) return null;
      const target = ((len & 0x3f) << 8) | buf[off + 1]!;
      if (target >= off) return null;
      if (end < 0) end = off + 2;
      off = target;
      continue;
    }
    if ((len & 0xc0) !== 0 || off + 1 + len > buf.length) return null;
    key += asciiLower(buf.toString('latin1', off, off + 1 + len));
    if (key.length >= MAX_NAME_WIRE) return null;
    off += 1 + len;
  }
}

function asciiLower(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c >= 0x41 && c <= 0x5a ? String.fromCharCode(c + 32) : s[i];
  }
  return out;
}

/** QCLASS IN or * (ANY) and QTYPE A/AAAA: a candidate for the fast path. */
export function isAddressQuestion(q: Query): boolean {
  return (q.qclass === CLASS_IN || q.qclass === CLASS_ANY) && (q.qtype === TYPE.A || q.qtype === TYPE.AAAA);
}

/** Class IN, or QCLASS * which knot and gdnsd answer from the IN data. */
export function isInternetClass(qclass: number): boolean {
  return qclass === CLASS_IN || qclass === CLASS_ANY;
}
