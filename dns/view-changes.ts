// The DNS server's side of GET /api/v1/dns/view/changes (model/view-changes.ts): turns an answer into
// the full view to install, given the view this server holds. A delta is applied to exactly the view
// it names as its base (anything else is refused: the caller then asks for the full view); a full
// answer is decoded from the compact table. The envelope is schema-checked once (a plain delta by
// model/plain-delta.ts's hand-written check, which passes anything else to the schema), the subnet
// tables element by element (view-codec.ts), each error naming the field. Nothing is installed from a
// refused answer: the last good view keeps answering.
import { ReceivedDnsViewChange, type CompactDnsView, type CompactSubnets, type DnsRecordChange, type DnsViewChange, type DnsViewDelta } from '../model/view-changes.ts';
import { isPlainDelta } from '../model/plain-delta.ts';
import { checkChanges } from '../model/view-codec.ts';
import type { DnsView } from '../model/views.ts';
import { parseView } from './view-source.ts';
import type { ParsedSubnets } from './answer/view-index-update.ts';
import type { WireParsedSubnets } from './server/engine.ts';
import { packCompactView, packView, type PackedView } from './packed/packed-view.ts';

/** What turned the view held into the next one: passed on, so that each serving thread applies it to its own index. */
export interface ViewDelta {
  from: string;
  header: { version: string; seq: number | null; weights_version: number | null };
  changes: DnsRecordChange[];
  /**
   * For each change with `meta` (a record rebuilt: its origins, health or TTL shape every answer), that
   * record's whole subnet table after the delta: added by the process that holds the view
   * (packed/packed-view.ts withTables) for those that keep only their index and the view's skeleton.
   */
  tables?: { zone: number; record: number; subnets: CompactSubnets }[];
  /**
   * Per change (same position), its subnets already parsed (view-index-update.ts ParsedSubnets): how
   * a worker hands a delta to its UDP thread, the change's own arrays then left empty.
   */
  parsed?: (ParsedSubnets | undefined)[];
  /**
   * Per change (same position), its set's weight maps as JSON texts, made once where the delta is
   * decoded: the packed apply interns maps by them and a cluster primary sends them to its workers
   * (engine.ts preParsed); each map stringified twice per delta was ~10 % of the primary's CPU.
   */
  mapTexts?: string[][];
  /** `parsed` as a cluster primary sends it over IPC (engine.ts preParsed, fromWire). */
  wire?: (WireParsedSubnets | null | undefined)[];
}

/**
 * A full view, or a delta checked against the view held (it cannot fail to apply) but not applied yet:
 * the owner applies it in place once the answer is accepted (a stale one is refused first), so a
 * million-subnet view is not copied per publish.
 */
export interface ReceivedView {
  version: string;
  seq: number | null;
  /** A full view, packed (packed/packed-view.ts): never expanded into an object keyed by subnet. */
  packed?: PackedView;
  /** A full view as it came (compact), beside `packed`. */
  compact?: CompactDnsView;
  delta?: ViewDelta;
  kind: 'delta' | 'full';
  /** For a full view: why it was not a delta (no_base, unknown_base, shape_changed; legacy = from GET /dns/view). */
  reason: string;
}

export const CHANGES_PATH = '/api/v1/dns/view/changes';
export const LEGACY_PATH = '/api/v1/dns/view';

/** Thrown for a delta made for another base than the view held: ask for the full view. */
export class WrongBaseError extends Error {
  override name = 'WrongBaseError';
}

/**
 * Decodes an answer of /dns/view/changes against `held` (the view in force, or null; its skeleton is
 * enough: a delta is checked against record positions and load balancer ids). Throws with the problem.
 */
export function decodeViewChange(doc: unknown, held: DnsView | null, where: string): ReceivedView {
  const c = isPlainDelta(doc) ? (doc as DnsViewDelta) : schemaChecked(doc, where);
  try {
    if (c.kind === 'full') return { version: c.version, seq: c.seq, packed: packCompactView(c.view), compact: c.view, kind: 'full', reason: c.reason };
    if (!held || held.version !== c.from) throw new WrongBaseError(`a delta from view ${c.from}, but the view held is ${held?.version ?? 'none'}`);
    checkChanges(held, c.records);
    const header = { version: c.version, seq: c.seq, weights_version: c.weights_version };
    return { version: c.version, seq: c.seq, delta: { from: c.from, header, changes: c.records, mapTexts: mapTextsOf(c.records) }, kind: 'delta', reason: 'delta' };
  } catch (err) {
    const e = new (err instanceof WrongBaseError ? WrongBaseError : Error)(`${where}: ${(err as Error).message}`);
    throw e;
  }
}

function mapTextsOf(changes: readonly DnsRecordChange[]): string[][] {
  return changes.map((c) => textsOf(c.set.maps));
}

/** A loop of its own (V8 keeps it compiled across deltas). */
function textsOf(maps: readonly object[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < maps.length; i++) out.push(JSON.stringify(maps[i]));
  return out;
}

/**
 * The answer through the schema: what a delta isPlainDelta does not recognise (a full view, a record
 * whose meta changed, or an invalid answer, refused here with the schema's error naming the field).
 */
function schemaChecked(doc: unknown, where: string): DnsViewChange {
  const r = ReceivedDnsViewChange.safeParse(doc);
  if (!r.success) {
    const first = r.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`${where}: not a DnsViewChange: ${first}`);
  }
  return r.data;
}

/** An answer of the older GET /dns/view (a control plane without /changes). */
export function decodeLegacyView(doc: unknown, where: string): ReceivedView {
  const view = parseView(doc, where);
  return { version: view.version, seq: view.seq, packed: packView(view), kind: 'full', reason: 'legacy' };
}
