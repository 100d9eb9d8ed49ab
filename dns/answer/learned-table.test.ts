// The compact learned table against the plain reading of its contract (a Map per network, longest
// prefix first): random inserts, replacements and deletes (deletion shifts probe runs back, so every
// network left must still be found), IPv4 and IPv6 of several lengths, lookups bounded by what the
// client revealed, and the nesting (scope floors and nested lists) a walk over the networks gives.
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../lib/prng.ts';
import { LearnedTable, NESTED_SCAN_MAX } from './learned-table.ts';
import type { ChoiceSet } from './view-index.ts';

const V4_LENGTHS = [8, 16, 20, 24, 32];
const V6_LENGTHS = [32, 48, 56, 64, 96, 128];

function masked(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const bits = prefix - 8 * i;
    out[i] = bits >= 8 ? bytes[i]! : bits <= 0 ? 0 : bytes[i]! & (0xff << (8 - bits));
  }
  return out;
}

const keyOf = (bytes: Uint8Array, prefix: number) => `${masked(bytes, prefix).join('.')}/${prefix}`;

function randomNetwork(rand: () => number, v6: boolean): { bytes: Uint8Array; prefix: number } {
  // Few distinct high bytes, so networks of different lengths nest and keys collide in the low bits.
  const bytes = new Uint8Array(v6 ? 16 : 4);
  for (let i = 0; i < bytes.length; i++) bytes[i] = i < 2 ? Math.floor(rand() * 3) : Math.floor(rand() * 256);
  const lengths = v6 ? V6_LENGTHS : V4_LENGTHS;
  const prefix = lengths[Math.floor(rand() * lengths.length)]!;
  return { bytes: masked(bytes, prefix), prefix };
}

describe('LearnedTable', () => {
  it('finds what a map of networks holds, through inserts, replacements, deletes and growth', () => {
    const rand = seededRandom(7);
    const t = new LearnedTable();
    // Each choice marked with its id (the table only stores and returns them).
    for (let c = 0; c < 50; c++) t.choices.push({ a: { slots: [c] } as unknown as ChoiceSet, aaaa: null });
    const idOf = (hit: { a: ChoiceSet | null }) => hit.a!.slots[0];
    const ref = new Map<string, { bytes: Uint8Array; prefix: number; choice: number }>();
    const live: { bytes: Uint8Array; prefix: number }[] = []; // ever stored (some deleted since: deleting again must say false)
    for (let step = 0; step < 40_000; step++) {
      const r = rand();
      if (r < 0.25 && live.length > 0) {
        const n = live[Math.floor(rand() * live.length)]!;
        const k = keyOf(n.bytes, n.prefix);
        expect(t.delete(n.bytes, n.prefix)).toBe(ref.has(k));
        ref.delete(k);
      } else {
        const n = randomNetwork(rand, rand() < 0.5);
        const k = keyOf(n.bytes, n.prefix);
        const choice = Math.floor(rand() * 50);
        expect(t.insert(n.bytes, n.prefix, choice)).toBe(!ref.has(k));
        if (!ref.has(k)) live.push(n);
        ref.set(k, { ...n, choice });
      }
    }
    expect(t.size).toBe(ref.size);
    const stored = new Map([...t.networks()].map((x) => [keyOf(x.bytes, x.prefix), idOf(x.value)]));
    expect(stored).toEqual(new Map([...ref].map(([k, e]) => [k, e.choice])));
    for (const [k, e] of ref) expect(t.getExact(e.bytes, e.prefix), k).toBeDefined();
    // Lookups: the longest stored prefix <= what the client revealed, as a scan of the map finds it.
    for (let q = 0; q < 5000; q++) {
      const v6 = rand() < 0.5;
      const bytes = new Uint8Array(v6 ? 16 : 4);
      for (let i = 0; i < bytes.length; i++) bytes[i] = i < 2 ? Math.floor(rand() * 3) : Math.floor(rand() * 256);
      // Half the queries inside a stored network, so hits are common.
      if (rand() < 0.5 && live.length > 0) {
        const e = live[Math.floor(rand() * live.length)]!;
        if (e.bytes.length === bytes.length) bytes.set(e.bytes.subarray(0, Math.ceil(e.prefix / 8)));
      }
      const revealed = v6 ? 56 : 24;
      let want: { prefix: number; choice: number } | undefined;
      for (const p of (v6 ? V6_LENGTHS : V4_LENGTHS).filter((p) => p <= revealed).reverse()) {
        want = ref.get(keyOf(bytes, p));
        if (want) break;
      }
      const v4 = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
      const hit = v6 ? t.find6(bytes, revealed) : t.find4(v4, revealed);
      expect(hit ? [hit.prefix, idOf(hit)] : null).toEqual(want ? [want.prefix, want.choice] : null);
    }
  });

  it('scope floors and nested lists: the longest nested prefix, and IPv4 lists up to the scan limit', () => {
    const t = new LearnedTable();
    t.choices.push({ a: null, aaaa: null });
    const v4 = (s: string) => Uint8Array.from(s.split('.').map(Number));
    t.insert(v4('10.0.0.0'), 8, 0);
    t.insert(v4('10.1.0.0'), 16, 0);
    t.insert(v4('10.1.2.0'), 24, 0);
    t.insert(v4('10.9.9.0'), 24, 0);
    t.insert(v4('11.0.0.0'), 8, 0);
    for (let i = 0; i <= NESTED_SCAN_MAX; i++) t.insert(v4(`11.0.${i}.0`), 24, 0);
    const v6 = new Uint8Array(16);
    v6[0] = 0x20;
    t.insert(v6, 32, 0);
    v6[7] = 1;
    t.insert(v6, 64, 0);
    t.computeNesting(false);
    const of = (b: Uint8Array, p: number) => t.getExact(b, p)!;
    expect(of(v4('10.0.0.0'), 8).scopeFloor).toBe(24);
    expect([...of(v4('10.0.0.0'), 8).nested4!.prefixes].sort()).toEqual([16, 24, 24]);
    expect(of(v4('10.1.0.0'), 16).scopeFloor).toBe(24);
    expect([...of(v4('10.1.0.0'), 16).nested4!.starts]).toEqual([(10 << 24) | (1 << 16) | (2 << 8)]);
    expect(of(v4('10.1.2.0'), 24)).toMatchObject({ scopeFloor: 24, nested4: undefined });
    expect(of(v4('11.0.0.0'), 8)).toMatchObject({ scopeFloor: 24, nested4: undefined }); // 65 nested: too many to scan
    expect(of(v6, 64).scopeFloor).toBe(64);
    v6[7] = 0;
    expect(of(v6, 32)).toMatchObject({ scopeFloor: 64, nested4: undefined });
    // Networks removed: an update walks again from each network's own prefix.
    t.delete(v4('10.1.2.0'), 24);
    t.delete(v4('10.9.9.0'), 24);
    t.computeNesting(true);
    expect(of(v4('10.0.0.0'), 8).scopeFloor).toBe(16);
    expect(of(v4('10.1.0.0'), 16)).toMatchObject({ scopeFloor: 16, nested4: undefined });
  });

  it('kept live through inserts and deletes, the nesting equals what a walk over the same networks gives', () => {
    const rand = seededRandom(11);
    // Small alphabets, so networks nest and the IPv4 lists cross NESTED_SCAN_MAX both ways.
    const pick = (xs: number[]) => xs[Math.floor(rand() * xs.length)]!;
    const network = (): { bytes: Uint8Array; prefix: number } => {
      if (rand() < 0.5) {
        const bytes = Uint8Array.of(10, pick([0, 1]), Math.floor(rand() * 12) << 4, Math.floor(rand() * 8) << 5);
        const prefix = pick([8, 16, 20, 24, 24, 24, 27, 32]);
        return { bytes: masked(bytes, prefix), prefix };
      }
      const bytes = new Uint8Array(16);
      bytes[0] = 0x20;
      bytes[3] = pick([0, 1]);
      bytes[5] = Math.floor(rand() * 40);
      bytes[7] = Math.floor(rand() * 3);
      const prefix = pick([16, 32, 48, 48, 56, 64]);
      return { bytes: masked(bytes, prefix), prefix };
    };
    const nesting = (t: LearnedTable) => {
      const out: Record<string, unknown> = {};
      for (const { bytes, prefix, value } of t.networks()) {
        out[`${bytes.join('.')}/${prefix}`] = { floor: value.scopeFloor, nested4: value.nested4 ? [...value.nested4.starts].map((s, i) => `${s}/${value.nested4!.prefixes[i]}`).sort() : null };
      }
      return out;
    };
    const live = new LearnedTable();
    live.choices.push({ a: null, aaaa: null });
    const held = new Map<string, { bytes: Uint8Array; prefix: number }>();
    for (let i = 0; i < 150; i++) {
      const n = network();
      live.insert(n.bytes, n.prefix, 0);
      held.set(keyOf(n.bytes, n.prefix), n);
    }
    live.computeNesting(false);
    let listsSeen = 0;
    for (let round = 0; round < 30; round++) {
      for (let i = 0; i < 40; i++) {
        const n = network();
        if (rand() < 0.5) {
          live.insert(n.bytes, n.prefix, 0);
          held.set(keyOf(n.bytes, n.prefix), n);
        } else {
          expect(live.delete(n.bytes, n.prefix)).toBe(held.delete(keyOf(n.bytes, n.prefix)));
        }
      }
      const walked = new LearnedTable();
      walked.choices.push({ a: null, aaaa: null });
      for (const n of held.values()) walked.insert(n.bytes, n.prefix, 0);
      walked.computeNesting(false);
      const got = nesting(live);
      expect(got).toEqual(nesting(walked));
      listsSeen += Object.values(got).filter((v) => (v as { nested4: unknown }).nested4).length;
    }
    expect(listsSeen).toBeGreaterThan(0);

    // Across the scan limit both ways: 65 /24s in 172.16/16 (no list), one removed (the list is
    // found again), one added (dropped again).
    const t = new LearnedTable();
    t.choices.push({ a: null, aaaa: null });
    t.insert(Uint8Array.of(172, 16, 0, 0), 16, 0);
    t.computeNesting(false);
    for (let i = 0; i <= NESTED_SCAN_MAX; i++) t.insert(Uint8Array.of(172, 16, i, 0), 24, 0);
    const outer = () => t.getExact(Uint8Array.of(172, 16, 0, 0), 16)!;
    expect(outer()).toMatchObject({ scopeFloor: 24, nested4: undefined });
    t.delete(Uint8Array.of(172, 16, 7, 0), 24);
    expect(outer().nested4!.starts.length).toBe(NESTED_SCAN_MAX);
    expect([...outer().nested4!.starts]).not.toContain(((172 << 24) | (16 << 16) | (7 << 8)) >>> 0);
    t.insert(Uint8Array.of(172, 16, 200, 0), 24, 0);
    expect(outer()).toMatchObject({ scopeFloor: 24, nested4: undefined });
    for (let i = 0; i <= NESTED_SCAN_MAX; i++) t.delete(Uint8Array.of(172, 16, i, 0), 24);
    t.delete(Uint8Array.of(172, 16, 200, 0), 24);
    expect(outer()).toMatchObject({ scopeFloor: 16, nested4: undefined });
  });
});

