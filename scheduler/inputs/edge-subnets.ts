// Client subnets that hold an edge's address: connections from there are the edge's traffic to the
// origins (counted at the edge), never a DNS source of their own.
import type { Edge } from '../../model/index.ts';
import { ipToBytes, maskBytes, parseCidr } from '../../model/primitives.ts';

export function subnetContains(cidr: string, address: string): boolean {
  const net = parseCidr(cidr);
  const bytes = ipToBytes(address);
  if (!net || !bytes || bytes.length !== net.bytes.length) return false;
  return maskBytes(bytes, net.prefix).every((b, i) => b === net.bytes[i]);
}

/** The edge whose address lies in `subnet`, if any. */
export function edgeOfSubnet(subnet: string, edges: readonly Pick<Edge, 'name' | 'address'>[]): string | undefined {
  return edges.find((e) => subnetContains(subnet, e.address))?.name;
}
