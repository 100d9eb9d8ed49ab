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
// the delta was made from (same version); anything else is a full build.
import type { DnsRecordChange } from '../../model/view-changes.ts';
import { forEachCompact } from '../../model/view-codec.ts';
import type { DnsView, WeightMap } from '../../model/views.ts';
import { parseCidr, type ParsedCidr } from '../../model/primitives.ts';
import { nameToWireKey } from '../wire/constants.ts';
import { buildRecord, learns, setUniform, type Authority, type RecordIndex, type ViewIndex } from './view-index.ts';
import { fnv1aString } from './hash.ts';

/** `choice`: the id to store, or -1 to delete the network. */
type Op = { cidr: ParsedCidr; choice: number };

export class IndexUpdateError extends Error {
  override name = 'IndexUpdateError';
}

/**
 * `prev`: the index of the view the delta was made from; `next`: the view after it (applyChanges).
 * Throws IndexUpdateError (nothing changed) when the delta does not fit `prev`.
 */
export function updateViewIndex(prev: ViewIndex, next: DnsView, changes: DnsRecordChange[], authority: Authority, installedAt = Date.now()): ViewIndex {
  const warnings: string[] = [];
  const rebuilt = new Map<string, RecordIndex>();
  const updates: { rec: RecordIndex; ops: Op[] }[] = [];
  for (const c of changes) {
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
    const ops: Op[] = [];
    // A delta's table holds each distinct map once (forEachCompact passes the same object for every
    // subnet of it): its choice is looked up once, not canonicalised again per subnet.
    const choiceOf = new Map<WeightMap, number>();
    const add = (cidrText: string, weights: WeightMap | null) => {
      const cidr = parseCidr(cidrText);
      if (!cidr) {
        warnings.push(`${host}: subnet "${cidrText}" is not a CIDR with host bits clear; skipped`);
        return;
      }
      let choice = -1;
      if (weights) {
        const known = choiceOf.get(weights);
        // A map's first subnet names it in any warning about the map, as a build does.
        choice = known ?? rec.learnedChoice(weights, cidrText, warnings);
        if (known === undefined) choiceOf.set(weights, choice);
      }
      ops.push({ cidr, choice });
    };
    forEachCompact(c.set, `${host}: set`, add);
    for (const cidrText of c.removed) add(cidrText, null);
    updates.push({ rec, ops });
  }

  // Nothing below can fail: the index changes from here on.
  for (const { rec, ops } of updates) {
    // The learned table keeps every ECS scope floor and nested list itself as networks come and go
    // (learned-table.ts, live after the build's nesting walk): O(changes), no walk over the record's
    // networks. A new weight map for a network already learned changes none of them.
    for (const { cidr, choice } of ops) {
      // A map with nothing usable answers as an unlearned subnet does: removed, as a build skips it.
      if (choice >= 0) rec.learned.insert(cidr.bytes, cidr.prefix, choice);
      else rec.learned.delete(cidr.bytes, cidr.prefix);
    }
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
