// One zone's keys as they stand at a moment: which DNSKEYs are published, which keys sign what, and
// which CDS/CDNSKEY the parent is asked to mirror. Recomputed only when the clock passes the next
// timing event of any key (keys.ts), so asking "who signs now?" on the query path is one comparison.
//
// Roles: an active ZSK (flags 256) signs the zone's data; an active KSK (flags 257) signs the DNSKEY,
// CDS and CDNSKEY RRsets. When no ZSK is active the active KSKs sign everything — that key is a CSK
// (combined signing key, RFC 6781 §3.1), the simplest setup and what `sluice dns keygen` makes by
// default. During a rollover two keys of a role can be active; each then adds its own RRSIG.
import { dsRdata, FLAGS_KSK, FLAGS_ZSK } from './wire.ts';
import { isPublished, isSigning, isSynced, nextEvent, type DnssecKey } from './keys.ts';

export class ZoneKeys {
  readonly zone: string;
  readonly zoneKey: string;
  /** Bumped whenever the signing keys change: signatures made under an older generation are re-made. */
  generation = 0;
  /** Tags of the data signers, e.g. "12345,23456" ("" when nothing signs): part of a signature's identity. */
  dataSignerId = '';
  dnskeys: Buffer[] = [];
  cds: Buffer[] = [];
  cdnskeys: Buffer[] = [];
  /** Keys that sign DNSKEY/CDS/CDNSKEY. */
  keySigners: DnssecKey[] = [];
  /** Keys that sign everything else. */
  dataSigners: DnssecKey[] = [];
  /** This zone's place in DnssecStats' per-zone expiry slots (-1: not tracked). */
  slot = -1;
  private validUntil = -Infinity;

  constructor(readonly keys: readonly DnssecKey[]) {
    this.zone = keys[0]!.zone;
    this.zoneKey = keys[0]!.zoneKey;
  }

  /** Brings the state up to `now` (seconds); cheap unless a timing event has passed. */
  at(now: number): this {
    if (now >= this.validUntil || now < this.evaluatedAt) this.evaluate(now);
    return this;
  }

  private evaluatedAt = Infinity;

  private evaluate(now: number): void {
    const published = this.keys.filter((k) => isPublished(k, now));
    const signing = published.filter((k) => isSigning(k, now));
    const ksks = signing.filter((k) => k.flags === FLAGS_KSK);
    const zsks = signing.filter((k) => k.flags === FLAGS_ZSK);
    const dataSigners = zsks.length > 0 ? zsks : ksks;
    const dataSignerId = dataSigners.map((k) => k.tag).join(',');
    const keySignerId = ksks.map((k) => k.tag).join(',');
    const dnskeys = published.map((k) => k.rdata);
    if (dataSignerId !== this.dataSignerId || keySignerId !== this.keySigners.map((k) => k.tag).join(',') || !sameSet(dnskeys, this.dnskeys)) this.generation++;
    this.dnskeys = dnskeys;
    this.keySigners = ksks;
    this.dataSigners = dataSigners;
    this.dataSignerId = dataSignerId;
    const synced = published.filter((k) => isSynced(k, now));
    this.cds = synced.map((k) => dsRdata(k.zoneKey, k.rdata));
    this.cdnskeys = synced.map((k) => k.rdata);
    this.evaluatedAt = now;
    this.validUntil = nextEvent(this.keys, now);
  }
}

function sameSet(a: Buffer[], b: Buffer[]): boolean {
  return a.length === b.length && a.every((x, i) => x.equals(b[i]!));
}
