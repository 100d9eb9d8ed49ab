// Geolocation fallback: where is this client subnet? MaxMind City first, then the operator's CIDR
// mappings. Results are cached per looked-up subnet (bounded), so the database is read once per
// subnet, not once per query.
import { readFileSync } from 'node:fs';
import { Reader, type CityResponse } from 'maxmind';
import type { Location } from '../../model/primitives.ts';
import { bytesToIp, parseCidr } from '../../model/primitives.ts';
import type { CidrMapping } from '../config.ts';
import { PrefixTable } from '../../lib/prefix-table.ts';

export interface GeoHit {
  /** Where the subnet is, or null when nothing knows. */
  location: Location | null;
  /** A CIDR mapping naming a region instead of a point. */
  region: string | null;
  source: 'maxmind' | 'mapping' | 'none';
  /**
   * How many leading bits of the client address this result depends on (ECS scope contribution):
   * the database network's prefix, or the looked-up subnet's when the answer came from inside it.
   */
  dependsOn: number;
}

const EMPTY: GeoHit = { location: null, region: null, source: 'none', dependsOn: 0 };
/** Most database lookups spent finding a located network inside one client subnet. */
const MAX_PROBES = 32;

export class GeoLocator {
  private readonly cache4 = new Map<number, GeoHit>();
  private readonly cache6 = new Map<string, GeoHit>();
  private readonly mappings: PrefixTable<{ location: Location | null; region: string | null; scopeFloor: number }>;

  constructor(
    private readonly reader: Reader<CityResponse> | null,
    mappings: CidrMapping[],
    private readonly cacheSize = 100_000,
  ) {
    this.mappings = new PrefixTable();
    for (const m of mappings) {
      const cidr = parseCidr(m.cidr)!;
      const target = 'location' in m ? { location: m.location, region: null } : { location: null, region: m.region };
      this.mappings.insert(cidr.bytes, cidr.prefix, { ...target, scopeFloor: cidr.prefix });
    }
    // A mapping with more specific mappings inside it does not hold across all of its network.
    for (const [value, nested] of this.mappings.nestedLongest()) value.scopeFloor = Math.max(value.scopeFloor, nested);
  }

  static open(database: string | undefined, mappings: CidrMapping[], cacheSize?: number): GeoLocator {
    // Read synchronously into memory (the City DB is tens of MB at most): one copy per worker process.
    const reader = database ? new Reader<CityResponse>(readFileSync(database)) : null;
    return new GeoLocator(reader, mappings, cacheSize);
  }

  get enabled(): boolean {
    return this.reader !== null || this.mappings.size > 0;
  }

  /** IPv4: `masked` is the client network (host bits zero) of length `prefix`. */
  locate4(masked: number, prefix: number): GeoHit {
    const key = masked * 64 + prefix;
    const hit = this.cache4.get(key);
    if (hit) return hit;
    const bytes = new Uint8Array([masked >>> 24, (masked >>> 16) & 0xff, (masked >>> 8) & 0xff, masked & 0xff]);
    return this.remember(this.cache4, key, this.lookup(bytes, prefix));
  }

  locate6(bytes: Uint8Array, prefix: number): GeoHit {
    const key = `${Buffer.from(bytes.subarray(0, (prefix + 7) >> 3)).toString('latin1')}/${prefix}`;
    const hit = this.cache6.get(key);
    if (hit) return hit;
    return this.remember(this.cache6, key, this.lookup(Uint8Array.from(bytes), prefix));
  }

  private remember<K>(cache: Map<K, GeoHit>, key: K, hit: GeoHit): GeoHit {
    // Crude but O(1) bound: start over when full. Subnet working sets are far below the default size.
    if (cache.size >= this.cacheSize) cache.clear();
    if (this.cacheSize > 0) cache.set(key, hit);
    return hit;
  }

  private lookup(network: Uint8Array, prefix: number): GeoHit {
    let missDependsOn = 0;
    if (this.reader) {
      const found = this.lookupDatabase(network, prefix);
      if (found.location) return found;
      missDependsOn = found.dependsOn;
    }
    const m = this.mappings.lookup(network, prefix);
    if (m) return { location: m.value.location, region: m.value.region, source: 'mapping', dependsOn: Math.max(m.value.scopeFloor, missDependsOn) };
    // Not located: that fact holds for the database's empty network and outside every mapping.
    const dependsOn = Math.max(missDependsOn, Math.min(prefix, this.mappings.longest(network.length === 4 ? 4 : 6)));
    return dependsOn === 0 ? EMPTY : { ...EMPTY, dependsOn };
  }

  /**
   * The client subnet (e.g. a /24 from ECS) may start with a hole in the database while most of it
   * is located (MaxMind's test DB has London at 81.2.69.142/31 and 81.2.69.160/27, nothing at
   * 81.2.69.0). So walk the subnet network by network, skipping each unlocated block by the prefix the
   * database reports, and take the first located one as the subnet's location.
   */
  private lookupDatabase(network: Uint8Array, prefix: number): GeoHit {
    const bits = network.length * 8;
    const probe = Uint8Array.from(network);
    let firstPrefix = -1;
    for (let i = 0; i < MAX_PROBES; i++) {
      const [record, dbPrefix] = this.reader!.getWithPrefixLength(bytesToIp(probe));
      if (firstPrefix < 0) firstPrefix = dbPrefix;
      const loc = record?.location;
      if (loc && typeof loc.latitude === 'number' && typeof loc.longitude === 'number') {
        // One database network covers the whole subnet: the answer depends on that network only.
        const dependsOn = i === 0 && dbPrefix <= prefix ? dbPrefix : prefix;
        return { location: { lat: loc.latitude, lon: loc.longitude }, region: null, source: 'maxmind', dependsOn };
      }
      if (dbPrefix <= prefix) break; // the hole covers the whole subnet
      // Next address after this database network; stop when it leaves the client subnet.
      if (!addPow2(probe, bits - dbPrefix) || !samePrefix(probe, network, prefix)) break;
    }
    return { ...EMPTY, dependsOn: Math.min(Math.max(firstPrefix, 0), prefix) };
  }
}

/** probe += 2^exp (big-endian bytes); false on overflow. */
function addPow2(bytes: Uint8Array, exp: number): boolean {
  let i = bytes.length - 1 - (exp >> 3);
  let carry = 1 << (exp & 7);
  while (i >= 0 && carry) {
    const v = bytes[i]! + carry;
    bytes[i] = v & 0xff;
    carry = v >> 8;
    i--;
  }
  return carry === 0;
}

function samePrefix(a: Uint8Array, b: Uint8Array, prefix: number): boolean {
  for (let bit = 0; bit < prefix; bit += 8) {
    const take = Math.min(8, prefix - bit);
    const mask = (0xff << (8 - take)) & 0xff;
    if ((a[bit >> 3]! & mask) !== (b[bit >> 3]! & mask)) return false;
  }
  return true;
}

const EARTH_RADIUS_KM = 6371;
const RAD = Math.PI / 180;

/** Great-circle distance (haversine), km. */
export function distanceKm(a: Location, b: Location): number {
  const dLat = (b.lat - a.lat) * RAD;
  const dLon = (b.lon - a.lon) * RAD;
  const s = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * RAD) * Math.cos(b.lat * RAD) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(s)));
}
