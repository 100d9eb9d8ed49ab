// Where a client subnet is, for the distance estimate of pairs nothing has been learned for: the CIDR
// mappings from the config first (longest prefix wins), then the MaxMind City database. Asked for
// every subnet source every cycle: the mappings are a longest-prefix table (lib/prefix-table.ts), and
// answers are remembered per subnet (bounded), since subnets and their places change slowly.
import { open, type CityResponse, type Reader } from 'maxmind';
import { parseCidr, bytesToIp } from '../../model/primitives.ts';
import { PrefixTable } from '../../lib/prefix-table.ts';
import type { Locate } from './problem.ts';

export interface LocatorConfig {
  database?: string | undefined;
  cidr_mappings: { cidr: string; location: { lat: number; lon: number } }[];
}

/** Subnets whose place is remembered; beyond it the memory starts over (sources number ~1e5–1e6). */
const CACHE_SIZE = 2_000_000;

type Place = { lat: number; lon: number };

export async function createLocator(config: LocatorConfig): Promise<Locate> {
  const mappings = new PrefixTable<Place>();
  for (const m of config.cidr_mappings) {
    const net = parseCidr(m.cidr)!;
    if (mappings.getExact(net.bytes, net.prefix) === undefined) mappings.insert(net.bytes, net.prefix, m.location);
  }
  const reader: Reader<CityResponse> | undefined = config.database ? await open<CityResponse>(config.database) : undefined;
  const cache = new Map<string, Place | null>();
  const find = (subnet: string): Place | null => {
    const net = parseCidr(subnet);
    if (!net) return null;
    // A mapping covering the whole subnet (a shorter or equal prefix), longest first; else one holding
    // its first address (a coarse source with finer mappings inside it).
    const mapped = mappings.lookup(net.bytes, net.prefix) ?? mappings.lookup(net.bytes, 128);
    if (mapped) return mapped.value;
    const loc = reader?.get(bytesToIp(net.bytes))?.location;
    return loc && typeof loc.latitude === 'number' && typeof loc.longitude === 'number' ? { lat: loc.latitude, lon: loc.longitude } : null;
  };
  return (subnet: string) => {
    let place = cache.get(subnet);
    if (place === undefined) {
      if (cache.size >= CACHE_SIZE) cache.clear();
      cache.set(subnet, (place = find(subnet)));
    }
    return place ?? undefined;
  };
}
