// The whole server minus sockets: bytes of a query in, bytes of the answer out (or null: drop).
// Pure apart from counters (and the clock, read only to check and sign TSIG), so unit tests, the fuzz
// test and benchmarks run exactly the code that serves traffic, whichever socket code carries it.
//
// Order of decisions: the parser's verdict (drop / FORMERR / BADVERS / NOTIMP), then kinds of query we
// do not implement (zone transfers: NOTIMP), then TSIG (a signed query is checked before anything is
// looked up and its answer signed, or it gets NOTAUTH), then the answer itself. Every error answer
// is built by simple(), which echoes the question when it was readable and adds OPT whenever the
// query carried one (RFC 6891 §7), so no error path can forget either.
//
// Fast path: one question, class IN, type A/AAAA, a name that is one of our records, optional OPT
// with optional ECS. The answer is header + the query's question bytes + a precomputed answer
// section + OPT, written once into a right-sized buffer. Everything else (SOA, NS, negative answers,
// errors) goes through MessageWriter, which compresses names.
//
// DNSSEC (dns/dnssec/): in a zone with keys, a query with DO set gets the RRSIGs of every RRset it
// is answered with (the fast path copies them, cached per answer template, after the template), the
// apex answers DNSKEY/CDS/CDNSKEY, and negative answers use compact denial (RFC 9824). Without DO
// the bytes are exactly those of an unsigned zone.
import { CLASSIC_UDP_MAX, HEADER_LEN, RCODE, TSIG_ERROR, TYPE } from '../wire/constants.ts';
import { isAddressQuestion, isInternetClass, PARSE, parseQuery, Query } from '../wire/query.ts';
import { signAnswer, signedRecordLength, unsignedErrorRecord, type TsigKeyring, type TsigVerdict } from '../wire/tsig.ts';
import { MessageWriter, writeEcs } from '../wire/writer.ts';
import { denialNsec, typesAt } from '../dnssec/denial.ts';
import type { OnlineSigner } from '../dnssec/online.ts';
import { isKeySetType, keySetRdatas, nsRdatas, soaRdata, writeRrset, writeRrsigs } from '../dnssec/sections.ts';
import { DNSSEC_TYPE } from '../dnssec/wire.ts';
import type { ZoneKeys } from '../dnssec/zone-keys.ts';
import { choose, newChoice, type Choice, type Client, type ScopeLimits } from './choose.ts';
import type { GeoLocator } from './geo.ts';
import { maskV4 } from '../../lib/prefix-table.ts';
import { DnsStats, qtypeIndex, type ResponseReason } from './stats.ts';
import type { RecordIndex, ViewIndex, ZoneIndex } from './view-index.ts';

export type Transport = 'udp' | 'tcp';

/** Where the packet came from (used when there is no ECS). */
export interface Remote {
  family: 4 | 6;
  v4: number;
  v6: Uint8Array;
}

export interface ResponderOptions {
  geo: GeoLocator | null;
  limits: ScopeLimits;
  /** Our EDNS UDP payload size. */
  udpPayloadSize: number;
  stats?: DnsStats;
  /** Keys for TSIG-signed queries; without any, a signed query gets NOTAUTH/BADKEY (RFC 8945 §5.2.1). */
  tsigKeys?: TsigKeyring;
  /** Milliseconds since the epoch (TSIG time checks and signatures); Date.now by default. */
  now?: () => number;
  /** Online signing for the zones that have keys; absent: no zone is signed. */
  dnssec?: OnlineSigner;
  /** Called for every steered answer when set (debug logging). */
  onDecision?: (q: Query, rec: RecordIndex, choice: Choice) => void;
}

const FLAG_QR = 0x8000;
const FLAG_AA = 0x0400;
const FLAG_TC = 0x0200;
/**
 * RD is copied from the query (RFC 1035 §4.1.1). CD only by a security-aware server (RFC 4035
 * §3.1.6): when DNSSEC is configured; otherwise it is cleared, as knot and gdnsd without DNSSEC do.
 */
const FLAG_RD = 0x0100;
const FLAG_CD = 0x0010;

export class Responder {
  index: ViewIndex | null = null;
  readonly stats: DnsStats;
  private readonly writer = new MessageWriter();
  private readonly choice = newChoice();
  private readonly query = new Query();
  private readonly client: Client = { family: 4, v4: 0, v6: new Uint8Array(16), prefix: 32 };
  /** Bytes kept free below the size limit for the TSIG a signed answer will get. */
  private reserve = 0;
  /** A DO+CO query answered from a signed zone (RFC 9824 §5.1): echo CO; NXDOMAIN goes in the rcode. */
  private compactOk = false;
  /** Header flags copied from the query. */
  private readonly copied: number;

  constructor(private readonly opts: ResponderOptions) {
    this.stats = opts.stats ?? new DnsStats();
    this.copied = FLAG_RD | (opts.dnssec ? FLAG_CD : 0);
  }

  /** Atomically replaces the view: queries in flight finished on the old one (single-threaded). */
  setIndex(index: ViewIndex): void {
    this.index = index;
  }

  respond(msg: Buffer, transport: Transport, remote: Remote): Buffer | null {
    const q = parseQuery(msg, this.query);
    if (q.status !== PARSE.OK) return this.reject(msg, q);
    this.compactOk = false;
    // RFC 9824 §3.5: NXNAME is a meta-type that only ever appears in an NSEC bitmap; asking for it is an error.
    if (q.qtype === DNSSEC_TYPE.NXNAME) return this.simple(msg, q, RCODE.FORMERR, 'malformed', qtypeIndex(q.qtype), false);
    // Zone transfers are not implemented: NOTIMP, as gdnsd answers (and knot for AXFR over UDP).
    if (q.qtype === TYPE.AXFR || q.qtype === TYPE.IXFR) return this.simple(msg, q, RCODE.NOTIMP, 'notimp', qtypeIndex(q.qtype), false);
    if (q.tsig) {
      // A name outside our zones is refused before the key is looked at, as knot does.
      if (this.index && zoneKeyOfQuery(this.index, q) === null) return this.simple(msg, q, RCODE.REFUSED, 'refused', qtypeIndex(q.qtype), false);
      return this.signed(msg, q, transport, remote);
    }
    return this.answer(msg, q, transport, remote);
  }

  private answer(msg: Buffer, q: Query, transport: Transport, remote: Remote): Buffer | null {
    const index = this.index;
    if (index && isAddressQuestion(q)) {
      const hit = index.byHash.get(q.nameHash);
      const rec = hit === null ? index.records.get(q.nameKey) : hit !== undefined && sameName(msg, hit.keyBytes) ? hit : undefined;
      if (rec) return this.steer(msg, q, rec, transport, remote);
    }
    return this.general(msg, q, index, transport, remote);
  }

  /**
   * A TSIG-signed query (RFC 8945 §5.2): BADKEY/BADSIG get an unsigned NOTAUTH; BADTIME a signed one;
   * a verified query its ordinary answer, signed.
   */
  private signed(msg: Buffer, q: Query, transport: Transport, remote: Remote): Buffer | null {
    const qi = qtypeIndex(q.qtype);
    const now = Math.floor((this.opts.now ?? Date.now)() / 1000);
    const verdict: TsigVerdict = this.opts.tsigKeys ? this.opts.tsigKeys.verify(msg, q, now) : { kind: 'unsigned_error', error: TSIG_ERROR.BADKEY };
    switch (verdict.kind) {
      case 'formerr':
        this.stats.countTsig('formerr');
        this.stats.malformedFormerr++;
        return this.simple(msg, q, RCODE.FORMERR, 'malformed', qi, false);
      case 'unsigned_error':
        this.stats.countTsig(verdict.error === TSIG_ERROR.BADKEY ? 'badkey' : 'badsig');
        return this.simple(msg, q, RCODE.NOTAUTH, 'tsig', qi, false, unsignedErrorRecord(q, verdict.error));
      default: {
        const error = verdict.kind === 'signed_error' ? verdict.error : 0;
        this.stats.countTsig(error ? 'badtime' : 'verified');
        this.reserve = signedRecordLength(q, error);
        let out: Buffer | null;
        try {
          out = error ? this.simple(msg, q, RCODE.NOTAUTH, 'tsig', qi, false) : this.answer(msg, q, transport, remote);
        } finally {
          this.reserve = 0;
        }
        return out && signAnswer(out, msg, q, verdict.key, error, now);
      }
    }
  }

  private limitFor(q: Query, transport: Transport): number {
    if (transport === 'tcp') return 65_535 - this.reserve;
    if (!q.edns) return CLASSIC_UDP_MAX - this.reserve;
    // RFC 6891 §6.2.5: the requestor's size, but below 512 means 512; never above what we offer.
    return Math.max(CLASSIC_UDP_MAX, Math.min(q.udpSize, this.opts.udpPayloadSize)) - this.reserve;
  }

  private setClient(q: Query, remote: Remote): void {
    const c = this.client;
    if (q.ecs && q.ecsSource > 0) {
      // RFC 7871 §7.2.1: the client subnet, not the resolver, decides.
      // Bits a client set beyond its source prefix are accepted (as knot and gdnsd do) but not used.
      const a = q.ecsAddr;
      if (q.ecsFamily === 1) {
        c.family = 4;
        c.v4 = maskV4(((a[0]! << 24) | (a[1]! << 16) | (a[2]! << 8) | a[3]!) >>> 0, q.ecsSource);
      } else {
        c.family = 6;
        c.v6.set(a);
        maskV6(c.v6, q.ecsSource);
      }
      c.prefix = q.ecsSource;
    } else {
      // No ECS, or SOURCE PREFIX-LENGTH 0 (the client opted out): the resolver's own address.
      c.family = remote.family;
      if (remote.family === 4) c.v4 = remote.v4;
      else c.v6.set(remote.v6);
      c.prefix = remote.family === 4 ? 32 : 128;
    }
  }

  /** The hot case: A/AAAA at one of our load-balanced names. */
  private steer(msg: Buffer, q: Query, rec: RecordIndex, transport: Transport, remote: Remote, qi = qtypeIndex(q.qtype)): Buffer | null {
    this.setClient(q, remote);
    const choice = choose(rec, q.qtype, this.client, this.opts.geo, this.opts.limits, this.choice);
    this.opts.onDecision?.(q, rec, choice);
    const set = choice.set;
    if (!set) {
      // no_address: NODATA. no_healthy_origin: SERVFAIL — we will not hand out an origin we know is down.
      const zone = this.index!.zones.get(zoneKeyOf(this.index!, q.nameKey)!) ?? null;
      if (choice.reason === 'no_address' && zone) return this.negative(msg, q, zone, RCODE.NOERROR, transport, choice.reason, qi);
      return this.simple(msg, q, RCODE.SERVFAIL, choice.reason, qi, true);
    }
    const tpl = set.templates[choice.slot]!;
    // The signature covers the RRset (owner, type, TTL, addresses), never the client: every subnet
    // handed the same addresses shares it, and the ECS scope below is the steering's, unchanged.
    const dnssec = this.opts.dnssec;
    const sigs = q.dnssecOk && dnssec ? dnssec.templateRrsigs(tpl, rec.key, rec.ttl, q.qtype, () => zoneKeyOf(this.index!, rec.key)) : null;
    const sigLen = sigs ? sigs.rrs.length : 0;
    const ecsScope = q.ecs ? (q.ecsSource === 0 ? 0 : choice.scope) : 0;
    const optLen = q.edns ? 11 + (q.ecs ? 8 + q.ecsAddrLen : 0) : 0;
    const qEnd = q.questionEnd;
    let size = qEnd + tpl.length + sigLen + optLen;
    let answers = set.counts[choice.slot]! + (sigs ? sigs.count : 0);
    let flags = FLAG_QR | FLAG_AA | (q.flags & this.copied);
    if (size > this.limitFor(q, transport)) {
      // RFC 2181 §9: a partial RRset would mislead; send none, set TC, the client retries over TCP.
      flags |= FLAG_TC;
      size -= tpl.length + sigLen;
      answers = 0;
      this.stats.truncated++;
    }
    const out = Buffer.allocUnsafe(size);
    out.writeUInt16BE(q.id, 0);
    out.writeUInt16BE(flags, 2);
    out.writeUInt16BE(1, 4);
    out.writeUInt16BE(answers, 6);
    out.writeUInt16BE(0, 8);
    out.writeUInt16BE(q.edns ? 1 : 0, 10);
    // Byte loops: for a few dozen bytes they beat Buffer#copy's native call.
    for (let i = HEADER_LEN; i < qEnd; i++) out[i] = msg[i]!;
    let off = qEnd;
    if (answers > 0) {
      for (let i = 0; i < tpl.length; i++) out[off + i] = tpl[i]!;
      off += tpl.length;
      if (sigs) {
        sigs.rrs.copy(out, off);
        off += sigLen;
      }
    }
    if (q.edns) {
      out[off] = 0;
      out.writeUInt16BE(TYPE.OPT, off + 1);
      out.writeUInt16BE(this.opts.udpPayloadSize, off + 3);
      out[off + 5] = 0;
      out[off + 6] = 0;
      out.writeUInt16BE(q.dnssecOk ? (sigs && q.compactOk ? 0xc000 : 0x8000) : 0, off + 7);
      out.writeUInt16BE(q.ecs ? 8 + q.ecsAddrLen : 0, off + 9);
      if (q.ecs) writeEcs(out, off + 11, q, ecsScope);
    }
    this.stats.count(qi, RCODE.NOERROR, choice.reason);
    return out;
  }

  private reject(msg: Buffer, q: Query): Buffer | null {
    const qi = q.hasQuestion ? qtypeIndex(q.qtype) : 6;
    switch (q.status) {
      case PARSE.DROP:
        this.stats.malformedDropped++;
        return null;
      case PARSE.FORMERR:
        this.stats.malformedFormerr++;
        return this.simple(msg, q, RCODE.FORMERR, 'malformed', qi, false);
      case PARSE.NOTIMP:
        return this.simple(msg, q, RCODE.NOTIMP, 'notimp', qi, false);
      default:
        // BADVERS (RFC 6891 §6.1.3): extended RCODE 16 = OPT's upper 8 bits 1, header RCODE 0.
        return this.simple(msg, q, RCODE.BADVERS, 'badvers', qi, false);
    }
  }

  /**
   * The one builder of error answers (FORMERR, NOTIMP, BADVERS, REFUSED, SERVFAIL, NOTAUTH): header
   * with the query's opcode, the question when it was readable (knot and gdnsd echo it for every
   * code), OPT whenever the query carried one, then `trailer` (an unsigned TSIG) last.
   */
  private simple(msg: Buffer, q: Query, rcode: number, reason: ResponseReason, qi: number, aa: boolean, trailer?: Buffer): Buffer {
    const w = this.writer;
    w.reset();
    if (q.hasQuestion) w.question(msg, q);
    if (q.edns) w.opt(q, this.opts.udpPayloadSize, rcode >> 4, q.ecs ? 0 : null);
    if (trailer) w.record(trailer);
    const flags = FLAG_QR | (q.opcode << 11) | (aa ? FLAG_AA : 0) | (q.flags & this.copied) | (rcode & 0xf);
    this.stats.count(qi, rcode, reason);
    return w.finish(q.id, flags, q.hasQuestion ? 1 : 0);
  }

  private general(msg: Buffer, q: Query, index: ViewIndex | null, transport: Transport, remote: Remote): Buffer | null {
    const qi = qtypeIndex(q.qtype);
    if (!index) return this.simple(msg, q, RCODE.SERVFAIL, 'no_view', qi, false);
    const zoneKey = zoneKeyOfQuery(index, q);
    // Not ours (or not class IN/ANY): REFUSED without AA, as an authority-only server should.
    if (zoneKey === null) return this.simple(msg, q, RCODE.REFUSED, 'refused', qi, false);
    const zone = index.zones.get(zoneKey)!;
    const rec = index.records.get(q.nameKey);
    if (q.qtype === TYPE.ANY && rec) {
      // RFC 8482: answer ANY with one RRset — the steered A (or AAAA when there is no IPv4).
      q.qtype = rec.origins.some((o) => o.v4.length > 0) ? TYPE.A : TYPE.AAAA;
      const out = this.steer(msg, q, rec, transport, remote, qi);
      return out ? patchQtypeAny(out, q) : out;
    }
    const apex = q.nameKey === zone.key;
    const w = this.writer;
    // A zone with keys publishes its DNSKEY set to everyone; RRSIGs and NSECs go only to DO queries.
    const dnssec = this.opts.dnssec;
    const keys = dnssec ? dnssec.zone(zoneKey) : null;
    const signed = q.dnssecOk ? keys : null;
    this.compactOk = q.compactOk && signed !== null;
    const a = index.authority;
    if (apex && (q.qtype === TYPE.SOA || q.qtype === TYPE.ANY)) {
      w.reset();
      w.question(msg, q);
      this.soa(w, zone, index, a.soaTtl, HEADER_LEN);
      w.an++;
      if (signed) w.an += writeRrsigs(w, dnssec!, signed, HEADER_LEN, zone.key, TYPE.SOA, a.soaTtl, a.soaTtl, [soaRdata(zone, index)]);
      return this.finishPositive(msg, q, transport, 'authority', qi);
    }
    if (apex && q.qtype === TYPE.NS) {
      w.reset();
      w.question(msg, q);
      for (const ns of zone.nameservers) {
        const at = w.startRr(HEADER_LEN, TYPE.NS, a.nsTtl);
        w.name(ns);
        w.endRr(at);
        w.an++;
      }
      if (signed) w.an += writeRrsigs(w, dnssec!, signed, HEADER_LEN, zone.key, TYPE.NS, a.nsTtl, a.nsTtl, nsRdatas(zone));
      // In-zone nameserver addresses (glue) in the additional section — authoritative data of this
      // zone, so signed like any other RRset (RFC 4035 §3.1.1).
      for (const ns of zone.nameservers) {
        const nsKey = nameKeyOf(ns);
        const glue = zone.glue.get(nsKey);
        if (!glue) continue;
        for (const list of [glue.v4, glue.v6]) {
          if (list.length === 0) continue;
          w.ar += writeRrset(w, dnssec, signed, ns, nsKey, list[0]!.length === 4 ? TYPE.A : TYPE.AAAA, a.nsTtl, list.map((x) => Buffer.from(x)));
        }
      }
      return this.finishPositive(msg, q, transport, 'authority', qi);
    }
    if (apex && keys && isKeySetType(q.qtype) && keySetRdatas(keys, q.qtype).length > 0) {
      w.reset();
      w.question(msg, q);
      w.an += writeRrset(w, dnssec, signed, HEADER_LEN, zone.key, q.qtype, dnssec!.dnskeyTtl, keySetRdatas(keys, q.qtype));
      return this.finishPositive(msg, q, transport, 'authority', qi);
    }
    const glue = zone.glue.get(q.nameKey);
    if (glue && (q.qtype === TYPE.A || q.qtype === TYPE.AAAA)) {
      const list = q.qtype === TYPE.A ? glue.v4 : glue.v6;
      if (list.length > 0) {
        w.reset();
        w.question(msg, q);
        w.an += writeRrset(w, dnssec, signed, HEADER_LEN, q.nameKey, q.qtype, a.nsTtl, list.map((x) => Buffer.from(x)));
        return this.finishPositive(msg, q, transport, 'authority', qi);
      }
    }
    if (signed && q.qtype === DNSSEC_TYPE.NSEC) {
      // The NSEC a denial would carry, asked for directly: answer it (listing NSEC, it cannot deny NSEC).
      w.reset();
      w.question(msg, q);
      w.an += this.denialNsec(w, q, zone, signed, zone.names.has(q.nameKey));
      return this.finishPositive(msg, q, transport, 'authority', qi);
    }
    if (zone.names.has(q.nameKey)) return this.negative(msg, q, zone, RCODE.NOERROR, transport, 'nodata', qi);
    return this.negative(msg, q, zone, RCODE.NXDOMAIN, transport, 'nxdomain', qi);
  }

  private soa(w: MessageWriter, zone: ZoneIndex, index: ViewIndex, ttl: number, owner: string | number): void {
    const a = index.authority;
    const at = w.startRr(owner, TYPE.SOA, ttl);
    w.name(zone.mname);
    w.name(zone.rname);
    w.u32(index.serial);
    w.u32(a.refresh);
    w.u32(a.retry);
    w.u32(a.expire);
    w.u32(a.negativeTtl);
    w.endRr(at);
  }

  /**
   * NXDOMAIN or NODATA: the zone's SOA in authority, TTL min(SOA TTL, MINIMUM) (RFC 2308 §3). In a
   * signed zone with DO set, compact denial (RFC 9824): the SOA's RRSIG and one NSEC at the query name
   * with its RRSIG; a nonexistent name is then NOERROR (NXDOMAIN only to a CO requester, §5.1).
   */
  private negative(msg: Buffer, q: Query, zone: ZoneIndex, rcode: number, transport: Transport, reason: ResponseReason, qi: number): Buffer {
    const index = this.index!;
    const a = index.authority;
    const w = this.writer;
    const negTtl = Math.min(a.soaTtl, a.negativeTtl);
    const dnssec = this.opts.dnssec;
    const signed = q.dnssecOk && dnssec ? dnssec.zone(zone.key) : null;
    w.reset();
    w.question(msg, q);
    this.soa(w, zone, index, negTtl, zone.name);
    w.ns++;
    if (signed) {
      w.ns += writeRrsigs(w, dnssec!, signed, zone.name, zone.key, TYPE.SOA, negTtl, a.soaTtl, [soaRdata(zone, index)]);
      w.ns += this.denialNsec(w, q, zone, signed, rcode !== RCODE.NXDOMAIN);
      this.compactOk = q.compactOk;
      if (rcode === RCODE.NXDOMAIN && !q.compactOk) rcode = RCODE.NOERROR;
    }
    return this.finishPositive(msg, q, transport, reason, qi, rcode);
  }

  /** The compact-denial NSEC at the query name (and its RRSIGs): NODATA when the name exists, else NXNAME. */
  private denialNsec(w: MessageWriter, q: Query, zone: ZoneIndex, keys: ZoneKeys, exists: boolean): number {
    const a = this.index!.authority;
    const ttl = Math.min(a.soaTtl, a.negativeTtl); // RFC 9077: the NSEC TTL is that of the negative answer
    const types = exists ? typesAt(zone, keys, q.nameKey, this.index!.records.get(q.nameKey)) : [];
    // Asked for the NSEC itself (qtype NSEC): nothing is denied, so nothing leaves the bitmap.
    const rdata = denialNsec(exists ? 'nodata' : 'nxname', q.nameKey, q.qtype === DNSSEC_TYPE.NSEC ? 0 : q.qtype, types);
    return writeRrset(w, this.opts.dnssec, keys, HEADER_LEN, q.nameKey, DNSSEC_TYPE.NSEC, ttl, [rdata]);
  }

  /** Adds OPT, applies the size limit (TC + empty sections when it does not fit), builds the message. */
  private finishPositive(_msg: Buffer, q: Query, transport: Transport, reason: ResponseReason, qi: number, rcode: number = RCODE.NOERROR): Buffer {
    const w = this.writer;
    const optLen = q.edns ? 11 + (q.ecs ? 8 + q.ecsAddrLen : 0) : 0;
    let flags = FLAG_QR | FLAG_AA | (q.flags & this.copied) | rcode;
    if (w.off + optLen > this.limitFor(q, transport)) {
      flags |= FLAG_TC;
      w.off = q.questionEnd;
      w.an = w.ns = w.ar = 0;
      this.stats.truncated++;
    }
    // Not tailored to the client subnet: scope 0 (RFC 7871 §7.2.1).
    if (q.edns) w.opt(q, this.opts.udpPayloadSize, 0, q.ecs ? 0 : null, this.compactOk);
    this.stats.count(qi, rcode, reason);
    return w.finish(q.id, flags, 1);
  }
}

/** Zeroes the bits of a 16-byte address beyond `prefix`, in place. */
function maskV6(bytes: Uint8Array, prefix: number): void {
  const full = prefix >> 3;
  if (full < 16) {
    if (prefix & 7) bytes[full] = bytes[full]! & (0xff << (8 - (prefix & 7)));
    bytes.fill(0, (prefix + 7) >> 3);
  }
}

/** The query's qname (at offset 12) equals a lower-case wire name, ASCII case-insensitively. */
function sameName(msg: Buffer, key: Buffer): boolean {
  if (msg.length < HEADER_LEN + key.length) return false;
  for (let i = 0; i < key.length; i++) {
    let c = msg[HEADER_LEN + i]!;
    if (c >= 0x41 && c <= 0x5a) c += 32;
    if (c !== key[i]) return false;
  }
  return true;
}

/** The zone a question belongs to: class IN (or *) and a name at or below one of our apexes; else null. */
function zoneKeyOfQuery(index: ViewIndex, q: Query): string | null {
  return isInternetClass(q.qclass) ? zoneKeyOf(index, q.nameKey) : null;
}

/** Closest enclosing zone of a wire key, or null (walks up label by label). */
export function zoneKeyOf(index: ViewIndex, key: string): string | null {
  let k = key;
  for (;;) {
    if (index.zones.has(k)) return k;
    if (k.length <= 1) return null;
    k = k.slice(k.charCodeAt(0) + 1);
  }
}

function nameKeyOf(dotted: string): string {
  let s = '';
  for (const l of dotted.split('.')) s += String.fromCharCode(l.length) + l;
  return `${s}\x00`;
}

/** An ANY question answered with the A RRset: restore QTYPE=ANY in the echoed question. */
function patchQtypeAny(out: Buffer, q: Query): Buffer {
  out.writeUInt16BE(TYPE.ANY, q.questionEnd - 4);
  q.qtype = TYPE.ANY;
  return out;
}
