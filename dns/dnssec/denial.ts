// Authenticated denial without zone walking: compact denial of existence (RFC 9824, "black lies").
// Every negative answer carries one NSEC, owned by the query name itself, whose next name is the
// query name's immediate successor ("\000.<qname>"): it covers nothing but the name, so it discloses
// no other name of the zone and can be made (and signed) on the spot for any name.
//
//   nonexistent name (§3.1)        bitmap: RRSIG NSEC NXNAME   (the name "exists" with no data;
//                                  NXNAME, meta-type 128, tells the truth to those who look)
//   existing name, no data (§3.2)  bitmap: RRSIG NSEC + the types that do exist there
//   empty non-terminal (§3.3)      bitmap: RRSIG NSEC
//
// The response code (§3, §5): NOERROR for a nonexistent name when DO is set — unless the query also
// set the Compact Answers OK flag (CO, §5.1), then NXDOMAIN with CO echoed. Queries without DO get
// the classic unsigned NXDOMAIN; no DNSSEC records at all.
import type { RecordIndex, ZoneIndex } from '../answer/view-index.ts';
import { TYPE } from '../wire/constants.ts';
import { DNSSEC_TYPE, immediateSuccessor, nsecRdata } from './wire.ts';
import type { ZoneKeys } from './zone-keys.ts';

export type DenialKind = 'nxname' | 'nodata';

/** The RR types that exist at an existing name of a signed zone (for a NODATA NSEC bitmap). */
export function typesAt(zone: ZoneIndex, keys: ZoneKeys, nameKey: string, rec: RecordIndex | undefined): number[] {
  const types: number[] = [DNSSEC_TYPE.RRSIG, DNSSEC_TYPE.NSEC];
  if (nameKey === zone.key) {
    types.push(TYPE.SOA, TYPE.NS);
    if (keys.dnskeys.length > 0) types.push(DNSSEC_TYPE.DNSKEY);
    if (keys.cds.length > 0) types.push(DNSSEC_TYPE.CDS, DNSSEC_TYPE.CDNSKEY);
  }
  if (rec) {
    // The static choice covers every tier (healthy, draining, fail-open): it is null exactly when no
    // origin could ever be answered for the family, i.e. when the type does not exist here.
    if (rec.static.a) types.push(TYPE.A);
    if (rec.static.aaaa) types.push(TYPE.AAAA);
  } else {
    const glue = zone.glue.get(nameKey);
    if (glue?.v4.length) types.push(TYPE.A);
    if (glue?.v6.length) types.push(TYPE.AAAA);
  }
  return types;
}

/**
 * The NSEC RDATA denying `qtype` at `nameKey`. The denied type is never in the bitmap, whatever the
 * caller passed: a bitmap listing the very type it denies would make the answer bogus.
 */
export function denialNsec(kind: DenialKind, nameKey: string, qtype: number, existing: readonly number[]): Buffer {
  const types = kind === 'nxname' ? [DNSSEC_TYPE.RRSIG, DNSSEC_TYPE.NSEC, DNSSEC_TYPE.NXNAME] : existing.filter((t) => t !== qtype);
  return nsecRdata(immediateSuccessor(nameKey), types);
}
