// The steering decision for one A/AAAA question: which precomputed choice, which slot, which ECS
// scope, and why. Pure: (record, client subnet, geolocator) -> Choice. The order is the issue's:
// learned per-subnet weights -> geolocation (MaxMind, then CIDR mappings) -> static weights.
import { TYPE } from '../wire/constants.ts';
import { distanceKm, type GeoHit, type GeoLocator } from './geo.ts';
import { pickCumulative, pointV4, pointV6 } from './hash.ts';
import { maskV4 } from '../../lib/prefix-table.ts';
import type { ChoiceSet, FamilySets, LearnedEntry, RecordIndex } from './view-index.ts';

export const REASONS = ['learned_latency', 'geo_fallback', 'cidr_mapping', 'static', 'no_healthy_origin', 'no_address'] as const;
export type SteeringReason = (typeof REASONS)[number];

export interface Client {
  family: 4 | 6;
  /** IPv4 address as uint32 (family 4). */
  v4: number;
  /** IPv6 address bytes (family 6; zero beyond `prefix`). */
  v6: Uint8Array;
  /** Bits of the address we know: the ECS source prefix, or 32/128 for the packet's source address. */
  prefix: number;
}

export interface ScopeLimits {
  ipv4: number;
  ipv6: number;
}

export interface Choice {
  set: ChoiceSet | null;
  slot: number;
  /** ECS scope prefix length this answer depends on (only meaningful when the query had ECS). */
  scope: number;
  reason: SteeringReason;
}

function forType(sets: FamilySets, qtype: number): ChoiceSet | null {
  return qtype === TYPE.A ? sets.a : sets.aaaa;
}

export function choose(rec: RecordIndex, qtype: number, client: Client, geo: GeoLocator | null, limits: ScopeLimits, out: Choice): Choice {
  if (qtype === TYPE.A ? rec.uniform.a : rec.uniform.aaaa) {
    // One possible answer for everyone: no lookup, and scope 0 lets resolvers share it.
    out.set = qtype === TYPE.A ? rec.static.a : rec.static.aaaa;
    out.slot = 0;
    out.scope = 0;
    out.reason = rec.staticReason;
    return out;
  }
  const fam = client.family;
  const scopeMax = fam === 4 ? limits.ipv4 : limits.ipv6;
  // Granularity at which we hash (and geolocate): never finer than we were told, never finer than the
  // configured max. The scope is never capped below what the answer depends on, though: a learned or
  // mapped network longer than the max still yields its own prefix (a shorter scope would be wrong).
  const hashPrefix = Math.min(client.prefix, scopeMax);

  // 1. Learned per-subnet shares (longest prefix no longer than what the client revealed).
  if (rec.policy === 'latency' || rec.policy === 'balance') {
    const entry: LearnedEntry | undefined = fam === 4 ? rec.learned.find4(client.v4, client.prefix) : rec.learned.find6(client.v6, client.prefix);
    if (entry) {
      const set = forType(entry, qtype);
      if (set) {
        out.set = set;
        out.slot = set.multi ? pickCumulative(set.cum, point(client, hashPrefix, rec.seed)) : 0;
        // The entry's prefix — or longer, when more specific learned subnets sit inside it: just long
        // enough to leave them out where they are known (nested4), else the longest of them.
        const floor = fam === 4 && entry.nested4 ? excludingScope(entry, client.v4, client.prefix) : entry.scopeFloor;
        out.scope = set.multi ? Math.max(floor, hashPrefix) : floor;
        out.reason = 'learned_latency';
        return out;
      }
    }
  }
  // A non-learned answer also depends on *not* being inside a learned subnet: never let a resolver
  // cache it over a wider network than the longest learned prefix.
  let depends = fam === 4 ? rec.learnedLongest4 : rec.learnedLongest6;

  // 2. Geolocation: nearest healthy, active origin.
  if (geo && geo.enabled && (rec.policy === 'latency' || rec.policy === 'balance')) {
    const hit = fam === 4 ? geo.locate4(maskV4(client.v4, hashPrefix), hashPrefix) : geo.locate6(client.v6, hashPrefix);
    depends = Math.max(depends, hit.dependsOn);
    const set = forType(rec.geo, qtype);
    if (set && hit.source !== 'none') {
      const slot = nearestSlot(rec, set, hit);
      if (slot >= 0) {
        out.set = set;
        out.slot = slot;
        out.scope = depends;
        out.reason = hit.source === 'maxmind' ? 'geo_fallback' : 'cidr_mapping';
        return out;
      }
    }
  }

  // 3. Static weights.
  const set = forType(rec.static, qtype);
  if (set) {
    out.set = set;
    out.slot = set.multi ? pickCumulative(set.cum, point(client, hashPrefix, rec.seed)) : 0;
    out.scope = set.multi ? Math.max(depends, hashPrefix) : depends;
    out.reason = rec.staticReason;
    return out;
  }
  out.set = null;
  out.slot = 0;
  out.scope = 0;
  // Origins exist but none (usable, or enabled when failing open) has an address of this family: the
  // name exists, the type does not. No enabled origin at all: SERVFAIL.
  out.reason = rec.origins.some((o) => o.adminState !== 'disabled') ? 'no_address' : 'no_healthy_origin';
  return out;
}

function point(client: Client, prefix: number, seed: number): number {
  return client.family === 4 ? pointV4(maskV4(client.v4, prefix), prefix, seed) : pointV6(client.v6, prefix, seed);
}

function nearestSlot(rec: RecordIndex, set: ChoiceSet, hit: GeoHit): number {
  if (hit.location) {
    let best = -1;
    let bestKm = Infinity;
    for (let s = 0; s < set.slots.length; s++) {
      const km = distanceKm(hit.location, rec.origins[set.slots[s]!]!.location);
      if (km < bestKm) {
        bestKm = km;
        best = s;
      }
    }
    return best;
  }
  // A mapping to a region: that region's origin with the highest static weight.
  let best = -1;
  for (let s = 0; s < set.slots.length; s++) {
    const o = rec.origins[set.slots[s]!]!;
    if (o.region !== hit.region) continue;
    if (best < 0 || o.staticWeight > rec.origins[set.slots[best]!]!.staticWeight) best = s;
  }
  return best;
}

export function newChoice(): Choice {
  return { set: null, slot: 0, scope: 0, reason: 'static' };
}

/**
 * The shortest scope s (>= the entry's prefix) such that the client's network of length s holds none
 * of the learned networks nested in the entry: that network holds a nested one N (start b, length n)
 * iff s <= n and the client's address shares its first s bits with b, so s must exceed
 * min(common prefix length, n) for every N. Bits the client did not reveal (beyond `revealed`) say
 * nothing, so a scope that would need them falls back to scopeFloor, the longest nested prefix.
 */
export function excludingScope(entry: LearnedEntry, addr: number, revealed: number): number {
  const { starts, prefixes } = entry.nested4!;
  let s = entry.prefix;
  for (let i = 0; i < starts.length; i++) {
    const common = Math.clz32((addr ^ starts[i]!) >>> 0);
    const need = Math.min(common, prefixes[i]!) + 1;
    if (need > s) s = need;
  }
  return s > revealed ? entry.scopeFloor : Math.min(s, entry.scopeFloor);
}
