// Test support for DNSSEC: keys made in memory, RRSIG fields read from an answer, and a signature
// check (node:crypto verify over the RFC 4034 signed data) for records whose RDATA carries no
// compressible names (A, AAAA, NSEC, DNSKEY, CDS). SOA and NS answers are checked by real validators
// (unbound, delv) in test/dns-dnssec-*.test.ts.
import { createPublicKey, verify } from 'node:crypto';
import { generateKeyPair, makeKey, type DnssecKey, type KeyTiming } from '../dnssec/keys.ts';
import { OnlineSigner, type OnlineSignerOptions } from '../dnssec/online.ts';
import { canonicalRrset, FLAGS_KSK, FLAGS_ZSK } from '../dnssec/wire.ts';
import { nameToWireKey } from '../wire/constants.ts';
import { readName, type DecodedRr } from './packets.ts';

export interface RrsigView {
  typeCovered: number;
  algorithm: number;
  labels: number;
  originalTtl: number;
  expiration: number;
  inception: number;
  keyTag: number;
  signer: string;
  signature: Buffer;
  /** RDATA without the signature (the start of the signed data). */
  prefix: Buffer;
}

export function parseRrsig(data: Buffer): RrsigView {
  const signer = readName(data, 18);
  return {
    typeCovered: data.readUInt16BE(0),
    algorithm: data[2]!,
    labels: data[3]!,
    originalTtl: data.readUInt32BE(4),
    expiration: data.readUInt32BE(8),
    inception: data.readUInt32BE(12),
    keyTag: data.readUInt16BE(16),
    signer: signer.name,
    signature: data.subarray(signer.end),
    prefix: data.subarray(0, signer.end),
  };
}

/** Does `rrsig` (an RRSIG record) sign the RRset `covered` (records of one owner and type) with `dnskey` (a DNSKEY RDATA)? */
export function verifiesWith(rrsig: DecodedRr, covered: readonly DecodedRr[], dnskey: Buffer): boolean {
  const sig = parseRrsig(rrsig.data);
  const owner = nameToWireKey(covered[0]!.name);
  const data = Buffer.concat([sig.prefix, canonicalRrset(owner, sig.typeCovered, sig.originalTtl, covered.map((r) => Buffer.from(r.data)))]);
  const pub = dnskey.subarray(4);
  const key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: pub.subarray(0, 32).toString('base64url'), y: pub.subarray(32).toString('base64url') }, format: 'jwk' });
  return verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig.signature);
}

/** One key for `zone`, made in memory (nothing written). Timing in seconds; default: published and signing since 0. */
export function memoryKey(zone: string, role: 'csk' | 'ksk' | 'zsk' = 'csk', timing: KeyTiming = { Created: 0, Publish: 0, Activate: 0, SyncPublish: 0 }): DnssecKey {
  return makeKey(zone, role === 'zsk' ? FLAGS_ZSK : FLAGS_KSK, generateKeyPair().privateKey, timing, '/nonexistent');
}

/** A signer holding the given keys, its clock at `clock.ms` (tests move it). */
export function testSigner(keys: DnssecKey[], clock: { ms: number }, opts: OnlineSignerOptions = {}): OnlineSigner {
  const byZone = new Map<string, DnssecKey[]>();
  for (const k of keys) byZone.set(k.zone, [...(byZone.get(k.zone) ?? []), k]);
  return new OnlineSigner(byZone, { now: () => clock.ms, ...opts });
}
