// Makes RRSIGs (RFC 4034 §3, RFC 6605): ECDSA P-256 over SHA-256 of the RRSIG RDATA prefix followed
// by the RRset in canonical form, with node:crypto. DNSSEC wants the signature as the two 32-byte
// integers r || s (RFC 6605 §4), which is node's 'ieee-p1363' encoding (its default is DER).
//
// Validity: inception is backdated (`inception_offset`, default 1 h) so a validator whose clock runs
// behind still accepts a fresh signature; expiration is `validity` after now. Callers re-sign once
// less than `refresh_before` remains (cache.ts), so a served signature always has at least that long
// left — longer than any TTL we hand out, which keeps resolvers' cached copies valid.
import { sign } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { DnssecKey } from './keys.ts';
import type { DnssecStats } from './stats.ts';
import { canonicalRrset, labelCount, rrsigPrefix } from './wire.ts';

export interface SigningPolicy {
  /** Seconds a signature is valid after it is made. */
  validity: number;
  /** Seconds the inception is set before now (clock skew). */
  inceptionOffset: number;
  /** Re-sign when less than this many seconds of validity remain. */
  refreshBefore: number;
}

export const DEFAULT_POLICY: SigningPolicy = { validity: 7 * 86_400, inceptionOffset: 3600, refreshBefore: 2 * 86_400 };

export interface Signatures {
  /** RRSIG RDATAs, one per signing key. */
  rdatas: Buffer[];
  inception: number;
  expiration: number;
  /** After this (seconds) the signatures are re-made on their next use. */
  refreshAt: number;
}

/** Signs one RRset with every key in `keys`. `now` in seconds. */
export function signRrset(
  ownerKey: string,
  type: number,
  ttl: number,
  rdatas: readonly Buffer[],
  zoneKey: string,
  keys: readonly DnssecKey[],
  policy: SigningPolicy,
  now: number,
  stats: DnssecStats,
): Signatures {
  const inception = now - policy.inceptionOffset;
  const expiration = now + policy.validity;
  const rrset = canonicalRrset(ownerKey, type, ttl, rdatas);
  const labels = labelCount(ownerKey);
  const out: Buffer[] = [];
  for (const key of keys) {
    const prefix = rrsigPrefix({ typeCovered: type, labels, originalTtl: ttl, expiration, inception, keyTag: key.tag, signerKey: zoneKey });
    const t0 = performance.now();
    const signature = sign('sha256', Buffer.concat([prefix, rrset]), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
    stats.observeSign((performance.now() - t0) / 1000);
    out.push(Buffer.concat([prefix, signature]));
  }
  return { rdatas: out, inception, expiration, refreshAt: expiration - policy.refreshBefore };
}
