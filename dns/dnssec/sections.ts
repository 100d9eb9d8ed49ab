// Writing signed RRsets into a general-path answer (MessageWriter): the RRset, then its RRSIGs. Each
// function returns the number of records written, which the caller adds to its section's count.
// RDATAs are handed in canonical form (lower-case, uncompressed names): that is what is signed, and
// writing the same bytes keeps what is sent and what is signed from ever drifting apart.
import type { ViewIndex, ZoneIndex } from '../answer/view-index.ts';
import { nameToWireKey } from '../wire/constants.ts';
import type { MessageWriter } from '../wire/writer.ts';
import type { OnlineSigner } from './online.ts';
import { DNSSEC_TYPE } from './wire.ts';
import type { ZoneKeys } from './zone-keys.ts';

/** Owner: a dotted name (compressed by the writer) or the offset of a name already written. */
type Owner = string | number;

/** The RRSIGs for an RRset (nothing when it cannot be signed: counted by the signer). */
export function writeRrsigs(w: MessageWriter, signer: OnlineSigner, zone: ZoneKeys, owner: Owner, ownerKey: string, type: number, ttl: number, originalTtl: number, rdatas: readonly Buffer[]): number {
  const sigs = signer.rrsigs(zone, ownerKey, type, originalTtl, rdatas);
  if (!sigs) return 0;
  for (const rdata of sigs.rdatas) {
    const at = w.startRr(owner, DNSSEC_TYPE.RRSIG, ttl);
    w.bytes(rdata);
    w.endRr(at);
  }
  return sigs.rdatas.length;
}

/** An RRset from canonical RDATAs, with its RRSIGs when `zone` is given (a signed zone and DO set). */
export function writeRrset(w: MessageWriter, signer: OnlineSigner | undefined, zone: ZoneKeys | null, owner: Owner, ownerKey: string, type: number, ttl: number, rdatas: readonly Buffer[]): number {
  for (const rdata of rdatas) {
    const at = w.startRr(owner, type, ttl);
    w.bytes(rdata);
    w.endRr(at);
  }
  return rdatas.length + (zone && signer ? writeRrsigs(w, signer, zone, owner, ownerKey, type, ttl, ttl, rdatas) : 0);
}

/** The zone's SOA RDATA in canonical form (what its RRSIG covers; the writer compresses the copy it sends). */
export function soaRdata(zone: ZoneIndex, index: ViewIndex): Buffer {
  const a = index.authority;
  const mname = Buffer.from(nameToWireKey(zone.mname), 'latin1');
  const rname = Buffer.from(nameToWireKey(zone.rname), 'latin1');
  const out = Buffer.alloc(mname.length + rname.length + 20);
  mname.copy(out, 0);
  rname.copy(out, mname.length);
  let off = mname.length + rname.length;
  for (const v of [index.serial, a.refresh, a.retry, a.expire, a.negativeTtl]) {
    out.writeUInt32BE(v >>> 0, off);
    off += 4;
  }
  return out;
}

/** NS RDATAs (the nameservers' names, uncompressed). */
export function nsRdatas(zone: ZoneIndex): Buffer[] {
  return zone.nameservers.map((n) => Buffer.from(nameToWireKey(n), 'latin1'));
}

/** Types the general path answers positively at a zone apex when the zone has keys. */
export function isKeySetType(qtype: number): boolean {
  return qtype === DNSSEC_TYPE.DNSKEY || qtype === DNSSEC_TYPE.CDS || qtype === DNSSEC_TYPE.CDNSKEY;
}

export function keySetRdatas(keys: ZoneKeys, qtype: number): Buffer[] {
  return qtype === DNSSEC_TYPE.DNSKEY ? keys.dnskeys : qtype === DNSSEC_TYPE.CDS ? keys.cds : keys.cdnskeys;
}
