// Where a client subnet is, for the distance estimate of pairs nothing has been learned for: the CIDR
// mappings from the config first (longest prefix wins), then the MaxMind City database.
import { open, type CityResponse, type Reader } from 'maxmind';
import { parseCidr, bytesToIp, maskBytes } from '../../model/primitives.ts';
import type { Locate } from './problem.ts';

export interface LocatorConfig {
  database?: string | undefined;
  cidr_mappings: { cidr: string; location: { lat: number; lon: number } }[];
}

function contains(cidr: { family: 4 | 6; bytes: Uint8Array; prefix: number }, addr: Uint8Array): boolean {
  if (addr.length !== cidr.bytes.length) return false;
  const masked = maskBytes(addr, cidr.prefix);
  return masked.every((b, i) => b === cidr.bytes[i]);
}

export async function createLocator(config: LocatorConfig): Promise<Locate> {
  const mappings = config.cidr_mappings
    .map((m) => ({ net: parseCidr(m.cidr)!, location: m.location }))
    .sort((a, b) => b.net.prefix - a.net.prefix);
  const reader: Reader<CityResponse> | undefined = config.database ? await open<CityResponse>(config.database) : undefined;
  return (subnet: string) => {
    const net = parseCidr(subnet);
    if (!net) return undefined;
    const mapped = mappings.find((m) => contains(m.net, net.bytes));
    if (mapped) return mapped.location;
    const loc = reader?.get(bytesToIp(net.bytes))?.location;
    return loc && typeof loc.latitude === 'number' && typeof loc.longitude === 'number' ? { lat: loc.latitude, lon: loc.longitude } : undefined;
  };
}
