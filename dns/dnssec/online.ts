// Online signing for the answering core (dns/answer/respond.ts): which zones are signed, and the
// RRSIGs for any RRset an answer carries, from a cache whenever possible.
//
// Two levels of cache, both bounded:
//   - per answer template (the precomputed answer-section bytes of a steering slot, by identity): the
//     finished RRSIG records, owner compressed to the question, ready to copy. A DO query on the fast
//     path costs one WeakMap probe and two comparisons (freshness, key generation) on a hit.
//   - by RRset content (cache.ts): what a new view with the same addresses, a second slot with the
//     same address set, or any general-path answer (SOA, NS, DNSKEY, NSEC) finds already signed.
//
// When no key signs a zone any more (all inactive, a rollover gone wrong) the signatures already made
// are still served until they expire — answers stay valid for as long as they can — and the
// `next signature expiry` metric (the earliest expiration among signatures served since the last
// scrape, kept per zone with one comparison per answer) walks toward now, which is what the alert
// watches. Past that the answers go out unsigned (counted), which validators will reject: the
// operator must add a key.
import { SignatureCache, type CachedSignatures } from './cache.ts';
import type { DnssecKey } from './keys.ts';
import { DEFAULT_POLICY, signRrset, type SigningPolicy } from './signer.ts';
import { DnssecStats, ZONE_SLOTS } from './stats.ts';
import { DNSSEC_TYPE, rrsetContentKey } from './wire.ts';
import { ZoneKeys } from './zone-keys.ts';

export interface OnlineSignerOptions {
  policy?: SigningPolicy;
  /** Distinct RRsets whose signatures are kept. */
  cacheSize?: number;
  /** TTL of the DNSKEY, CDS and CDNSKEY RRsets. */
  dnskeyTtl?: number;
  /** Milliseconds since the epoch; Date.now by default (tests move the clock). */
  now?: () => number;
  stats?: DnssecStats;
}

/** The RRSIG records for one answer template, ready to copy after it. */
export interface TemplateSignatures {
  /** RRSIG RRs whose owner is a pointer to the question name (offset 12). */
  rrs: Buffer;
  count: number;
  /** Re-check after this (seconds): the signatures are due for refresh. */
  refreshAt: number;
  expiration: number;
  zone: ZoneKeys | null;
  generation: number;
  epoch: number;
}

export class OnlineSigner {
  readonly stats: DnssecStats;
  readonly policy: SigningPolicy;
  readonly dnskeyTtl: number;
  private zones = new Map<string, ZoneKeys>();
  private readonly cache: SignatureCache;
  private readonly templates = new WeakMap<Buffer, TemplateSignatures>();
  /** Bumped by setKeys: every template entry made before is re-derived. */
  private epoch = 0;
  private readonly clock: () => number;

  constructor(keysByZone: Map<string, DnssecKey[]>, opts: OnlineSignerOptions = {}) {
    this.policy = opts.policy ?? DEFAULT_POLICY;
    this.cache = new SignatureCache(opts.cacheSize ?? 100_000);
    this.dnskeyTtl = opts.dnskeyTtl ?? 3600;
    this.clock = opts.now ?? Date.now;
    this.stats = opts.stats ?? new DnssecStats();
    this.setKeys(keysByZone);
  }

  /** Installs a new key set (SIGHUP). Signatures by keys still signing stay cached and valid. */
  setKeys(keysByZone: Map<string, DnssecKey[]>): void {
    const zones = new Map<string, ZoneKeys>();
    // Sorted by name, so every thread that loaded the same directory gives a zone the same stats slot.
    const sorted = [...keysByZone.values()].filter((k) => k.length > 0).sort((a, b) => (a[0]!.zone < b[0]!.zone ? -1 : 1));
    sorted.forEach((keys, i) => {
      const z = new ZoneKeys(keys);
      z.slot = i < ZONE_SLOTS ? i : -1;
      zones.set(z.zoneKey, z);
    });
    this.zones = zones;
    this.epoch++;
  }

  now(): number {
    return Math.floor(this.clock() / 1000);
  }

  /** The zone's keys at this moment, or null when the zone is not signed (no keys at all). */
  zone(zoneKey: string): ZoneKeys | null {
    const z = this.zones.get(zoneKey);
    return z ? z.at(this.now()) : null;
  }

  zoneList(): ZoneKeys[] {
    const now = this.now();
    return [...this.zones.values()].map((z) => z.at(now));
  }

  /**
   * RRSIG RDATAs for an RRset of a signed zone; `keySet` for DNSKEY/CDS/CDNSKEY (signed by the KSKs).
   * Null when nothing can sign it and no still-valid signature is cached.
   */
  rrsigs(zone: ZoneKeys, ownerKey: string, type: number, ttl: number, rdatas: readonly Buffer[]): CachedSignatures | null {
    const now = this.now();
    zone.at(now);
    const keySet = type === DNSSEC_TYPE.DNSKEY || type === DNSSEC_TYPE.CDS || type === DNSSEC_TYPE.CDNSKEY;
    const signers = keySet ? zone.keySigners : zone.dataSigners;
    const signerId = keySet ? `k:${signers.map((k) => k.tag).join(',')}` : zone.dataSignerId;
    const key = rrsetContentKey(ownerKey, type, ttl, rdatas);
    const cached = this.cache.get(key);
    if (cached && cached.signerId === signerId && now < cached.refreshAt && now >= cached.inception) {
      this.stats.hit();
      return this.served(zone, cached);
    }
    if (signers.length === 0) {
      if (cached && now < cached.expiration) {
        this.stats.hit();
        return this.served(zone, cached);
      }
      this.stats.unsigned();
      return null;
    }
    this.stats.miss();
    const sigs = signRrset(ownerKey, type, ttl, rdatas, zone.zoneKey, signers, this.policy, now, this.stats);
    const entry = this.cache.set(key, sigs, signerId);
    this.stats.cacheEntries = this.cache.size;
    return this.served(zone, entry);
  }

  /**
   * Fast path: the RRSIGs for a steering answer template (RRs of `qtype` with the owner as a pointer
   * to offset 12, as view-index.ts builds them). `zoneOf` is called only on a miss.
   */
  templateRrsigs(template: Buffer, ownerKey: string, ttl: number, qtype: number, zoneOf: () => string | null): TemplateSignatures | null {
    const e = this.templates.get(template);
    if (e !== undefined && e.epoch === this.epoch) {
      if (e.zone === null) return null; // not a signed zone
      const now = this.now();
      if (now < e.refreshAt && e.zone.at(now).generation === e.generation) {
        this.stats.hit();
        return this.served(e.zone, e);
      }
    }
    const zoneKey = zoneOf();
    const zone = zoneKey === null ? null : this.zone(zoneKey);
    if (zone === null) {
      this.templates.set(template, { rrs: EMPTY, count: 0, refreshAt: Infinity, expiration: Infinity, zone: null, generation: 0, epoch: this.epoch });
      return null;
    }
    const sigs = this.rrsigs(zone, ownerKey, qtype, ttl, templateRdatas(template));
    if (!sigs) return null;
    const entry: TemplateSignatures = {
      rrs: rrsigRecords(sigs.rdatas, ttl),
      count: sigs.rdatas.length,
      // A stale-but-valid signature (nothing signs the zone) is re-checked on every use.
      refreshAt: sigs.signerId === zone.dataSignerId ? sigs.refreshAt : 0,
      expiration: sigs.expiration,
      zone,
      generation: zone.generation,
      epoch: this.epoch,
    };
    this.templates.set(template, entry);
    return entry;
  }

  /**
   * Per zone, the earliest expiration among the signatures served since the last call (then reset),
   * by this signer and by those whose stats are in `others` (serving threads with their own signer).
   */
  takeServedExpiries(others: readonly DnssecStats[] = []): Map<string, number> {
    const out = new Map<string, number>();
    for (const z of this.zones.values()) {
      if (z.slot < 0) continue;
      let min = Infinity;
      for (const st of [this.stats, ...others]) {
        const t = st.takeExpiry(z.slot);
        if (t > 0 && t < min) min = t;
      }
      if (min !== Infinity) out.set(z.zone, min);
    }
    return out;
  }

  private served<T extends { expiration: number }>(zone: ZoneKeys, sigs: T): T {
    this.stats.served(zone.slot, sigs.expiration);
    return sigs;
  }
}

const EMPTY = Buffer.alloc(0);

/** The RDATAs of a template's RRs (fixed layout: pointer, type, class, TTL, RDLENGTH, RDATA). */
export function templateRdatas(template: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let off = 0;
  while (off + 12 <= template.length) {
    const len = template.readUInt16BE(off + 10);
    out.push(template.subarray(off + 12, off + 12 + len));
    off += 12 + len;
  }
  return out;
}

/** RRSIG RRs with the owner as a pointer to the question name. */
export function rrsigRecords(rdatas: readonly Buffer[], ttl: number): Buffer {
  const parts: Buffer[] = [];
  for (const rdata of rdatas) {
    const head = Buffer.alloc(12);
    head.writeUInt16BE(0xc00c, 0);
    head.writeUInt16BE(DNSSEC_TYPE.RRSIG, 2);
    head.writeUInt16BE(1, 4);
    head.writeUInt32BE(ttl >>> 0, 6);
    head.writeUInt16BE(rdata.length, 10);
    parts.push(head, rdata);
  }
  return Buffer.concat(parts);
}
