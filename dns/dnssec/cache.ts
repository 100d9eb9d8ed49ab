// Signatures by RRset content (rrsetContentKey: owner, type, TTL, sorted RDATAs), so the hot path
// signs rarely: steered answers are a handful of RRsets per name, and a new view with the same
// addresses (every scheduler cycle) finds its signatures here instead of signing again.
//
// Bounded: past `max` entries the oldest are evicted with a second chance (an entry used since the
// last sweep moves to the back instead), so a flood of random NXDOMAIN names — each needing its own
// NSEC signature — cannot push the popular answers out.
import type { Signatures } from './signer.ts';

export interface CachedSignatures extends Signatures {
  /** Which keys made them (ZoneKeys.dataSignerId, or "k:" + the key signers' tags). */
  signerId: string;
  used: boolean;
}

export class SignatureCache {
  private readonly map = new Map<string, CachedSignatures>();

  constructor(readonly max: number) {}

  get size(): number {
    return this.map.size;
  }

  get(key: string): CachedSignatures | undefined {
    const e = this.map.get(key);
    if (e) e.used = true;
    return e;
  }

  set(key: string, value: Signatures, signerId: string): CachedSignatures {
    const e: CachedSignatures = { ...value, signerId, used: false };
    this.map.delete(key);
    this.map.set(key, e);
    if (this.map.size > this.max) this.evict();
    return e;
  }

  /** Drops about a tenth of the entries, oldest first, sparing (once) those used since the last sweep. */
  private evict(): void {
    let toDrop = Math.max(1, Math.ceil(this.max / 10));
    let budget = this.map.size * 2;
    for (const [k, e] of this.map) {
      if (toDrop === 0 || budget-- === 0) break;
      this.map.delete(k);
      if (e.used) {
        e.used = false;
        this.map.set(k, e); // second chance: to the back of the line
      } else toDrop--;
    }
  }
}
