// Where sluice dns will send a client subnet, so the scheduler can predict a DNS source's load exactly.
// sluice dns answers a subnet whole and sticky (dns/answer/hash.ts): the subnet's network address is
// hashed to a point u ∈ [0, 1) with the record's seed, and u picks an origin on the cumulative line of
// the subnet's weights (origins with a share, in id order). With a handful of subnets the load therefore
// moves in steps of whole subnets, not by the fraction of the weights; the core predicts with u
// (SourceState.pick). This module computes u the way the DNS server does — the same functions, and a
// test (test/scheduler-dns-pick.test.ts) asks the real answer path to agree.
import { fnv1aString, pointV4, pointV6 } from '../../dns/answer/hash.ts';
import { nameToWireKey } from '../../dns/wire/constants.ts';
import { parseCidr } from '../../model/primitives.ts';

/**
 * The granularity sluice dns hashes at by default (`ecs.ipv4_scope_max` / `ipv6_scope_max`). A learned
 * subnet of exactly this size is answered whole; a larger one is split across its smaller networks by
 * their own points (then the split follows the weights only on average, and no point is given).
 */
export const DNS_HASH_PREFIX = { 4: 24, 6: 56 } as const;

/** The subnet's sticky point for `hostname`, or undefined when the DNS does not answer it as one unit. */
export function dnsPick(subnet: string, hostname: string): number | undefined {
  const net = parseCidr(subnet);
  if (!net) return undefined;
  const family = net.bytes.length === 4 ? 4 : 6;
  if (net.prefix !== DNS_HASH_PREFIX[family]) return undefined;
  const seed = fnv1aString(nameToWireKey(hostname.toLowerCase().replace(/\.$/, '')));
  if (family === 4) {
    const b = net.bytes;
    const addr = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
    return pointV4(addr, net.prefix, seed);
  }
  return pointV6(net.bytes, net.prefix, seed);
}
