// Which prefixes an agent exports per client subnet, within `subnet_series_budget` entries. Pure:
// the learning table in, a plan out (the poller runs it each poll, in the worker).
//
// With at most `budget` subnets in the table every subnet is its own entry, as it always was. Beyond
// that the busiest subnets alone would leave the long tail — most subnets, and with Zipf demand a
// large share of the demand (a quarter in the scale harness's world) — with no series at all,
// answered by geolocation. Instead the budget is spent in four steps:
//
//   1. cover      the table is covered by the coarsest aggregation prefixes (`ipv4_prefixes[0]`,
//                 e.g. a /8 of one registry region), heaviest first; each such entry exports the
//                 demand of the subnets under it that have no entry of their own, and their RTT
//                 (mean weighted by connections, over the members with a learned RTT);
//   2. exact      the busiest subnets, up to `exact_share` × budget, become entries of their own (the
//                 heaviest sources: the scheduler moves their demand one by one);
//   3. refine     while budget is left, the prefix one level finer (down to single subnets) whose
//                 carving out of its parent entry most reduces the demand-weighted squared RTT error
//                 of the entries, Σ w·(rtt − rtt of its entry)²: the between-group term
//                 w_c·w_r/(w_c + w_r)·(m_c − m_r)² of the child and the parent's remainder, from
//                 running sums. A prefix whose subnets disagree (two countries behind one /12) is
//                 split first; a coherent one stays whole;
//   4. fill       budget still left goes to the busiest remaining subnets.
//
// A coarse entry is never narrowed to its last member: it also answers for the addresses under it
// this agent has not seen. A client of an aggregate is answered from the longest learned prefix by
// sluice dns (with the scope the answer depends on: dns/answer/choose.ts); the scheduler treats each
// entry as one subnet source (placed by longest-prefix match, scheduler/loop/locate.ts). Entries nest (a /16 and a /24 inside it): each subnet is counted in
// exactly one entry, its longest one.
import { ipToBytes } from '../../model/addresses.ts'; // not primitives.ts: that loads zod (agent/footprint.test.ts)
import type { SubnetEntry } from './subnet-table.ts';

export interface AggregationOptions {
  /** Aggregation prefix lengths for IPv4, coarse to fine, each shorter than the subnet prefix; [] = off. */
  ipv4Prefixes: number[];
  ipv6Prefixes: number[];
  /** Share of the budget given to the busiest subnets as exact entries (step 1). */
  exactShare: number;
  /** The learning table's subnet prefix lengths (24 / 48 by default). */
  ipv4Prefix: number;
  ipv6Prefix: number;
  /**
   * Prefixes exported by the last plan: they keep their entry unless another prefix reduces the
   * error clearly more (their gain counts STICKY times), so entries — Prometheus series — do not churn
   * from poll to poll on noise.
   */
  previous?: { has(prefix: string): boolean };
}

/** How much more a prefix exported last time counts when choosing what to refine (see `previous`). */
export const STICKY = 1.5;

export interface ExportGroup {
  /** The entry's CIDR (a subnet's own, or an aggregation prefix). */
  prefix: string;
  /** A single subnet exported as itself. */
  exact: boolean;
  members: SubnetEntry[];
}

export interface ExportPlan {
  groups: ExportGroup[];
  /** Subnets in the table that no entry covers (only when even the coarse prefixes exceed the budget). */
  uncovered: number;
}

/**
 * The prefix tree over the table's subnets. Aggregation prefixes (a few thousand at most) are objects;
 * the subnets (leaves, up to 100k) are columns indexed by their position in traffic order: a leaf as an
 * object with its sums cost ~200 bytes of garbage each time the plan was made. A tree position is a
 * number: a leaf's index (>= 0), or ~k for the k-th aggregation prefix.
 */
interface Prefix {
  /** Its tree position (~index in Tree.prefixes). */
  pos: number;
  level: number;
  family: 4 | 6;
  /** Masked address: uint32 (IPv4) or bytes (IPv6). */
  v4: number;
  v6: Uint8Array | null;
  parent: Prefix | null;
  /** Tree positions of its children (aggregation prefixes and leaves), in the order they were met. */
  children: number[];
  // The subtree's sums: weight (demand) of every member; weight and weight·rtt of the members with an
  // RTT; member count.
  w: number;
  wr: number;
  s1: number;
  n: number;
  // What this prefix exports once chosen: its subtree minus chosen descendants (the same sums).
  rwr: number;
  rs1: number;
  rn: number;
  chosen: boolean;
  /** The prefix text, built when needed. */
  text: string | null;
}

/** Demand weight of a subnet: its connections (what the busiest-first order has always used). */
function weightOf(e: SubnetEntry): number {
  return Math.max(e.connections, 0);
}

const byTraffic = (a: SubnetEntry, b: SubnetEntry): number => b.connections - a.connections || b.samples - a.samples || (a.subnet < b.subnet ? -1 : 1);

/**
 * A subnet's address: IPv4 as a uint32 (v6 null), or IPv6 bytes; null when unparsable. IPv4 is read
 * from the string's characters, allocating nothing: the plan reads all 100k subnets each time it runs.
 */
function parseLeaf(subnet: string): { v4: number; v6: Uint8Array | null } | null {
  const slash = subnet.indexOf('/');
  const end = slash < 0 ? subnet.length : slash;
  let v4 = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < end; i++) {
    const c = subnet.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      octet = octet * 10 + (c - 48);
      digits++;
    } else if (c === 46 && digits > 0 && octet <= 255 && dots < 3) {
      v4 = v4 * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else {
      digits = -1;
      break;
    }
  }
  if (digits > 0 && dots === 3 && octet <= 255) return { v4: v4 * 256 + octet, v6: null };
  const bytes = ipToBytes(subnet.slice(0, end));
  return bytes ? { v4: 0, v6: bytes } : null;
}

function mask4(a: number, prefix: number): number {
  return prefix === 0 ? 0 : (a & (0xffffffff << (32 - prefix))) >>> 0;
}

function mask6(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) {
    const bits = Math.max(0, Math.min(8, prefix - i * 8));
    out[i] = bits === 0 ? 0 : bytes[i]! & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

/** Map key of an IPv6 prefix: its significant bytes as a short string. */
function key6(bytes: Uint8Array, prefix: number): string {
  let s = '';
  const full = prefix >> 3;
  for (let i = 0; i < full; i++) s += String.fromCharCode(bytes[i]!);
  if (prefix & 7) s += String.fromCharCode(bytes[full]! & ((0xff << (8 - (prefix & 7))) & 0xff));
  return s;
}

function cidr4(a: number, prefix: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/${prefix}`;
}

function cidr6(bytes: Uint8Array, prefix: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  // Compress the longest run of zero groups (RFC 5952), as the rest of sluice writes addresses.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const text = bestStart < 0 ? groups.join(':') : `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLen).join(':')}`;
  return `${text}/${prefix}`;
}

/** The tree: aggregation prefixes, and the leaves' columns (see Prefix). */
class Tree {
  readonly prefixes: Prefix[] = [];
  readonly roots: number[] = [];
  // Leaves: weight, weight with an RTT, weight·rtt; chosen as an entry; parent prefix.
  readonly w: Float64Array;
  readonly wr: Float64Array;
  readonly s1: Float64Array;
  readonly chosen: Uint8Array;
  readonly parent: (Prefix | null)[];

  constructor(readonly leaves: readonly SubnetEntry[]) {
    const n = leaves.length;
    this.w = new Float64Array(n);
    this.wr = new Float64Array(n);
    this.s1 = new Float64Array(n);
    this.chosen = new Uint8Array(n);
    this.parent = new Array<Prefix | null>(n).fill(null);
  }

  newPrefix(level: number, family: 4 | 6, v4: number, v6: Uint8Array | null, parent: Prefix | null): Prefix {
    const p: Prefix = { pos: ~this.prefixes.length, level, family, v4, v6, parent, children: [], w: 0, wr: 0, s1: 0, n: 0, rwr: 0, rs1: 0, rn: 0, chosen: false, text: null };
    this.prefixes.push(p);
    return p;
  }

  /** The prefix at tree position ~k (k = ~pos). */
  prefix(pos: number): Prefix {
    return this.prefixes[~pos]!;
  }

  weight(pos: number): number {
    return pos >= 0 ? this.w[pos]! : this.prefix(pos).w;
  }

  members(pos: number): number {
    return pos >= 0 ? 1 : this.prefix(pos).n;
  }

  isChosen(pos: number): boolean {
    return pos >= 0 ? this.chosen[pos] === 1 : this.prefix(pos).chosen;
  }

  parentOf(pos: number): Prefix | null {
    return pos >= 0 ? this.parent[pos]! : this.prefix(pos).parent;
  }

  /** The nearest chosen ancestor (what carving `pos` would take it out of). */
  chosenAncestor(pos: number): Prefix | null {
    for (let p = this.parentOf(pos); p; p = p.parent) if (p.chosen) return p;
    return null;
  }

  prefixText(pos: number): string {
    if (pos >= 0) return this.leaves[pos]!.subnet;
    const p = this.prefix(pos);
    if (p.text === null) p.text = p.family === 4 ? cidr4(p.v4, p.level) : cidr6(p.v6!, p.level);
    return p.text;
  }

  /** Between-group reduction of the squared RTT error when `pos` is carved out of `from`'s remainder. */
  gainOf(pos: number, from: Prefix): number {
    const wr = pos >= 0 ? this.wr[pos]! : this.prefix(pos).wr;
    const s1 = pos >= 0 ? this.s1[pos]! : this.prefix(pos).s1;
    const restW = from.rwr - wr;
    if (wr <= 0 || restW <= 1e-9 * from.rwr) return 0;
    const mc = s1 / wr;
    const mr = (from.rs1 - s1) / restW;
    return ((wr * restW) / (wr + restW)) * (mc - mr) ** 2;
  }

  /** Marks `pos` an entry; `from` (its nearest chosen ancestor, if any) no longer counts its subtree. */
  carve(pos: number, from: Prefix | null): void {
    if (pos >= 0) {
      this.chosen[pos] = 1;
      if (from) {
        from.rwr -= this.wr[pos]!;
        from.rs1 -= this.s1[pos]!;
        from.rn -= 1;
      }
      return;
    }
    const c = this.prefix(pos);
    c.chosen = true;
    c.rwr = c.wr;
    c.rs1 = c.s1;
    c.rn = c.n;
    if (!from) return;
    from.rwr -= c.wr;
    from.rs1 -= c.s1;
    from.rn -= c.n;
  }
}

/** Max-heap of candidate carves (tree position, the gain it had when pushed). */
class CandidateHeap {
  private nodes: number[] = [];
  private gains: number[] = [];
  get size(): number {
    return this.nodes.length;
  }
  push(n: number, g: number): void {
    this.nodes.push(n);
    this.gains.push(g);
    let i = this.nodes.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.gains[p]! >= this.gains[i]!) break;
      this.swap(i, p);
      i = p;
    }
  }
  topGain(): number {
    return this.gains[0]!;
  }
  pop(): number {
    const top = this.nodes[0]!;
    const lastN = this.nodes.pop()!;
    const lastG = this.gains.pop()!;
    if (this.nodes.length > 0) {
      this.nodes[0] = lastN;
      this.gains[0] = lastG;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.nodes.length && this.gains[l]! > this.gains[m]!) m = l;
        if (r < this.nodes.length && this.gains[r]! > this.gains[m]!) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
  private swap(a: number, b: number): void {
    const n = this.nodes[a]!;
    this.nodes[a] = this.nodes[b]!;
    this.nodes[b] = n;
    const g = this.gains[a]!;
    this.gains[a] = this.gains[b]!;
    this.gains[b] = g;
  }
}

/** The prefix tree of the table's subnets (in traffic order): one map per (family, level), coarse to fine. */
function buildTree(all: readonly SubnetEntry[], o: AggregationOptions): Tree {
  const t = new Tree(all);
  const levels4 = o.ipv4Prefixes.filter((p) => p < o.ipv4Prefix);
  const levels6 = o.ipv6Prefixes.filter((p) => p < o.ipv6Prefix);
  const maps4 = levels4.map(() => new Map<number, Prefix>());
  const maps6 = levels6.map(() => new Map<string, Prefix>());
  for (let i = 0; i < all.length; i++) {
    const e = all[i]!;
    const p = parseLeaf(e.subnet);
    if (!p) continue;
    const family = p.v6 ? 6 : 4;
    const w = weightOf(e);
    const rtt = e.ewmaUs;
    const wr = rtt !== undefined ? w : 0;
    const s1 = rtt !== undefined ? w * rtt : 0;
    let parent: Prefix | null = null;
    const levels = family === 4 ? levels4 : levels6;
    for (let k = 0; k < levels.length; k++) {
      const level = levels[k]!;
      let node: Prefix | undefined;
      if (family === 4) {
        const a = mask4(p.v4, level);
        node = maps4[k]!.get(a);
        if (!node) maps4[k]!.set(a, (node = t.newPrefix(level, 4, a, null, parent)));
      } else {
        const key = key6(p.v6!, level);
        node = maps6[k]!.get(key);
        if (!node) maps6[k]!.set(key, (node = t.newPrefix(level, 6, 0, mask6(p.v6!, level), parent)));
      }
      if (node.n === 0) {
        if (parent) parent.children.push(node.pos);
        else t.roots.push(node.pos);
      }
      node.w += w;
      node.wr += wr;
      node.s1 += s1;
      node.n++;
      parent = node;
    }
    t.w[i] = w;
    t.wr[i] = wr;
    t.s1[i] = s1;
    t.parent[i] = parent;
    if (parent) parent.children.push(i);
    else t.roots.push(i); // a family without aggregation levels: only ever an exact entry
  }
  return t;
}

export function planExport(entries: Iterable<SubnetEntry>, budget: number, o: AggregationOptions): ExportPlan {
  const all = [...entries].sort(byTraffic);
  if (all.length <= budget || (o.ipv4Prefixes.length === 0 && o.ipv6Prefixes.length === 0)) {
    // Everything fits (or aggregation is off): the busiest `budget` subnets, each its own entry.
    const top = all.length <= budget ? all : all.slice(0, budget);
    return { groups: top.map((e) => ({ prefix: e.subnet, exact: true, members: [e] })), uncovered: all.length - top.length };
  }
  const t = buildTree(all, o);
  const leaves = all.length;

  let left = budget;
  // 1. Cover: the coarsest prefixes, heaviest first (a family without levels has its subnets as roots).
  const roots = [...t.roots].sort((a, b) => t.weight(b) - t.weight(a) || t.members(b) - t.members(a));
  let covered = 0;
  for (const r of roots) {
    if (left === 0) break;
    t.carve(r, null);
    covered += t.members(r);
    left--;
  }
  // 2. Exact: the busiest subnets (leaves are in traffic order), never emptying their parent entry.
  let exact = Math.min(left, Math.floor(budget * o.exactShare));
  for (let leaf = 0; leaf < leaves; leaf++) {
    if (exact === 0) break;
    if (t.chosen[leaf]) continue;
    const from = t.chosenAncestor(leaf);
    if (!from || from.rn <= 1) continue;
    t.carve(leaf, from);
    exact--;
    left--;
  }
  // 3. Refine by RTT error reduction (lazy greedy: a popped gain is re-checked against the parent's
  // remainder as it is now, and pushed back when it has fallen). Zero when carving would empty the
  // parent (gainOf).
  const heap = new CandidateHeap();
  const gain = (c: number, from: Prefix): number => {
    const g = t.gainOf(c, from);
    return g > 0 && o.previous?.has(t.prefixText(c)) ? g * STICKY : g;
  };
  const pushChildren = (p: Prefix): void => {
    for (const c of p.children) if (!t.isChosen(c)) heap.push(c, gain(c, p));
  };
  for (const r of roots) if (r < 0 && t.prefix(r).chosen) pushChildren(t.prefix(r));
  while (left > 0 && heap.size > 0 && heap.topGain() > 0) {
    const c = heap.pop();
    if (t.isChosen(c)) continue;
    const from = t.chosenAncestor(c);
    if (!from) continue;
    const g = gain(c, from);
    if (g <= 0) continue;
    if (heap.size > 0 && g < heap.topGain() * (1 - 1e-9)) {
      heap.push(c, g);
      continue;
    }
    t.carve(c, from);
    left--;
    if (c < 0) pushChildren(t.prefix(c));
  }
  // 4. Fill: the busiest subnets not yet an entry of their own.
  for (let leaf = 0; leaf < leaves; leaf++) {
    if (left === 0) break;
    if (t.chosen[leaf]) continue;
    const from = t.chosenAncestor(leaf);
    if (!from || from.rn <= 1) continue;
    t.carve(leaf, from);
    left--;
  }

  // Every subnet to its nearest chosen node (entries in traffic order of their heaviest member).
  const groups: ExportGroup[] = [];
  const byPrefix = new Map<Prefix, ExportGroup>();
  for (let leaf = 0; leaf < leaves; leaf++) {
    const e = all[leaf]!;
    if (t.chosen[leaf]) {
      groups.push({ prefix: e.subnet, exact: true, members: [e] });
      continue;
    }
    const owner = t.chosenAncestor(leaf);
    if (!owner) continue;
    let g = byPrefix.get(owner);
    if (!g) {
      byPrefix.set(owner, (g = { prefix: t.prefixText(owner.pos), exact: false, members: [] }));
      groups.push(g);
    }
    g.members.push(e);
  }
  return { groups, uncovered: leaves - covered };
}
