// The DNS view's delta protocol (GET /api/v1/dns/view/changes): what a DNS server that already holds
// view H is sent when the view moves on to H'. Either a delta (only the learned subnets whose shares
// changed, were added or were removed, plus any record whose other fields changed) or, when the
// answering replica cannot vouch for one, the full view. Both use the compact subnet table.
//
// Invariants:
// - A delta names its base (`from`, a content version = the ETag the server sent as If-None-Match)
//   and its result (`version`). Versions are content hashes, identical on every replica, so a delta
//   from H is correct whichever replica computed it, as long as that replica rendered H itself; a
//   replica that did not (restarted, behind, another one) answers `full` instead, never a guess.
// - A delta never changes the shape of the view: the same zones, in order, with the same records
//   (by load_balancer_id) in order. Anything else is sent full.
// - Compact subnet table: the distinct weight maps once (`maps`), then two parallel arrays (`cidrs`,
//   `map`: index into `maps`). 1M learned subnets share far fewer distinct maps (a few thousand), and
//   arrays parse much faster than an object with a million keys.
import { z } from 'zod';
import { DnsRecordView, DnsView, ViewSeq, WeightMap } from './views.ts';

const TableFields = {
  maps: z.array(WeightMap).describe('the distinct weight maps (origin id -> share), each once'),
  cidrs: z.array(z.string()).describe('client subnets'),
  map: z.array(z.number().int().min(0)).describe('per subnet (same position in cidrs): the index of its weight map in maps'),
};

export const CompactSubnets = z.strictObject(TableFields).meta({ id: 'CompactSubnets' });
export type CompactSubnets = z.infer<typeof CompactSubnets>;

/**
 * The same table for a receiver: the (few) maps schema-checked, the (up to millions of) cidrs and
 * indexes only checked to be arrays here and element by element by view-codec.ts's forEachCompact,
 * which is several times cheaper than a schema walking every element and says which one is wrong.
 */
const ReceivedSubnets = z.strictObject({
  maps: TableFields.maps,
  cidrs: z.custom<string[]>((v) => Array.isArray(v), 'expected an array of CIDR strings'),
  map: z.custom<number[]>((v) => Array.isArray(v), 'expected an array of indexes into maps'),
});

/** A record without its subnets: everything else the DNS answers from (origins, health, TTL...). */
export const DnsRecordMeta = DnsRecordView.omit({ subnets: true });
export type DnsRecordMeta = z.infer<typeof DnsRecordMeta>;

const Header = {
  version: z.string().describe('content version of the view after this answer (the ETag)'),
  seq: ViewSeq,
  weights_version: z.number().int().nullable(),
};

/** The schemas of one answer, over a subnet table schema (the documented one, or the receiver's). */
function changeSchemas<T extends z.ZodType<CompactSubnets>>(table: T) {
  const recordChange = z.strictObject({
    zone: z.number().int().min(0).describe('position of the zone in the view'),
    record: z.number().int().min(0).describe('position of the record in its zone'),
    load_balancer_id: z.string().describe('the record at that position (checked: a mismatch means the base is not the one the delta was made for)'),
    meta: DnsRecordMeta.nullable().describe("the record's fields other than subnets when they changed, else null"),
    set: table, // subnets added or whose shares changed (no describe(): it would copy the schema and lose its $ref)
    removed: z.array(z.string()).describe('subnets no longer learned'),
  });
  const compactRecord = DnsRecordMeta.extend({ subnets: table });
  const compactView = DnsView.extend({ zones: z.array(z.strictObject({ zone: z.string(), records: z.array(compactRecord) })) });
  const delta = z.strictObject({
    kind: z.literal('delta'),
    from: z.string().describe('the version this delta applies to (the If-None-Match sent)'),
    ...Header,
    records: z.array(recordChange).describe('only the records that changed'),
  });
  const full = z.strictObject({
    kind: z.literal('full'),
    reason: z.enum(['no_base', 'unknown_base', 'shape_changed']).describe('why not a delta: no If-None-Match; this replica holds no history from that version (restarted, another replica rendered it, or too old); zones or records were added, removed or reordered'),
    ...Header,
    view: compactView,
  });
  return { recordChange, compactRecord, compactView, delta, full };
}

const documented = changeSchemas(CompactSubnets);
export const DnsRecordChange = documented.recordChange.meta({ id: 'DnsRecordChange' });
export type DnsRecordChange = z.infer<typeof DnsRecordChange>;
export const CompactDnsRecord = documented.compactRecord.meta({ id: 'CompactDnsRecord' });
export type CompactDnsRecord = z.infer<typeof CompactDnsRecord>;
export const CompactDnsView = documented.compactView.meta({ id: 'CompactDnsView' });
export type CompactDnsView = z.infer<typeof CompactDnsView>;
export const DnsViewDelta = documented.delta.meta({ id: 'DnsViewDelta' });
export type DnsViewDelta = z.infer<typeof DnsViewDelta>;
export const DnsViewFull = documented.full.meta({ id: 'DnsViewFull' });
export type DnsViewFull = z.infer<typeof DnsViewFull>;
export const DnsViewChange = z.discriminatedUnion('kind', [DnsViewDelta, DnsViewFull]).meta({ id: 'DnsViewChange' });
export type DnsViewChange = z.infer<typeof DnsViewChange>;

/** What a DNS server parses an answer with (ReceivedSubnets; then forEachCompact checks the big arrays). */
const received = changeSchemas(ReceivedSubnets);
export const ReceivedDnsViewChange = z.discriminatedUnion('kind', [received.delta, received.full]);
