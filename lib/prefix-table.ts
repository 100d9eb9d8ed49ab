// Longest-prefix match over IPv4 and IPv6 networks. One hash map per prefix length in use, probed
// from the longest length down: views carry a handful of lengths (/24, /48, /56…), so a lookup is one
// or two map probes. IPv4 keys are uint32 numbers (no allocation per query); IPv6 keys are the
// masked bytes as a short latin1 string.
export interface PrefixMatch<T> {
  value: T;
  prefix: number;
}

class Family<K, T> {
  readonly byLength = new Map<number, Map<K, T>>();
  /** Prefix lengths present, longest first. */
  lengths: number[] = [];
  /** True when the key was new. */
  add(prefix: number, key: K, value: T): boolean {
    let m = this.byLength.get(prefix);
    if (!m) {
      m = new Map();
      this.byLength.set(prefix, m);
      this.lengths = [...this.byLength.keys()].sort((a, b) => b - a);
    }
    const fresh = !m.has(key);
    m.set(key, value);
    return fresh;
  }
  /** True when the key was there. A length left empty is dropped (lookups probe only lengths in use). */
  remove(prefix: number, key: K): boolean {
    const m = this.byLength.get(prefix);
    if (!m?.delete(key)) return false;
    if (m.size === 0) {
      this.byLength.delete(prefix);
      this.lengths = this.lengths.filter((p) => p !== prefix);
    }
    return true;
  }
}

export function maskV4(addr: number, prefix: number): number {
  return prefix === 0 ? 0 : (addr & (0xffffffff << (32 - prefix))) >>> 0;
}

export function v6Key(bytes: Uint8Array, prefix: number): string {
  const n = (prefix + 7) >> 3;
  let s = '';
  for (let i = 0; i < n; i++) {
    let b = bytes[i]!;
    if (i === n - 1 && prefix & 7) b &= (0xff << (8 - (prefix & 7))) & 0xff;
    s += String.fromCharCode(b);
  }
  return s;
}

/** The v6Key of the same network at a shorter prefix. */
function shortenV6Key(key: string, prefix: number): string {
  const n = (prefix + 7) >> 3;
  if (!(prefix & 7)) return key.slice(0, n);
  const last = key.charCodeAt(n - 1) & (0xff << (8 - (prefix & 7))) & 0xff;
  return key.slice(0, n - 1) + String.fromCharCode(last);
}

export function v4ToBytes(addr: number): Uint8Array {
  return Uint8Array.of(addr >>> 24, (addr >>> 16) & 255, (addr >>> 8) & 255, addr & 255);
}

export function bytesToV4(bytes: Uint8Array): number {
  return ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
}

export class PrefixTable<T> {
  private readonly v4 = new Family<number, T>();
  private readonly v6 = new Family<string, T>();
  size = 0;

  /** `bytes` is 4 or 16 bytes long. Replaces the value of a network already stored. */
  insert(bytes: Uint8Array, prefix: number, value: T): void {
    const fresh = bytes.length === 4 ? this.v4.add(prefix, maskV4(bytesToV4(bytes), prefix), value) : this.v6.add(prefix, v6Key(bytes, prefix), value);
    if (fresh) this.size++;
  }

  /** Removes exactly this network; true when it was stored. */
  delete(bytes: Uint8Array, prefix: number): boolean {
    const gone = bytes.length === 4 ? this.v4.remove(prefix, maskV4(bytesToV4(bytes), prefix)) : this.v6.remove(prefix, v6Key(bytes, prefix));
    if (gone) this.size--;
    return gone;
  }

  /** Prefix lengths in use in the family, longest first. */
  lengths(family: 4 | 6): readonly number[] {
    return family === 4 ? this.v4.lengths : this.v6.lengths;
  }

  /** Every stored value. */
  *values(): Generator<T> {
    for (const m of this.v4.byLength.values()) yield* m.values();
    for (const m of this.v6.byLength.values()) yield* m.values();
  }

  /** Every stored network with its value (the network rebuilt from its key: nothing is kept per entry for this). */
  *networks(): Generator<{ bytes: Uint8Array; prefix: number; value: T }> {
    for (const [prefix, m] of this.v4.byLength) for (const [key, value] of m) yield { bytes: v4ToBytes(key), prefix, value };
    for (const [prefix, m] of this.v6.byLength) {
      for (const [key, value] of m) {
        const bytes = new Uint8Array(16);
        for (let i = 0; i < key.length; i++) bytes[i] = key.charCodeAt(i);
        yield { bytes, prefix, value };
      }
    }
  }

  /** The value stored for exactly this network, if any. */
  getExact(bytes: Uint8Array, prefix: number): T | undefined {
    return bytes.length === 4
      ? this.v4.byLength.get(prefix)?.get(maskV4(bytesToV4(bytes), prefix))
      : this.v6.byLength.get(prefix)?.get(v6Key(bytes, prefix));
  }

  /**
   * For every stored network that contains longer stored networks, those networks. An answer taken
   * from a covering network is not valid across all of it (the nested networks answer differently),
   * so its ECS scope must exclude them (see dns/answer/choose.ts).
   */
  nested(): Map<T, { bytes: Uint8Array; prefix: number }[]> {
    const out = new Map<T, { bytes: Uint8Array; prefix: number }[]>();
    const add = (covering: T, bytes: Uint8Array, prefix: number) => {
      let list = out.get(covering);
      if (!list) out.set(covering, (list = []));
      list.push({ bytes, prefix });
    };
    // Only a family with two lengths or more can nest anything (the common all-/24 table costs
    // nothing), and the walk works on the keys: bytes are made only for the networks found nested.
    const v4 = this.v4.lengths;
    if (v4.length > 1) {
      for (const [prefix, m] of this.v4.byLength) {
        for (const key of m.keys()) {
          for (const p of v4) {
            if (p >= prefix) continue;
            const covering = this.v4.byLength.get(p)!.get(maskV4(key, p));
            if (covering !== undefined) add(covering, v4ToBytes(key), prefix);
          }
        }
      }
    }
    const v6 = this.v6.lengths;
    if (v6.length > 1) {
      for (const [prefix, m] of this.v6.byLength) {
        for (const key of m.keys()) {
          for (const p of v6) {
            if (p >= prefix) continue;
            const covering = this.v6.byLength.get(p)!.get(shortenV6Key(key, p));
            if (covering === undefined) continue;
            const bytes = new Uint8Array(16);
            for (let i = 0; i < key.length; i++) bytes[i] = key.charCodeAt(i);
            add(covering, bytes, prefix);
          }
        }
      }
    }
    return out;
  }

  /** For every stored network that contains longer stored networks, the longest such prefix. */
  nestedLongest(): Map<T, number> {
    const out = new Map<T, number>();
    for (const [covering, list] of this.nested()) out.set(covering, list.reduce((m, e) => Math.max(m, e.prefix), 0));
    return out;
  }

  /** Longest prefix of length <= maxPrefix in the family of `bytes`. */
  lookup(bytes: Uint8Array, maxPrefix: number): PrefixMatch<T> | null {
    return bytes.length === 4 ? this.lookup4(bytesToV4(bytes), maxPrefix) : this.lookup6(bytes, maxPrefix);
  }

  lookup4(addr: number, maxPrefix: number): PrefixMatch<T> | null {
    for (const p of this.v4.lengths) {
      if (p > maxPrefix) continue;
      const v = this.v4.byLength.get(p)!.get(maskV4(addr, p));
      if (v !== undefined) return { value: v, prefix: p };
    }
    return null;
  }

  lookup6(bytes: Uint8Array, maxPrefix: number): PrefixMatch<T> | null {
    for (const p of this.v6.lengths) {
      if (p > maxPrefix) continue;
      const v = this.v6.byLength.get(p)!.get(v6Key(bytes, p));
      if (v !== undefined) return { value: v, prefix: p };
    }
    return null;
  }

  /** Allocation-free variants for the query path (the value carries its own prefix if needed). */
  find4(addr: number, maxPrefix: number): T | undefined {
    for (const p of this.v4.lengths) {
      if (p > maxPrefix) continue;
      const v = this.v4.byLength.get(p)!.get(maskV4(addr, p));
      if (v !== undefined) return v;
    }
    return undefined;
  }

  find6(bytes: Uint8Array, maxPrefix: number): T | undefined {
    for (const p of this.v6.lengths) {
      if (p > maxPrefix) continue;
      const v = this.v6.byLength.get(p)!.get(v6Key(bytes, p));
      if (v !== undefined) return v;
    }
    return undefined;
  }

  /** Longest prefix length stored for the family (0 when empty). */
  longest(family: 4 | 6): number {
    return (family === 4 ? this.v4.lengths[0] : this.v6.lengths[0]) ?? 0;
  }
}
