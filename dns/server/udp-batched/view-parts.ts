// A view crosses to a serving thread in parts: the view with its learned subnets taken out, then the
// subnets in chunks of SUBNETS_PER_PART. A message is deserialised in one piece on the thread that
// receives it (structured clone, ~100 ms for 50,000 subnets on this machine); in parts, the thread
// answers queued queries between two of them, so no single message holds its queries back for long.
import type { DnsView, WeightMap } from '../../../model/views.ts';

export const SUBNETS_PER_PART = 4096;

export type ViewPart =
  /** The view, every record's `subnets` emptied; `parts` subnet chunks follow. */
  | { type: 'view'; view: DnsView; parts: number }
  | { type: 'view-subnets'; zone: number; record: number; subnets: Record<string, WeightMap> };

export function splitView(view: DnsView): ViewPart[] {
  const chunks: ViewPart[] = [];
  const zones = view.zones.map((z, zi) => ({
    ...z,
    records: z.records.map((r, ri) => {
      let chunk: Record<string, WeightMap> = {};
      let n = 0;
      for (const [cidr, weights] of Object.entries(r.subnets)) {
        chunk[cidr] = weights;
        if (++n === SUBNETS_PER_PART) {
          chunks.push({ type: 'view-subnets', zone: zi, record: ri, subnets: chunk });
          chunk = {};
          n = 0;
        }
      }
      if (n > 0) chunks.push({ type: 'view-subnets', zone: zi, record: ri, subnets: chunk });
      return { ...r, subnets: {} };
    }),
  }));
  return [{ type: 'view', view: { ...view, zones }, parts: chunks.length }, ...chunks];
}

/** Reassembles parts in order; `add` returns the whole view once its last part has arrived. */
export class ViewAssembly {
  private pending: { view: DnsView; missing: number } | null = null;

  add(part: ViewPart): DnsView | null {
    if (part.type === 'view') {
      // A new view replaces one still arriving (parts are sent in order, so this is only a safeguard).
      this.pending = { view: part.view, missing: part.parts };
    } else if (this.pending) {
      Object.assign(this.pending.view.zones[part.zone]!.records[part.record]!.subnets, part.subnets);
      this.pending.missing--;
    }
    if (!this.pending || this.pending.missing > 0) return null;
    const done = this.pending.view;
    this.pending = null;
    return done;
  }
}
