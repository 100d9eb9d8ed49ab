// Key administration shared by the CLI (`sluice dns keygen | ds | settime | keys`) and the control
// plane's /api/v1/dnssec routes: both act on a key directory that the `sluice dns` servers read (at
// start and on SIGHUP). Private keys never leave that directory: what is handed out (printed or
// served) is the public half, the DS for the parent and each key's schedule.
//
// Time values are seconds since the epoch throughout. A timing change is a value or null (unset: the
// event never happens), applied to a key's BIND metadata; the state at a moment follows from it
// (keys.ts).
import { mkdirSync } from 'node:fs';
import { parseDuration } from '../../model/primitives.ts';
import { generateKeyPair, isPublished, isSigning, isSynced, loadKeyDirectory, makeKey, normaliseZone, parseKeyTime, TIMING_FIELDS, writeKeyFiles, type DnssecKey, type KeyTiming, type TimingField } from './keys.ts';
import { dsRdata, FLAGS_KSK, FLAGS_ZSK } from './wire.ts';

export type KeyType = 'csk' | 'ksk' | 'zsk';
export const KEY_TYPES: readonly KeyType[] = ['csk', 'ksk', 'zsk'];
export type TimingChanges = Partial<Record<TimingField, number | null>>;

export const TIME_HELP = `TIME is "now", an offset from now ("+30d", "-1h", "now+2h"), UTC "YYYYMMDDHHMMSS", or "none" (unset)`;

/** Seconds, null for "none", undefined when unreadable. */
export function parseTimeArg(v: string, now: number): number | null | undefined {
  const s = v.trim();
  if (s === 'none') return null;
  if (s === 'now') return now;
  const rel = /^(?:now)?([+-])(.+)$/.exec(s);
  if (rel) {
    const ms = parseDuration(rel[2]!);
    if (ms === null) return undefined;
    return now + (rel[1] === '-' ? -1 : 1) * Math.round(ms / 1000);
  }
  return parseKeyTime(s) ?? undefined;
}

export function applyTimingChanges(timing: KeyTiming, changes: TimingChanges): void {
  for (const [field, t] of Object.entries(changes) as [TimingField, number | null | undefined][]) {
    if (t === undefined) continue;
    if (t === null) delete timing[field];
    else timing[field] = t;
  }
}

/**
 * A new P-256 key for `zone` in `dir` (made 0700 if missing), written with the private file 0600.
 * Default schedule: published and signing now, and for a KSK/CSK its CDS/CDNSKEY published now.
 */
export function generateZoneKey(dir: string, zone: string, type: KeyType, changes: TimingChanges, now: number): DnssecKey {
  const flags = type === 'zsk' ? FLAGS_ZSK : FLAGS_KSK;
  const timing: KeyTiming = { Created: now, Publish: now, Activate: now, ...(flags === FLAGS_KSK ? { SyncPublish: now } : {}) };
  applyTimingChanges(timing, changes);
  const key = makeKey(normaliseZone(zone), flags, generateKeyPair().privateKey, timing, dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeKeyFiles(key, true);
  return key;
}

/** The keys in `dir`, of one zone or all. Throws KeyFileError on any unreadable or unprotected key. */
export function keysIn(dir: string, zone?: string): DnssecKey[] {
  const all = [...loadKeyDirectory(dir).values()].flat();
  const z = zone === undefined ? undefined : normaliseZone(zone);
  return all.filter((k) => z === undefined || k.zone === z);
}

/** Key-signing keys (KSK or CSK) not yet deleted: the ones the parent may hold a DS for. */
export function dsKeys(keys: readonly DnssecKey[], now: number): DnssecKey[] {
  return keys.filter((k) => k.flags === FLAGS_KSK && !(k.timing.Delete !== undefined && k.timing.Delete <= now));
}

/** `zone. TTL IN DS tag 13 2 HEX`, the line to hand to the parent (or a trust-anchor file). */
export function dsLine(k: DnssecKey, ttl: number): string {
  const ds = dsRdata(k.zoneKey, k.rdata);
  return `${k.zone}. ${ttl} IN DS ${ds.readUInt16BE(0)} ${ds[2]} ${ds[3]} ${ds.subarray(4).toString('hex').toUpperCase()}`;
}

/** csk when the zone's keys hold no ZSK (the KSK then signs everything), as the metrics label it. */
export function keyRole(k: DnssecKey, zoneKeys: readonly DnssecKey[]): KeyType {
  if (k.flags !== FLAGS_KSK) return 'zsk';
  return zoneKeys.some((o) => o.zone === k.zone && o.flags === FLAGS_ZSK) ? 'ksk' : 'csk';
}

export interface KeyState {
  published: boolean;
  signing: boolean;
  cds_published: boolean;
}

export function keyState(k: DnssecKey, now: number): KeyState {
  return { published: isPublished(k, now), signing: isSigning(k, now), cds_published: isSynced(k, now) };
}

export function describeState(s: KeyState): string {
  const parts = [s.published ? 'published' : 'not published', s.signing ? 'signing' : 'not signing'];
  if (s.cds_published) parts.push('CDS published');
  return parts.join(', ');
}
