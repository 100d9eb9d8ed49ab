// A view crosses to a serving thread in parts: the view with its learned subnets taken out (and each
// record's distinct weight maps, once), then the subnets in chunks of SUBNETS_PER_PART as two parallel
// arrays (CIDR strings, and the index of each one's weight map in its record's maps). A message is
// deserialised in one piece on the thread that receives it; in parts, the thread answers queued
// queries between two of them, so no single message holds its queries back for long. The compact
// form clones each distinct weight map once instead of once per subnet (a million small objects at a
// million subnets), and the reassembled view shares them as the sender's does. Parts are made from
// either form a process holds (a view with its subnets, or a skeleton with compact tables) and are
// reassembled as the skeleton and compact tables, which the thread indexes without ever building an
// object keyed by subnet.
import type { DnsView, WeightMap } from '../../../model/views.ts';
import type { CompactSubnets } from '../../../model/view-changes.ts';
import { skeletonOf } from '../engine.ts';

export const SUBNETS_PER_PART = 4096;

export type ViewPart =
  /** The view, every record's `subnets` emptied; `maps[zone][record]`: that record's distinct weight maps; `parts` subnet chunks follow. */
  | { type: 'view'; view: DnsView; maps: WeightMap[][][]; parts: number }
  /** `map[i]`: the index in the record's maps of the weights of `cidrs[i]`. */
  | { type: 'view-subnets'; zone: number; record: number; cidrs: string[]; map: Uint32Array };

/**
 * A whole view as a serving process holds it for its thread: either with its subnets in the records
 * (a view source's copy), or as the skeleton (records' subnets empty) plus each record's compact table
 * (the form it came in from a cluster primary: never expanded into an object with a million keys).
 */
export interface WholeView {
  view: DnsView;
  tables?: CompactSubnets[][];
}

/** The parts of `whole` for a serving thread (view-parts above), from whichever form it is in. */
export function partsOf(whole: WholeView): ViewPart[] {
  return whole.tables ? splitTables(whole.view, whole.tables) : splitView(whole.view);
}

export function splitView(view: DnsView): ViewPart[] {
  const chunks: ViewPart[] = [];
  const maps: WeightMap[][][] = [];
  const zones = view.zones.map((z, zi) => {
    maps.push([]);
    return {
      ...z,
      records: z.records.map((r, ri) => {
        const own: WeightMap[] = [];
        const index = new Map<WeightMap, number>();
        maps[zi]!.push(own);
        let cidrs: string[] = [];
        let map = new Uint32Array(SUBNETS_PER_PART);
        const flush = () => {
          chunks.push({ type: 'view-subnets', zone: zi, record: ri, cidrs, map: map.slice(0, cidrs.length) });
          cidrs = [];
        };
        // By object identity: a parsed view shares equal maps (parseView, fromCompactView); one that
        // does not only sends more maps, never wrong ones.
        for (const cidr in r.subnets) {
          const w = r.subnets[cidr]!;
          let i = index.get(w);
          if (i === undefined) {
            i = own.length;
            own.push(w);
            index.set(w, i);
          }
          map[cidrs.length] = i;
          cidrs.push(cidr);
          if (cidrs.length === SUBNETS_PER_PART) flush();
        }
        if (cidrs.length > 0) flush();
        return { ...r, subnets: {} };
      }),
    };
  });
  return [{ type: 'view', view: { ...view, zones }, maps, parts: chunks.length }, ...chunks];
}

/**
 * The parts of a skeleton and its compact tables: each record's maps as they are, its arrays in
 * slices. The tables were checked where they were decoded; an index out of range here would only make
 * the thread's build skip that subnet's map (forEachCompact refuses it there).
 */
export function splitTables(skeleton: DnsView, tables: CompactSubnets[][]): ViewPart[] {
  const chunks: ViewPart[] = [];
  const maps = skeleton.zones.map((z, zi) =>
    z.records.map((_, ri) => {
      const t = tables[zi]?.[ri];
      if (!t) return [];
      for (let from = 0; from < t.cidrs.length; from += SUBNETS_PER_PART) {
        const to = Math.min(t.cidrs.length, from + SUBNETS_PER_PART);
        chunks.push({ type: 'view-subnets', zone: zi, record: ri, cidrs: t.cidrs.slice(from, to), map: Uint32Array.from(t.map.slice(from, to)) });
      }
      return t.maps;
    }),
  );
  return [{ type: 'view', view: skeletonOf(skeleton), maps, parts: chunks.length }, ...chunks];
}

/**
 * Reassembles parts in order; `add` returns the whole view once its last part has arrived: the
 * skeleton and each record's compact table (its maps as sent, its subnets in the order sent), never an
 * object keyed by subnet (the thread indexes from the tables: view-index.ts LearnedTables).
 */
export class ViewAssembly {
  private pending: { view: DnsView; tables: CompactSubnets[][]; missing: number } | null = null;

  add(part: ViewPart): Required<WholeView> | null {
    if (part.type === 'view') {
      // A new view replaces one still arriving (parts are sent in order, so this is only a safeguard).
      const tables = part.view.zones.map((z, zi) => z.records.map((_, ri) => ({ maps: part.maps[zi]?.[ri] ?? [], cidrs: [] as string[], map: [] as number[] })));
      this.pending = { view: part.view, tables, missing: part.parts };
    } else if (this.pending) {
      const t = this.pending.tables[part.zone]?.[part.record];
      if (t) {
        for (let i = 0; i < part.cidrs.length; i++) {
          t.cidrs.push(part.cidrs[i]!);
          t.map.push(part.map[i]!);
        }
      }
      this.pending.missing--;
    }
    if (!this.pending || this.pending.missing > 0) return null;
    const { view, tables } = this.pending;
    this.pending = null;
    return { view, tables };
  }
}
