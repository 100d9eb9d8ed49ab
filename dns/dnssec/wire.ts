// DNSSEC wire forms (RFC 4034): the canonical RRset a signature covers, the RDATA of RRSIG, DNSKEY,
// DS/CDS and NSEC, the key tag and the NSEC type bitmap. Pure functions over bytes.
//
// Names here are the answering core's wire keys: lower-cased, uncompressed wire names held as latin1
// strings ("\x03app\x07example\x03com\x00"). That is already the canonical form of RFC 4034 §6.2, so
// nothing is lower-cased again, and no name inside any RDATA built here is ever compressed (§3.1.7,
// §4.1.1: the signer's name and the NSEC next name are written in full).
import { createHash } from 'node:crypto';
import { CLASS_IN } from '../wire/constants.ts';

/** RR types DNSSEC adds (RFC 4034 §7, RFC 7344, RFC 9824). */
export const DNSSEC_TYPE = { DS: 43, RRSIG: 46, NSEC: 47, DNSKEY: 48, CDS: 59, CDNSKEY: 60, NXNAME: 128 } as const;

/** ECDSA Curve P-256 with SHA-256 (RFC 6605): the only algorithm sluice signs with. */
export const ALGORITHM_ECDSAP256SHA256 = 13;
/** DS digest type SHA-256 (RFC 4509). */
export const DIGEST_SHA256 = 2;
export const DNSKEY_PROTOCOL = 3;
/** DNSKEY flags: Zone Key (bit 7) = 256; plus Secure Entry Point (bit 15) = 257, a KSK or CSK. */
export const FLAGS_ZSK = 256;
export const FLAGS_KSK = 257;

/** Number of labels in a wire key, root not counted (the RRSIG Labels field, §3.1.3; no wildcards here). */
export function labelCount(key: string): number {
  let n = 0;
  for (let i = 0; i < key.length && key.charCodeAt(i) !== 0; i += key.charCodeAt(i) + 1) n++;
  return n;
}

export function keyBytes(key: string): Buffer {
  return Buffer.from(key, 'latin1');
}

/** DNSKEY RDATA (§2.1): flags, protocol 3, algorithm, public key (for P-256: x || y, 64 bytes). */
export function dnskeyRdata(flags: number, publicKey: Buffer, algorithm = ALGORITHM_ECDSAP256SHA256): Buffer {
  const out = Buffer.alloc(4 + publicKey.length);
  out.writeUInt16BE(flags, 0);
  out[2] = DNSKEY_PROTOCOL;
  out[3] = algorithm;
  publicKey.copy(out, 4);
  return out;
}

/** The key tag of a DNSKEY RDATA (RFC 4034 Appendix B; algorithm 1 is never used here). */
export function keyTag(rdata: Buffer): number {
  let ac = 0;
  for (let i = 0; i < rdata.length; i++) ac += i & 1 ? rdata[i]! : rdata[i]! << 8;
  ac += (ac >>> 16) & 0xffff;
  return ac & 0xffff;
}

/** DS (and CDS) RDATA (RFC 4034 §5.1, RFC 4509): key tag, algorithm, digest type 2, SHA-256(owner | DNSKEY RDATA). */
export function dsRdata(ownerKey: string, dnskey: Buffer): Buffer {
  const digest = createHash('sha256').update(keyBytes(ownerKey)).update(dnskey).digest();
  const out = Buffer.alloc(4 + digest.length);
  out.writeUInt16BE(keyTag(dnskey), 0);
  out[2] = dnskey[3]!;
  out[3] = DIGEST_SHA256;
  digest.copy(out, 4);
  return out;
}

/**
 * NSEC type bitmap (RFC 4034 §4.1.2): per 256-type window that has any type, the window number,
 * the length of its bitmap (trailing zero octets dropped) and the bitmap, bit 0 = the window's type 0.
 */
export function typeBitmap(types: Iterable<number>): Buffer {
  const sorted = [...new Set(types)].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let i = 0;
  while (i < sorted.length) {
    const window = sorted[i]! >> 8;
    const bits = Buffer.alloc(32);
    let len = 0;
    for (; i < sorted.length && sorted[i]! >> 8 === window; i++) {
      const low = sorted[i]! & 0xff;
      bits[low >> 3]! |= 0x80 >> (low & 7);
      len = (low >> 3) + 1;
    }
    parts.push(Buffer.from([window, len]), bits.subarray(0, len));
  }
  return Buffer.concat(parts);
}

/** The types whose bits are set in an NSEC type bitmap (for tests and diagnostics). */
export function bitmapTypes(bitmap: Buffer): number[] {
  const types: number[] = [];
  let off = 0;
  while (off + 2 <= bitmap.length) {
    const window = bitmap[off]!;
    const len = bitmap[off + 1]!;
    for (let b = 0; b < len; b++) {
      const byte = bitmap[off + 2 + b]!;
      for (let bit = 0; bit < 8; bit++) if (byte & (0x80 >> bit)) types.push(window * 256 + b * 8 + bit);
    }
    off += 2 + len;
  }
  return types;
}

/** NSEC RDATA (§4.1): next owner name (uncompressed) and the type bitmap. */
export function nsecRdata(nextKey: string, types: Iterable<number>): Buffer {
  return Buffer.concat([keyBytes(nextKey), typeBitmap(types)]);
}

/**
 * RFC 9824 §3.1: the immediate lexicographic successor of a name, "\000.<name>" — so the NSEC at the
 * query name covers nothing but the name itself and no other name of the zone is disclosed.
 */
export function immediateSuccessor(key: string): string {
  return `\x01\x00${key}`;
}

export interface RrsigFields {
  typeCovered: number;
  labels: number;
  originalTtl: number;
  /** Seconds since the epoch (written modulo 2^32, RFC 4034 §3.1.5 serial arithmetic). */
  expiration: number;
  inception: number;
  keyTag: number;
  signerKey: string;
}

/** RRSIG RDATA without the signature (§3.1.8.1: exactly the bytes that precede the RRset in the signed data). */
export function rrsigPrefix(f: RrsigFields): Buffer {
  const signer = keyBytes(f.signerKey);
  const out = Buffer.alloc(18 + signer.length);
  out.writeUInt16BE(f.typeCovered, 0);
  out[2] = ALGORITHM_ECDSAP256SHA256;
  out[3] = f.labels;
  out.writeUInt32BE(f.originalTtl >>> 0, 4);
  out.writeUInt32BE(f.expiration >>> 0, 8);
  out.writeUInt32BE(f.inception >>> 0, 12);
  out.writeUInt16BE(f.keyTag, 16);
  signer.copy(out, 18);
  return out;
}

/**
 * The RRset in canonical form and order (RFC 4034 §6.3): each RR as owner | type | class | original
 * TTL | RDLENGTH | RDATA, sorted by RDATA as left-justified octet strings, duplicates removed (§6.3).
 */
export function canonicalRrset(ownerKey: string, type: number, ttl: number, rdatas: readonly Buffer[]): Buffer {
  const owner = keyBytes(ownerKey);
  const sorted = [...rdatas].sort(Buffer.compare).filter((r, i, all) => i === 0 || !r.equals(all[i - 1]!));
  const parts: Buffer[] = [];
  for (const rdata of sorted) {
    const fixed = Buffer.alloc(10);
    fixed.writeUInt16BE(type, 0);
    fixed.writeUInt16BE(CLASS_IN, 2);
    fixed.writeUInt32BE(ttl >>> 0, 4);
    fixed.writeUInt16BE(rdata.length, 8);
    parts.push(owner, fixed, rdata);
  }
  return Buffer.concat(parts);
}

/**
 * A key for "this RRset", independent of RR order in an answer: type, TTL and the sorted, distinct
 * RDATAs. Two steering slots that hand out the same addresses in a different order share it — and so
 * share one signature.
 */
export function rrsetContentKey(ownerKey: string, type: number, ttl: number, rdatas: readonly Buffer[]): string {
  const sorted = [...rdatas].sort(Buffer.compare);
  let s = `${ownerKey}|${type}|${ttl}`;
  for (const r of sorted) s += `|${r.toString('latin1')}`;
  return s;
}
