// A view crosses to a serving thread in parts: the view with its learned subnets taken out (and each
// record's distinct weight maps, once), then the subnets in chunks of SUBNETS_PER_PART as two parallel
// arrays (CIDR strings, and the index of each one's weight map in its record's maps). A message is
// deserialised in one piece on the thread that receives it; in parts, the thread answers queued
// queries between two of them, so no single message holds its queries back for long. The compact
// form clones each distinct weight map once instead of once per subnet (a million small objects at a
// million subnets), and the reassembled view shares them as the sender's does.
import type { DnsView, WeightMap } from '../../../model/views.ts';

export const SUBNETS_PER_PART = 4096;

export type ViewPart =
  /** The view, every record's `subnets` emptied; `maps[zone][record]`: that record's distinct weight maps; `parts` subnet chunks follow. */
  | { type: 'view'; view: DnsView; maps: WeightMap[][][]; parts: number }
  /** `map[i]`: the index in the record's maps of the weights of `cidrs[i]`. */
  | { type: 'view-subnets'; zone: number; record: number; cidrs: string[]; map: Uint32Array };

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

/** Reassembles parts in order; `add` returns the whole view once its last part has arrived. */
export class ViewAssembly {
  private pending: { view: DnsView; maps: WeightMap[][][]; missing: number } | null = null;

  add(part: ViewPart): DnsView | null {
    if (part.type === 'view') {
      // A new view replaces one still arriving (parts are sent in order, so this is only a safeguard).
      this.pending = { view: part.view, maps: part.maps, missing: part.parts };
    } else if (this.pending) {
      const subnets = this.pending.view.zones[part.zone]!.records[part.record]!.subnets;
      const maps = this.pending.maps[part.zone]![part.record]!;
      for (let i = 0; i < part.cidrs.length; i++) subnets[part.cidrs[i]!] = maps[part.map[i]!]!;
      this.pending.missing--;
    }
    if (!this.pending || this.pending.missing > 0) return null;
    const done = this.pending.view;
    this.pending = null;
    return done;
  }
}
