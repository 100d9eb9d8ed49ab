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

/** A node of the prefix tree over the table's subnets: an aggregation prefix, or a subnet (leaf). */
interface Node {
  level: number;
  family: 4 | 6;
  /** Masked address: uint32 (IPv4) or bytes (IPv6). */
  v4: number;
  v6: Uint8Array | null;
  parent: Node | null;
  children: Node[] | null;
  /** The subnet itself when this node is a table entry. */
  leaf: SubnetEntry | null;
  // The subtree's sums: weight (demand) of every member; weight, weight·rtt, weight·rtt² of the members
  // with an RTT; member count.
  w: number;
  wr: number;
  s1: number;
  s2: number;
  n: number;
  // What this node exports once chosen: its subtree minus chosen descendants (the same sums).
  rw: number;
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

function prefixOf(node: Node): string {
  if (node.text === null) node.text = node.leaf ? node.leaf.subnet : node.family === 4 ? cidr4(node.v4, node.level) : cidr6(node.v6!, node.level);
  return node.text;
}

/** Between-group reduction of the squared RTT error when `c` is carved out of `from`'s remainder. */
function gainOf(c: Node, from: Node): number {
  const restW = from.rwr - c.wr;
  if (c.wr <= 0 || restW <= 1e-9 * from.rwr) return 0;
  const mc = c.s1 / c.wr;
  const mr = (from.rs1 - c.s1) / restW;
  return ((c.wr * restW) / (c.wr + restW)) * (mc - mr) ** 2;
}

/** Max-heap of candidate carves (child, the gain it had when pushed). */
class CandidateHeap {
  private nodes: Node[] = [];
  private gains: number[] = [];
  get size(): number {
    return this.nodes.length;
  }
  push(n: Node, g: number): void {
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
  pop(): Node {
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

/** The nearest chosen ancestor (what carving `n` would take it out of). */
function chosenAncestor(n: Node): Node | null {
  for (let p = n.parent; p; p = p.parent) if (p.chosen) return p;
  return null;
}

function newNode(level: number, family: 4 | 6, v4: number, v6: Uint8Array | null, parent: Node | null, leaf: SubnetEntry | null): Node {
  return { level, family, v4, v6, parent, children: null, leaf, w: 0, wr: 0, s1: 0, s2: 0, n: 0, rw: 0, rwr: 0, rs1: 0, rn: 0, chosen: false, text: null };
}

/** Marks `c` an entry; `from` (its nearest chosen ancestor, if any) no longer counts c's subtree. */
function carve(c: Node, from: Node | null): void {
  c.chosen = true;
  c.rw = c.w;
  c.rwr = c.wr;
  c.rs1 = c.s1;
  c.rn = c.n;
  if (!from) return;
  from.rw -= c.w;
  from.rwr -= c.wr;
  from.rs1 -= c.s1;
  from.rn -= c.n;
}

export function planExport(entries: Iterable<SubnetEntry>, budget: number, o: AggregationOptions): ExportPlan {
  const all = [...entries].sort(byTraffic);
  if (all.length <= budget || (o.ipv4Prefixes.length === 0 && o.ipv6Prefixes.length === 0)) {
    // Everything fits (or aggregation is off): the busiest `budget` subnets, each its own entry.
    const top = all.length <= budget ? all : all.slice(0, budget);
    return { groups: top.map((e) => ({ prefix: e.subnet, exact: true, members: [e] })), uncovered: all.length - top.length };
  }

  // The prefix tree: one map per (family, level), coarse to fine; then the subnets as leaves.
  const maps4 = o.ipv4Prefixes.filter((p) => p < o.ipv4Prefix).map(() => new Map<number, Node>());
  const maps6 = o.ipv6Prefixes.filter((p) => p < o.ipv6Prefix).map(() => new Map<string, Node>());
  const levels4 = o.ipv4Prefixes.filter((p) => p < o.ipv4Prefix);
  const levels6 = o.ipv6Prefixes.filter((p) => p < o.ipv6Prefix);
  const roots: Node[] = [];
  const leaves: Node[] = [];
  for (const e of all) {
    const p = parseLeaf(e.subnet);
    if (!p) continue;
    const family = p.v6 ? 6 : 4;
    const w = weightOf(e);
    const rtt = e.ewmaUs;
    const wr = rtt !== undefined ? w : 0;
    const s1 = rtt !== undefined ? w * rtt : 0;
    const s2 = rtt !== undefined ? w * rtt * rtt : 0;
    let parent: Node | null = null;
    const levels = family === 4 ? levels4 : levels6;
    for (let k = 0; k < levels.length; k++) {
      const level = levels[k]!;
      let node: Node | undefined;
      if (family === 4) {
        const a = mask4(p.v4, level);
        node = maps4[k]!.get(a);
        if (!node) maps4[k]!.set(a, (node = newNode(level, 4, a, null, parent, null)));
      } else {
        const key = key6(p.v6!, level);
        node = maps6[k]!.get(key);
        if (!node) maps6[k]!.set(key, (node = newNode(level, 6, 0, mask6(p.v6!, level), parent, null)));
      }
      if (node.n === 0) {
        if (parent) (parent.children ??= []).push(node);
        else roots.push(node);
      }
      node.w += w;
      node.wr += wr;
      node.s1 += s1;
      node.s2 += s2;
      node.n++;
      parent = node;
    }
    const leaf = newNode(family === 4 ? o.ipv4Prefix : o.ipv6Prefix, family, p.v4, p.v6, parent, e);
    leaf.w = w;
    leaf.wr = wr;
    leaf.s1 = s1;
    leaf.s2 = s2;
    leaf.n = 1;
    if (parent) (parent.children ??= []).push(leaf);
    else roots.push(leaf); // a family without aggregation levels: only ever an exact entry
    leaves.push(leaf);
  }

  let left = budget;
  // 1. Cover: the coarsest prefixes, heaviest first (a family without levels has its subnets as roots).
  roots.sort((a, b) => b.w - a.w || b.n - a.n);
  let covered = 0;
  for (const r of roots) {
    if (left === 0) break;
    carve(r, null);
    covered += r.n;
    left--;
  }
  // 2. Exact: the busiest subnets (leaves are in traffic order), never emptying their parent entry.
  let exact = Math.min(left, Math.floor(budget * o.exactShare));
  for (const leaf of leaves) {
    if (exact === 0) break;
    if (leaf.chosen) continue;
    const from = chosenAncestor(leaf);
    if (!from || from.rn <= 1) continue;
    carve(leaf, from);
    exact--;
    left--;
  }
  // 3. Refine by RTT error reduction (lazy greedy: a popped gain is re-checked against the parent's
  // remainder as it is now, and pushed back when it has fallen). Zero when carving would empty the
  // parent (gainOf).
  const heap = new CandidateHeap();
  const gain = (c: Node, from: Node): number => {
    const g = gainOf(c, from);
    return g > 0 && o.previous?.has(prefixOf(c)) ? g * STICKY : g;
  };
  const pushChildren = (node: Node): void => {
    for (const c of node.children ?? []) if (!c.chosen) heap.push(c, gain(c, node));
  };
  for (const r of roots) if (r.chosen) pushChildren(r);
  for (const leaf of leaves) if (leaf.chosen && leaf.children) pushChildren(leaf);
  while (left > 0 && heap.size > 0 && heap.topGain() > 0) {
    const c = heap.pop();
    if (c.chosen) continue;
    const from = chosenAncestor(c);
    if (!from) continue;
    const g = gain(c, from);
    if (g <= 0) continue;
    if (heap.size > 0 && g < heap.topGain() * (1 - 1e-9)) {
      heap.push(c, g);
      continue;
    }
    carve(c, from);
    left--;
    pushChildren(c);
  }
  // 4. Fill: the busiest subnets not yet an entry of their own.
  for (const leaf of leaves) {
    if (left === 0) break;
    if (leaf.chosen) continue;
    const from = chosenAncestor(leaf);
    if (!from || from.rn <= 1) continue;
    carve(leaf, from);
    left--;
  }

  // Every subnet to its nearest chosen node (entries in traffic order of their heaviest member).
  const groups: ExportGroup[] = [];
  const byNode = new Map<Node, ExportGroup>();
  for (const leaf of leaves) {
    const owner = leaf.chosen ? leaf : chosenAncestor(leaf);
    if (!owner) continue;
    let g = byNode.get(owner);
    if (!g) {
      byNode.set(owner, (g = { prefix: prefixOf(owner), exact: owner.leaf !== null, members: [] }));
      groups.push(g);
    }
    g.members.push(leaf.leaf!);
  }
  return { groups, uncovered: all.length - covered };
}
