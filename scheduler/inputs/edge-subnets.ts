// Client subnets that hold an edge's address: connections from there are the edge's traffic to the
// origins (counted at the edge), never a DNS source of their own. Asked for every subnet of every
// cycle (hundreds of thousands with a large fleet), so the edges' addresses are indexed once per cycle:
// per prefix length in use, a map from the masked address to the edge — one lookup per subnet instead
// of one comparison per edge.
import type { Edge } from '../../model/index.ts';
import { ipToBytes, maskBytes, parseCidr } from '../../model/primitives.ts';

export function subnetContains(cidr: string, address: string): boolean {
  const net = parseCidr(cidr);
  const bytes = ipToBytes(address);
  if (!net || !bytes || bytes.length !== net.bytes.length) return false;
  return maskBytes(bytes, net.prefix).every((b, i) => b === net.bytes[i]);
}

function keyOf(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}

export class EdgeSubnets {
  private readonly addresses: { name: string; bytes: Uint8Array }[] = [];
  /** "family/prefix" -> masked address -> the first edge (in the given order) inside it. */
  private readonly byPrefix = new Map<string, Map<string, string>>();

  constructor(edges: readonly Pick<Edge, 'name' | 'address'>[]) {
    for (const e of edges) {
      const bytes = ipToBytes(e.address);
      if (bytes) this.addresses.push({ name: e.name, bytes });
    }
  }

  /** The edge whose address lies in `subnet`, if any. */
  edgeOf(subnet: string): string | undefined {
    if (this.addresses.length === 0) return undefined;
    const net = parseCidr(subnet);
    if (!net) return undefined;
    const id = `${net.bytes.length}/${net.prefix}`;
    let index = this.byPrefix.get(id);
    if (!index) {
      index = new Map();
      for (const a of this.addresses) {
        if (a.bytes.length !== net.bytes.length) continue;
        const k = keyOf(maskBytes(a.bytes, net.prefix));
        if (!index.has(k)) index.set(k, a.name);
      }
      this.byPrefix.set(id, index);
    }
    return index.get(keyOf(net.bytes));
  }
}

/** The edge whose address lies in `subnet`, if any (one question; build an EdgeSubnets for many). */
export function edgeOfSubnet(subnet: string, edges: readonly Pick<Edge, 'name' | 'address'>[]): string | undefined {
  return new EdgeSubnets(edges).edgeOf(subnet);
}
