// The DNS view as the process that follows the API holds it (the cluster primary, or the single
// process): the view's skeleton (every record with its `subnets` empty: record positions, load
// balancer ids, origins, health) beside each record's learned table packed (packed-subnets.ts). It is
// the base deltas are checked against and applied to, in place, O(changes); what it hands on is
// rendered from it: the compact view for a worker's full index or resync and for the view cache, and
// a rebuilt record's whole table for a delta (withTables).
//
// Invariant: rendering a packed view gives the compact view of the object view the same full view
// and deltas would have built (model/view-codec.ts toCompactView of applyChanges' result).
import type { DnsView } from '../../model/views.ts';
import type { CompactDnsView, CompactSubnets, DnsRecordChange } from '../../model/view-changes.ts';
import { compactSubnetsJsonSteps } from '../../model/view-codec.ts';
import { arrayOfJsonSteps, keyJsonSteps } from '../../lib/json-steps.ts';
import type { Steps } from '../../lib/steps.ts';
import { skeletonOf } from '../server/engine.ts';
import type { ViewDelta } from '../view-changes.ts';
import { PackedSubnets } from './packed-subnets.ts';

export interface PackedView {
  /** The view with every record's subnets empty (engine.ts skeletonOf). */
  view: DnsView;
  /** tables[zone][record]: that record's learned subnets. */
  tables: PackedSubnets[][];
}

/** A compact view (the API's full answer, the view cache), each table checked element by element (throws ViewDecodeError). */
export function packCompactView(c: CompactDnsView): PackedView {
  return { view: skeletonOf(c), tables: c.zones.map((z, zi) => z.records.map((r, ri) => PackedSubnets.fromCompact(r.subnets, `zones[${zi}].records[${ri}].subnets`))) };
}

/** A view with its subnets in the records (a view file, GET /dns/view: already checked by parseView). */
export function packView(v: DnsView): PackedView {
  return { view: skeletonOf(v), tables: v.zones.map((z) => z.records.map((r) => PackedSubnets.fromObject(r.subnets))) };
}

/**
 * The view after `changes`, which were checked against `held` (model/view-codec.ts checkChanges):
 * its tables are updated in place (the view before is gone: its owner must hold no other reference
 * to it as a view to fall back on), its skeleton copied with the rebuilt records' new fields.
 */
export function applyPackedChanges(held: PackedView, changes: readonly DnsRecordChange[], header: { version: string; seq: number | null; weights_version: number | null }, mapTexts?: readonly (readonly string[])[]): PackedView {
  const zones = held.view.zones.map((z) => ({ zone: z.zone, records: [...z.records] }));
  for (let i = 0; i < changes.length; i++) {
    const c = changes[i]!;
    held.tables[c.zone]![c.record]!.apply(c.set, c.removed, mapTexts?.[i]);
    if (c.meta) zones[c.zone]!.records[c.record] = { ...c.meta, subnets: {} };
  }
  return { view: { version: header.version, seq: header.seq, weights_version: header.weights_version, zones }, tables: held.tables };
}

/** Each record's table in the compact encoding (what a serving process indexes from: view-index.ts LearnedTables). */
export function compactTablesOf(p: PackedView): CompactSubnets[][] {
  return p.tables.map((z) => z.map((t) => t.toCompact()));
}

/** The whole view in the compact encoding (a worker's full view or resync). */
export function compactViewOf(p: PackedView): CompactDnsView {
  return { ...p.view, zones: p.view.zones.map((z, zi) => ({ zone: z.zone, records: z.records.map((r, ri) => ({ ...metaOf(r), subnets: p.tables[zi]![ri]!.toCompact() })) })) };
}

/** The whole view with its subnets in the records (tests, and comparing with the object path). */
export function expandPackedView(p: PackedView): DnsView {
  return { ...p.view, zones: p.view.zones.map((z, zi) => ({ zone: z.zone, records: z.records.map((r, ri) => ({ ...r, subnets: Object.fromEntries(p.tables[zi]![ri]!.entries()) })) })) };
}

/** JSON.stringify(compactViewOf(p)) in steps, `zones` written last (the view cache; see model/view-codec.ts compactViewJsonSteps). */
export function* packedViewJsonSteps(p: PackedView, sink: (piece: string) => void): Steps<void> {
  const { zones, ...head } = p.view;
  yield* keyJsonSteps({ ...head, zones }, 'zones', sink, (zs) =>
    arrayOfJsonSteps(
      zs.map((z, zi) => ({ zone: z.zone, records: z.records.map((r, ri) => ({ r, t: p.tables[zi]![ri]! })) })),
      sink,
      (z) =>
        keyJsonSteps(z, 'records', sink, (records) =>
          arrayOfJsonSteps(records, sink, function* ({ r, t }) {
            const compact = yield* t.toCompactSteps();
            yield* keyJsonSteps({ ...metaOf(r), subnets: compact }, 'subnets', sink, (c) => compactSubnetsJsonSteps(c, sink));
          }),
        ),
    ),
  );
}

/** `delta` with the whole subnet table of each record it rebuilds (a worker keeps no subnets), from `p`: the view after it. */
export function withTables(delta: ViewDelta, p: PackedView): ViewDelta {
  const tables = delta.changes.filter((c) => c.meta).map((c) => ({ zone: c.zone, record: c.record, subnets: p.tables[c.zone]![c.record]!.toCompact() }));
  return tables.length > 0 ? { ...delta, tables } : delta;
}

function metaOf<R extends { subnets: unknown }>(r: R): Omit<R, 'subnets'> {
  const { subnets: _, ...meta } = r;
  return meta;
}
