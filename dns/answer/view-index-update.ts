// Applies a delta of the DNS view (model/view-changes.ts) to an installed index instead of building a
// new one: with a million learned subnets a rebuild costs seconds and a second index's memory, while
// a publish changes a few percent of them.
//
// Model: a record whose fields other than subnets are unchanged keeps its RecordIndex; its learned
// table is updated in place (entries set or deleted; choices for new weight maps made through the
// record's own learnedChoice, shared as in a build; the table keeps its nesting — ECS scope floors,
// nested lists — itself), then its longest prefixes and uniform flags are recomputed: O(changes). A record whose other fields changed is rebuilt from the new view (its origins,
// health or TTL shape every precomputed answer). The result is a new ViewIndex object sharing the
// records: installing it is the same one reference assignment as a full build.
//
// Invariants: everything that can fail (a CIDR that does not parse, a record that is not where the
// delta says) is checked before anything is changed, so a refused delta leaves the installed index
// exactly as it was. The update runs synchronously, without the `pace` hook: the thread that answers
// queries never sees an index half updated. The caller applies a delta only to the index of the view
// the delta was made from (same version); anything else is a full build. A change's subnets are
// parsed once (ParsedSubnets, typed arrays): by a worker for its own index, and handed so to its UDP
// thread, which applies them without the strings.
import type { DnsRecordChange } from '../../model/view-changes.ts';
import { checkCompact } from '../../model/view-codec.ts';
import type { DnsView, WeightMap } from '../../model/views.ts';
import { CIDR_IPV6, parseCidrInto } from '../../model/addresses.ts';
import { nameToWireKey } from '../wire/constants.ts';
import { buildRecord, learns, setUniform, type Authority, type RecordIndex, type ViewIndex } from './view-index.ts';
import { fnv1aString } from './hash.ts';

/**
 * One change's subnets (set, then removed) parsed once, in typed arrays: a worker parses a delta for
 * its own index and hands the result to its UDP thread, which then neither deserialises 20k strings
 * nor parses them again (and neither keeps an object per subnet alive through the update: at 1M, what
 * survived of a delta cost each runtime a full collection every other delta). Per subnet k: its
 * network in `bytes` [16k, 16k + 4 or 16), `prefix` (| IPV6 for an IPv6 one), and `map`, the index of
 * its weight map in `maps`, or REMOVED. Subnets that do not parse are in `invalid` (each is warned about).
 */
export interface ParsedSubnets {
  bytes: Uint8Array;
  prefix: Uint16Array;
  map: Int32Array;
  maps: WeightMap[];
  /**
   * Instead of `maps` (then empty): each map as its JSON text, as a cluster primary sends them
   * (engine.ts preParsed). A record looks a text up once per delta (RecordIndex.learnedChoiceOfText):
   * the ~3,500 maps of a 2 % delta at 1M are then neither cloned as objects into the worker and its
   * UDP thread nor canonicalised again in each.
   */
  mapTexts?: string[];
  /** Per map, the first subnet given it (it names the map in a warning, as in a build). */
  names: string[];
  invalid: string[];
}

/** parseCidrInto's flag, kept in `prefix` as it returns it. */
const IPV6 = CIDR_IPV6;
const REMOVED = -1;

/** A change's set and removed subnets as ParsedSubnets (throws ViewDecodeError on a malformed table). */
export function parseSubnets(c: DnsRecordChange, where: string): ParsedSubnets {
  const n = c.set.cidrs.length + c.removed.length;
  const out: ParsedSubnets = { bytes: new Uint8Array(16 * n), prefix: new Uint16Array(n), map: new Int32Array(n), maps: c.set.maps, names: new Array<string>(c.set.maps.length), invalid: [] };
  // checkCompact checks the arrays (types, lengths, indexes); a throw discards `out`. Then each
  // subnet parsed in place into the typed arrays (parseCidrInto: no object per subnet), in loops of
  // their own (V8 keeps them compiled across deltas).
  checkCompact(c.set, where);
  let k = addAll(out, 0, c.set.cidrs, c.set.map);
  k = addAll(out, k, c.removed, null);
  if (k < n) {
    out.bytes = out.bytes.slice(0, 16 * k);
    out.prefix = out.prefix.slice(0, k);
    out.map = out.map.slice(0, k);
  }
  return out;
}

/** Parses `texts` into `out` from position k (map[i] each, or REMOVED when `map` is null); the next position. */
function addAll(out: ParsedSubnets, k: number, texts: readonly string[], map: readonly number[] | null): number {
  for (let i = 0; i < texts.length; i++) {
    const text = texts[i]!;
    const v = parseCidrInto(text, out.bytes, 16 * k);
    if (v < 0) {
      out.bytes.fill(0, 16 * k, 16 * k + 16); // what a failed parse wrote there
      out.invalid.push(text);
      continue;
    }
    const m = map === null ? REMOVED : map[i]!;
    out.prefix[k] = v;
    out.map[k++] = m;
    if (m >= 0) out.names[m] ??= text;
  }
  return k;
}

export class IndexUpdateError extends Error {
  override name = 'IndexUpdateError';
}

/**
 * Parsed subnets that came from another process (a cluster primary) are checked for shape before
 * anything is changed: arrays of one length, each network 16 bytes, a prefix length its family allows.
 */
function checkParsed(p: ParsedSubnets, host: string): void {
  const n = p.prefix?.length;
  const ok = p.bytes instanceof Uint8Array && p.prefix instanceof Uint16Array && p.map instanceof Int32Array && Array.isArray(p.maps) && (p.mapTexts === undefined || Array.isArray(p.mapTexts)) && Array.isArray(p.names) && Array.isArray(p.invalid);
  if (!ok || p.map.length !== n || p.bytes.length !== 16 * n) throw new IndexUpdateError(`${host}: parsed subnets of inconsistent shape`);
  for (let k = 0; k < n; k++) {
    const v = p.prefix[k]!;
    if ((v & 0xff) > (v & IPV6 ? 128 : 32) || (v & ~(IPV6 | 0xff)) !== 0) throw new IndexUpdateError(`${host}: parsed subnet ${k} has prefix ${v & 0xff}`);
  }
}

/**
 * `prev`: the index of the view the delta was made from; `next`: the view after it (applyChanges).
 * Throws IndexUpdateError (nothing changed) when the delta does not fit `prev`.
 */
export function updateViewIndex(prev: ViewIndex, next: DnsView, changes: DnsRecordChange[], authority: Authority, installedAt = Date.now(), parsed?: readonly (ParsedSubnets | undefined)[]): ViewIndex {
  const warnings: string[] = [];
  const rebuilt = new Map<string, RecordIndex>();
  const updates: { rec: RecordIndex; subnets: ParsedSubnets; choices: Int32Array }[] = [];
  for (let ci = 0; ci < changes.length; ci++) {
    const c = changes[ci]!;
    const rv = next.zones[c.zone]?.records[c.record];
    if (!rv) throw new IndexUpdateError(`no record at zones[${c.zone}].records[${c.record}]`);
    const host = rv.hostname.toLowerCase().replace(/\.$/, '');
    const key = nameToWireKey(host);
    const rec = prev.records.get(key);
    if (!rec || rec.loadBalancerId !== c.load_balancer_id) throw new IndexUpdateError(`record ${host} (${c.load_balancer_id}) is not in the index the delta applies to`);
    if (c.meta) {
      rebuilt.set(key, buildRecord(rv, host, key, warnings, undefined));
      continue;
    }
    if (!learns(rec)) continue;
    const subnets = parsed?.[ci] ?? parseSubnets(c, `${host}: set`);
    checkParsed(subnets, host);
    for (const text of subnets.invalid) warnings.push(`${host}: subnet "${text}" is not a CIDR with host bits clear; skipped`);
    updates.push({ rec, subnets, choices: choicesOf(rec, subnets, host, warnings) });
  }

  // Nothing below can fail: the index changes from here on.
  for (const { rec, subnets, choices } of updates) {
    storeChoices(rec, subnets, choices);
    rec.learnedLongest4 = rec.learned.longest(4);
    rec.learnedLongest6 = rec.learned.longest(6);
    setUniform(rec);
  }
  let records = prev.records;
  let byHash = prev.byHash;
  if (rebuilt.size > 0) {
    records = new Map(prev.records);
    for (const [key, rec] of rebuilt) records.set(key, rec);
    byHash = new Map();
    for (const rec of records.values()) {
      const h = fnv1aString(rec.key);
      byHash.set(h, byHash.has(h) ? null : rec);
    }
  }
  const numeric = /^\d+$/.test(next.version) ? Number(next.version) : NaN;
  const serial = Number.isSafeInteger(numeric) ? numeric % 0x100000000 : Math.floor(installedAt / 1000) % 0x100000000;
  return { ...prev, version: next.version, weightsVersion: next.weights_version, serial, records, byHash, authority, warnings };
}

// The two loops over a delta's subnets are functions of their own: in one function with the rest,
// V8 compiled it on the stack mid-loop once per delta and dropped that code when the code after the
// loop ran (measured: updateViewIndex deoptimised and compiled again on every delta in both runtimes,
// most of the worker's helper-thread CPU per delta). Small, they stay compiled across deltas.

/**
 * Each subnet's choice id (-1: removed). A delta's table holds each distinct map once: its choice is
 * looked up once, not canonicalised again per subnet. A map's first subnet names it in any warning
 * about the map, as a build does. Throws IndexUpdateError (before anything changed).
 */
function choicesOf(rec: RecordIndex, subnets: ParsedSubnets, host: string, warnings: string[]): Int32Array {
  const texts = subnets.mapTexts;
  const maps = texts?.length ?? subnets.maps.length;
  const byMap = new Int32Array(maps).fill(-2);
  const choices = new Int32Array(subnets.map.length);
  for (let k = 0; k < subnets.map.length; k++) {
    const m = subnets.map[k]!;
    if (m === REMOVED) choices[k] = -1;
    else if (m < 0 || m >= maps) throw new IndexUpdateError(`${host}: subnet ${k} names weight map ${m} of ${maps}`);
    else {
      if (byMap[m] === -2) {
        const name = subnets.names[m] ?? '';
        if (!texts) byMap[m] = rec.learnedChoice(subnets.maps[m]!, name, warnings);
        else if (typeof texts[m] === 'string') byMap[m] = rec.learnedChoiceOfText(texts[m], name, warnings);
        else throw new IndexUpdateError(`${host}: weight map ${m} is not a JSON text`);
      }
      choices[k] = byMap[m]!;
    }
  }
  return choices;
}

/**
 * The subnets into the record's learned table. The table keeps every ECS scope floor and nested list
 * itself as networks come and go (learned-table.ts, live after the build's nesting walk): O(changes),
 * no walk over the record's networks. A new weight map for a network already learned changes none of them.
 */
function storeChoices(rec: RecordIndex, subnets: ParsedSubnets, choices: Int32Array): void {
  const { bytes, prefix } = subnets;
  const learned = rec.learned;
  for (let k = 0; k < choices.length; k++) {
    const p = prefix[k]!;
    // A map with nothing usable answers as an unlearned subnet does: removed, as a build skips it.
    if (choices[k]! >= 0) learned.insertAt(bytes, 16 * k, (p & IPV6) !== 0, p & 0xff, choices[k]!);
    else learned.deleteAt(bytes, 16 * k, (p & IPV6) !== 0, p & 0xff);
  }
}
