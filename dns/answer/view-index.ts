// Turns a DnsView (what the control plane publishes) into an immutable, query-ready index: per name a
// record with its origins' addresses as bytes, and every weighted choice precomputed as a cumulative
// line plus the answer-section bytes for each possible first origin. A query then only hashes, picks
// a slot and copies bytes. A new view builds a new index off to the side; the server swaps one
// reference, so a query never sees half of an update.
import { isIP } from 'node:net';
import type { DnsRecordView, DnsView, OriginView, WeightMap } from '../../model/views.ts';
import { ipToBytes, parseCidr, type Location } from '../../model/primitives.ts';
import { nameToWireKey, TYPE, CLASS_IN } from '../wire/constants.ts';
import { fnv1aString } from './hash.ts';
import { LearnedTable } from './learned-table.ts';
import type { CompactSubnets } from '../../model/view-changes.ts';
import { forEachCompact } from '../../model/view-codec.ts';

export interface OriginEntry {
  id: string;
  region: string;
  location: Location;
  healthy: boolean;
  adminState: OriginView['admin_state'];
  staticWeight: number;
  priority: number;
  v4: Uint8Array[];
  v6: Uint8Array[];
}

/** One weighted choice among origins for one address family. */
export interface ChoiceSet {
  /** Origin index (into RecordIndex.origins) per slot, in fixed line order (origin id). */
  slots: number[];
  /** Cumulative normalised weights per slot; the last is 1. */
  cum: Float64Array;
  /** Answer-section bytes (RRs with the name as a pointer to the question) when the slot's origin is first. */
  templates: Buffer[];
  /** Number of RRs in each template. */
  counts: number[];
  /** More than one slot can be chosen: the answer depends on the hash of the subnet. */
  multi: boolean;
}

export interface FamilySets {
  a: ChoiceSet | null;
  aaaa: ChoiceSet | null;
}

export type { LearnedHit as LearnedEntry } from './learned-table.ts';
export { NESTED_SCAN_MAX } from './learned-table.ts';

export interface RecordIndex {
  hostname: string;
  key: string;
  /** The lower-cased wire name as bytes (verifies a hash hit against the query's name). */
  keyBytes: Buffer;
  loadBalancerId: string;
  ttl: number;
  answers: number;
  policy: DnsRecordView['policy'];
  origins: OriginEntry[];
  seed: number;
  /** Learned networks -> choice ids (learned-table.ts). */
  learned: LearnedTable;
  /** Longest learned prefix per family: a non-learned answer must not be cached over a learned subnet. */
  learnedLongest4: number;
  learnedLongest6: number;
  /** Healthy, active origins for geolocation (slot order = static weight, for the answers after the first). */
  geo: FamilySets;
  static: FamilySets;
  /** Some origin is healthy and not disabled (whatever its address family). */
  anyUsable: boolean;
  /** 'no_healthy_origin' when the static choice is the fail-open one. */
  staticReason: 'static' | 'no_healthy_origin';
  /** Every client gets the same answer for this type (nothing learned, one possible origin): ECS scope 0. */
  uniform: { a: boolean; aaaa: boolean };
  /**
   * The id (in `learned.choices`) of the precomputed choice for a learned weight map (identical maps
   * share one), or -1 when nothing in it is usable; kept so that a delta (view-index-update.ts) adds
   * subnets without a rebuild.
   */
  learnedChoice(weights: WeightMap, cidrText: string, warnings: string[]): number;
  /**
   * learnedChoice of a weight map given as its JSON text (how a cluster primary sends a delta's maps,
   * view-index-update.ts ParsedSubnets.mapTexts): a text seen before is one lookup, with no object to
   * deserialise and no canonical key to build; equal texts are equal maps, so the choice is the same.
   * Throws when the text is not a JSON object.
   */
  learnedChoiceOfText(text: string, cidrText: string, warnings: string[]): number;
}

export interface Authority {
  primaryNs: string | undefined;
  hostmaster: string | undefined;
  nameservers: { name: string; addresses: string[] }[];
  soaTtl: number;
  nsTtl: number;
  negativeTtl: number;
  refresh: number;
  retry: number;
  expire: number;
}

export interface ZoneIndex {
  name: string;
  key: string;
  mname: string;
  rname: string;
  nameservers: string[];
  /** Names that exist in the zone (records, apex, glue names and empty non-terminals), as wire keys. */
  names: Set<string>;
  /** Static addresses for nameserver names inside the zone (glue). */
  glue: Map<string, { v4: Uint8Array[]; v6: Uint8Array[] }>;
}

export interface ViewIndex {
  version: string;
  weightsVersion: number | null;
  serial: number;
  records: Map<string, RecordIndex>;
  /** Fast path: FNV-1a of the lower-cased wire name -> record; null marks a hash shared by two names. */
  byHash: Map<number, RecordIndex | null>;
  zones: Map<string, ZoneIndex>;
  authority: Authority;
  /** Problems found in the view (skipped entries); logged by the caller. */
  warnings: string[];
}

const MAX_TTL = 0x7fffffff;
/** Learned subnets indexed between two calls of the `pace` hook. */
export const PACE_EVERY = 128;

/**
 * `pace`: called every PACE_EVERY learned subnets and after each record. A server that builds the
 * index on the thread that answers queries (dns/server/udp-batched) answers what is queued meanwhile
 * (from the index still installed), so a large view never holds queries back for the whole build.
 */
export function buildViewIndex(view: DnsView, authority: Authority, installedAt = Date.now(), pace?: () => void, tables?: LearnedTables): ViewIndex {
  const warnings: string[] = [];
  const records = new Map<string, RecordIndex>();
  const zones = new Map<string, ZoneIndex>();
  for (let zi = 0; zi < view.zones.length; zi++) {
    const zone = view.zones[zi]!;
    const zoneName = normalise(zone.zone);
    const zoneKey = nameToWireKey(zoneName);
    if (zones.has(zoneKey)) {
      warnings.push(`zone ${zoneName} appears twice; records merged`);
    }
    const z = zones.get(zoneKey) ?? makeZone(zoneName, zoneKey, authority);
    zones.set(zoneKey, z);
    for (let ri = 0; ri < zone.records.length; ri++) {
      const rv = zone.records[ri]!;
      const host = normalise(rv.hostname);
      if (host !== zoneName && !host.endsWith(`.${zoneName}`)) {
        warnings.push(`record ${host} is outside zone ${zoneName}; skipped`);
        continue;
      }
      const key = nameToWireKey(host);
      if (records.has(key)) {
        warnings.push(`record ${host} appears twice; the first wins`);
        continue;
      }
      records.set(key, buildRecord(rv, host, key, warnings, pace, tables?.[zi]?.[ri]));
      addNameAndParents(z, host);
      pace?.();
    }
  }
  const numeric = /^\d+$/.test(view.version) ? Number(view.version) : NaN;
  // SOA serial: the view version when it is a number, else the install time; either way it moves
  // forward when the published data changes.
  const serial = Number.isSafeInteger(numeric) ? numeric % 0x100000000 : Math.floor(installedAt / 1000) % 0x100000000;
  const byHash = new Map<number, RecordIndex | null>();
  for (const rec of records.values()) {
    const h = fnv1aString(rec.key);
    byHash.set(h, byHash.has(h) ? null : rec);
  }
  return { version: view.version, weightsVersion: view.weights_version, serial, records, byHash, zones, authority, warnings };
}

function normalise(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

function makeZone(name: string, key: string, a: Authority): ZoneIndex {
  const nsList = a.nameservers.length > 0 ? a.nameservers : [{ name: a.primaryNs ?? `ns1.${name}`, addresses: [] }];
  const mname = a.primaryNs ?? nsList[0]!.name;
  const rname = hostmasterToName(a.hostmaster ?? `hostmaster.${name}`);
  const z: ZoneIndex = { name, key, mname, rname, nameservers: nsList.map((n) => normalise(n.name)), names: new Set([key]), glue: new Map() };
  for (const ns of nsList) {
    const nsName = normalise(ns.name);
    if (nsName !== name && !nsName.endsWith(`.${name}`)) continue; // out-of-zone NS: no glue to serve
    const glue = { v4: [] as Uint8Array[], v6: [] as Uint8Array[] };
    for (const addr of ns.addresses) (isIP(addr) === 4 ? glue.v4 : glue.v6).push(ipToBytes(addr)!);
    z.glue.set(nameToWireKey(nsName), glue);
    addNameAndParents(z, nsName);
  }
  return z;
}

/** "hostmaster@example.com" -> "hostmaster.example.com" (a dot in the local part would need escaping; we replace it). */
function hostmasterToName(h: string): string {
  const at = h.indexOf('@');
  if (at < 0) return normalise(h);
  return `${h.slice(0, at).replace(/\./g, '-')}.${normalise(h.slice(at + 1))}`;
}

/** The name and its ancestors up to the apex exist (RFC 8020: empty non-terminals are NODATA, not NXDOMAIN). */
function addNameAndParents(z: ZoneIndex, host: string): void {
  let name = host;
  while (name.length > z.name.length) {
    z.names.add(nameToWireKey(name));
    const dot = name.indexOf('.');
    if (dot < 0) break;
    name = name.slice(dot + 1);
  }
}

/**
 * The learned subnets of each record (by zone and record position) in the compact table that carried
 * them (model/view-changes.ts), for a view whose records' `subnets` are left empty: a serving process
 * indexes a million subnets from two arrays instead of first building an object with a million keys
 * (~100 MB of heap per thread at 1M, measured, and its garbage).
 */
export type LearnedTables = readonly (readonly (CompactSubnets | undefined)[] | undefined)[];

/** `table`: this record's learned subnets in compact form (LearnedTables), read instead of rv.subnets. */
export function buildRecord(rv: DnsRecordView, host: string, key: string, warnings: string[], pace: (() => void) | undefined, table?: CompactSubnets): RecordIndex {
  const origins: OriginEntry[] = rv.origins.map((o) => {
    const v4: Uint8Array[] = [];
    const v6: Uint8Array[] = [];
    for (const addr of o.addresses) {
      const fam = isIP(addr);
      if (fam === 4) v4.push(ipToBytes(addr)!);
      else if (fam === 6) v6.push(ipToBytes(addr)!);
      else warnings.push(`origin ${o.id} of ${host}: "${addr}" is not an IP address; skipped`);
    }
    return {
      id: o.id,
      region: o.region,
      location: o.location,
      healthy: o.healthy,
      adminState: o.admin_state,
      staticWeight: Number.isFinite(o.static_weight) && o.static_weight > 0 ? o.static_weight : 0,
      priority: o.priority,
      v4,
      v6,
    };
  });
  const ttl = Math.max(0, Math.min(MAX_TTL, Math.trunc(rv.ttl)));
  const answers = Math.max(1, Math.min(64, Math.trunc(rv.answers)));
  const rec: RecordIndex = {
    hostname: host,
    key,
    keyBytes: Buffer.from(key, 'latin1'),
    loadBalancerId: rv.load_balancer_id,
    ttl,
    answers,
    policy: rv.policy,
    origins,
    seed: fnv1aString(key),
    learned: new LearnedTable(),
    learnedLongest4: 0,
    learnedLongest6: 0,
    geo: { a: null, aaaa: null },
    static: { a: null, aaaa: null },
    anyUsable: origins.some(usable),
    staticReason: 'static',
    uniform: { a: false, aaaa: false },
    learnedChoice: () => -1,
    learnedChoiceOfText: () => -1,
  };
  const byId = new Map(origins.map((o, i) => [o.id, i]));
  // Active, healthy origins ordered by static weight: the tail of multi-address answers.
  const fill = origins.map((_, i) => i).filter((i) => active(origins[i]!)).sort((x, y) => byWeightThenId(origins, x, y));

  // Learned per-subnet shares. Identical weight maps (common: {"eu": 1}) share one precomputed choice.
  // No closure in this function may name `rv`: closures share one context, and learnedChoice lives as
  // long as the index — it would keep the view's whole subnet table alive (measured: ~100 MB per
  // thread at 1M subnets, after the view itself was let go).
  const shared = new Map<string, number>();
  rec.learnedChoice = (weights, cidrText, warns) => {
    const canon = canonicalWeights(weights);
    let id = shared.get(canon);
    if (id === undefined) {
      const pairs: [number, number][] = [];
      for (const [id, share] of Object.entries(weights)) {
        const idx = byId.get(id);
        if (idx === undefined) {
          warns.push(`${host}: subnet ${cidrText} names unknown origin ${id}; ignored`);
          continue;
        }
        if (Number.isFinite(share) && share > 0 && usable(origins[idx]!)) pairs.push([idx, share]);
      }
      const sets = { a: choiceSet(rec, pairs, fill, TYPE.A), aaaa: choiceSet(rec, pairs, fill, TYPE.AAAA) };
      // Nothing usable in this map (all its origins down): store nothing, so geo/static answer instead.
      id = sets.a || sets.aaaa ? rec.learned.choices.push(sets) - 1 : -1;
      shared.set(canon, id);
    }
    return id;
  };
  const byText = new Map<string, number>();
  rec.learnedChoiceOfText = (text, cidrText, warns) => {
    let id = byText.get(text);
    if (id === undefined) {
      const weights: unknown = JSON.parse(text);
      if (typeof weights !== 'object' || weights === null || Array.isArray(weights)) throw new Error(`${host}: weight map ${text.slice(0, 40)} is not an object`);
      id = rec.learnedChoice(weights as WeightMap, cidrText, warns);
      byText.set(text, id);
    }
    return id;
  };
  if (learns(rec)) {
    let sincePace = 0;
    const learn = (cidrText: string, weights: WeightMap) => {
      if (pace && ++sincePace === PACE_EVERY) {
        sincePace = 0;
        pace();
      }
      const cidr = parseCidr(cidrText);
      if (!cidr) {
        warnings.push(`${host}: subnet "${cidrText}" is not a CIDR with host bits clear; skipped`);
        return;
      }
      const choice = rec.learnedChoice(weights, cidrText, warnings);
      if (choice >= 0) rec.learned.insert(cidr.bytes, cidr.prefix, choice);
    };
    // A table repeating a subnet ends as an object would: the last one counts (insert replaces).
    if (table) forEachCompact(table, `${host}: subnets`, learn);
    // Keys, not entries: no pair array per subnet (this loop runs once per learned subnet per view).
    else for (const cidrText of Object.keys(rv.subnets)) learn(cidrText, rv.subnets[cidrText]!);
  }
  setNesting(rec, false);

  const geoPairs: [number, number][] = fill.map((i) => [i, Math.max(origins[i]!.staticWeight, 1e-9)]);
  rec.geo = { a: choiceSet(rec, geoPairs, fill, TYPE.A), aaaa: choiceSet(rec, geoPairs, fill, TYPE.AAAA) };

  // Static weights, per address family, in tiers: healthy active origins; else healthy draining ones
  // (better than failing open while something healthy remains); else — nothing usable at all — every
  // enabled origin (fail open, as model/shares.ts does for edges: resolvers would cache a failure and
  // a health checker cut off from the origins would take the whole name down). Failover: the lowest
  // priority present in the tier.
  const hasFamily = (i: number, qtype: number) => (qtype === TYPE.A ? origins[i]!.v4 : origins[i]!.v6).length > 0;
  const tiers: ((o: OriginEntry) => boolean)[] = rec.anyUsable
    ? [(o) => o.healthy && o.adminState === 'active', (o) => o.healthy && o.adminState === 'drain']
    : [(o) => o.adminState !== 'disabled'];
  const staticFor = (qtype: number): ChoiceSet | null => {
    for (const inTier of tiers) {
      let idx = origins.map((_, i) => i).filter((i) => inTier(origins[i]!) && hasFamily(i, qtype));
      if (idx.length === 0) continue;
      if (rec.policy === 'failover') {
        const best = Math.min(...idx.map((i) => origins[i]!.priority));
        idx = idx.filter((i) => origins[i]!.priority === best);
      }
      // All static weights zero: spread evenly rather than answer nothing.
      const anyWeight = idx.some((i) => origins[i]!.staticWeight > 0);
      return choiceSet(rec, idx.map((i) => [i, anyWeight ? origins[i]!.staticWeight : 1]), fill, qtype);
    }
    return null;
  };
  rec.static = { a: staticFor(TYPE.A), aaaa: staticFor(TYPE.AAAA) };
  rec.staticReason = rec.anyUsable ? 'static' : 'no_healthy_origin';
  setUniform(rec);
  return rec;
}

/** Learned subnets count for this record's policy (weighted and failover answer by static weight only). */
export function learns(rec: RecordIndex): boolean {
  return rec.policy !== 'weighted' && rec.policy !== 'failover';
}

export function setUniform(rec: RecordIndex): void {
  const uniform = (st: ChoiceSet | null, geo: ChoiceSet | null): boolean =>
    rec.learned.size === 0 && st !== null && !st.multi && (geo === null || geo.slots.every((i) => i === st.slots[0]));
  rec.uniform = { a: uniform(rec.static.a, rec.geo.a), aaaa: uniform(rec.static.aaaa, rec.geo.aaaa) };
}

/**
 * The learned entries' ECS scope floors and nested networks, and the longest learned prefix per
 * family. `reset`: entries already had them (an update), so they are first set back to their own.
 */
export function setNesting(rec: RecordIndex, reset: boolean): void {
  rec.learnedLongest4 = rec.learned.longest(4);
  rec.learnedLongest6 = rec.learned.longest(6);
  rec.learned.computeNesting(reset);
}

function usable(o: OriginEntry): boolean {
  return o.healthy && o.adminState !== 'disabled';
}

function active(o: OriginEntry): boolean {
  return o.healthy && o.adminState === 'active';
}

function byWeightThenId(origins: OriginEntry[], x: number, y: number): number {
  const ox = origins[x]!;
  const oy = origins[y]!;
  return oy.staticWeight - ox.staticWeight || (ox.id < oy.id ? -1 : ox.id > oy.id ? 1 : 0);
}

function canonicalWeights(w: WeightMap): string {
  const keys = Object.keys(w);
  if (keys.length === 1) return `${keys[0]}=${w[keys[0]!]}`; // the common map ({"eu": 1}): nothing to sort
  return keys
    .sort()
    .map((k) => `${k}=${w[k]}`)
    .join(',');
}

/**
 * A choice among `pairs` (origin index, weight > 0) restricted to origins with addresses of the
 * qtype's family; null when none has one. Slots are in origin-id order so the cumulative line is
 * stable across weight updates (only the boundaries move).
 */
export function choiceSet(rec: RecordIndex, pairs: [number, number][], fill: number[], qtype: number): ChoiceSet | null {
  const fam = (i: number): Uint8Array[] => (qtype === TYPE.A ? rec.origins[i]!.v4 : rec.origins[i]!.v6);
  const eligible = pairs.filter(([i, w]) => w > 0 && fam(i).length > 0).sort((x, y) => (rec.origins[x[0]]!.id < rec.origins[y[0]]!.id ? -1 : 1));
  if (eligible.length === 0) return null;
  const total = eligible.reduce((s, [, w]) => s + w, 0);
  const cum = new Float64Array(eligible.length);
  let acc = 0;
  eligible.forEach(([, w], k) => {
    acc += w / total;
    cum[k] = acc;
  });
  cum[eligible.length - 1] = 1;
  const slots = eligible.map(([i]) => i);
  const weightOf = new Map(eligible);
  const templates: Buffer[] = [];
  const counts: number[] = [];
  for (const first of slots) {
    // The chosen origin first, then the others of this choice by weight, then any other active origin.
    const rest = slots.filter((i) => i !== first).sort((x, y) => weightOf.get(y)! - weightOf.get(x)! || (rec.origins[x]!.id < rec.origins[y]!.id ? -1 : 1));
    const order = [first, ...rest, ...fill.filter((i) => !weightOf.has(i))];
    const addrs: Uint8Array[] = [];
    const seen = new Set<string>();
    for (const i of order) {
      for (const a of fam(i)) {
        const k = a.join('.');
        if (seen.has(k)) continue;
        seen.add(k);
        addrs.push(a);
        if (addrs.length >= rec.answers) break;
      }
      if (addrs.length >= rec.answers) break;
    }
    templates.push(addressRecords(addrs, qtype, rec.ttl));
    counts.push(addrs.length);
  }
  return { slots, cum, templates, counts, multi: slots.length > 1 };
}

/** Answer RRs whose owner is a compression pointer to the question name (offset 12). */
export function addressRecords(addrs: Uint8Array[], qtype: number, ttl: number): Buffer {
  const rdlen = qtype === TYPE.A ? 4 : 16;
  const out = Buffer.alloc(addrs.length * (12 + rdlen));
  let off = 0;
  for (const a of addrs) {
    out.writeUInt16BE(0xc00c, off);
    out.writeUInt16BE(qtype, off + 2);
    out.writeUInt16BE(CLASS_IN, off + 4);
    out.writeUInt32BE(ttl, off + 6);
    out.writeUInt16BE(rdlen, off + 10);
    out.set(a, off + 12);
    off += 12 + rdlen;
  }
  return out;
}
