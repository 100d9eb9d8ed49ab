// Turns an export plan (export-plan.ts) into the series values of /metrics/subnets, keeping every
// exported counter monotonic while the subnets behind an entry change. Pure apart from its own state.
//
// A subnet exported as itself reports its own cumulative counts, as it always has. An aggregate
// entry (a /16 holding the tail's /24s) would go backwards if it reported the sum of its members'
// totals: a member that becomes its own entry takes its history with it, and Prometheus reads the
// drop as a counter reset (rate() would count the whole new value again). So an entry's counters
// start, when it appears, at the sum of its members' totals, and then grow only by each member's
// increase since the last poll, whichever entry the member belonged to then. A subnet once counted
// in an aggregate reports its own entry the same way from then on (its earlier history already went
// into the aggregate). An entry that stops being exported loses its series; should it come back it
// starts again (a counter reset to Prometheus, which rate() handles).
//
// Gauges (open connections and survivors) are sums over the members; the RTT is the members' mean
// weighted by connections (members with a learned RTT only), exported once the members have at least
// `min_samples` samples together; the minimum RTT is the members' minimum.
import type { RttSeries, SubnetSeries } from '../poller.ts';
import type { ExportPlan } from './export-plan.ts';
import type { SubnetEntry } from './subnet-table.ts';
import type { SubnetTurnover, Survivors } from './turnover.ts';
import { LedgerColumns } from './ledger-columns.ts';

export type ExportedEntry = SubnetSeries;

interface Totals {
  connections: number;
  samples: number;
  connectionSeconds: number;
  closes: number;
}

/** An exported entry's running counters (aggregates), or the mark of a subnet's own entry. Updated in place. */
interface EntryRecord extends Totals {
  own: boolean;
  stamp: number;
}

export interface TurnoverSource {
  /** A subnet's turnover; may fill and return `out` (read before the next call) instead of allocating. */
  subnet(subnet: string, out?: SubnetTurnover): SubnetTurnover;
  survivors(subnet: string): Survivors | undefined;
}

/** Increase since `prev`; a total below it (the subnet was evicted and came back) counts from zero. */
function increase(now: number, prev: number): number {
  return now >= prev ? now - prev : now;
}

// State is kept in place (a slot per covered subnet in ledger-columns.ts, a record per entry, reused
// from apply to apply): at 100k subnets a fresh map of totals, set of present subnets and set of
// aggregated subnets per apply were most of the garbage the collector worker made.
export class ExportLedger {
  /** Each covered subnet's totals at the last apply it was part of an exported entry. */
  private readonly lastSeen = new LedgerColumns();
  /** The entries exported at the last apply: running counters of aggregates, and own entries. */
  private readonly entries = new Map<string, EntryRecord>();
  private stamp = 0;

  /** Prefixes exported at the last apply (what the next plan prefers to keep). */
  exported(): { has(prefix: string): boolean } {
    return { has: (prefix) => this.entries.get(prefix)?.stamp === this.stamp };
  }

  /** The entry the subnet was counted in at the last apply, or null. */
  entryOf(subnet: string): string | null {
    const i = this.lastSeen.slotOf(subnet);
    return i !== undefined && this.lastSeen.stamp[i] === this.stamp ? this.lastSeen.entry[i]! : null;
  }

  apply(plan: ExportPlan, turnover: TurnoverSource, minSamples: number): ExportedEntry[] {
    const previous = this.stamp;
    const stamp = ++this.stamp;
    const out: ExportedEntry[] = [];
    const scratch: SubnetTurnover = { closes: 0, connectionSeconds: 0 };
    const seen = this.lastSeen;
    for (const g of plan.groups) {
      const first = seen.slotOf(g.members[0]!.subnet);
      const own = g.exact && !(first !== undefined && seen.stamp[first] === previous && seen.aggregated[first] === 1);
      let entry = this.entries.get(g.prefix);
      // An aggregate continues from its counters at the last apply; new (or own last time), from zero.
      const continues = !own && entry !== undefined && entry.stamp === previous && !entry.own;
      if (!entry) this.entries.set(g.prefix, (entry = { own, stamp, connections: 0, samples: 0, connectionSeconds: 0, closes: 0 }));
      entry.own = own;
      entry.stamp = stamp;
      if (!continues) entry.connections = entry.samples = entry.connectionSeconds = entry.closes = 0;
      for (const e of g.members) {
        const t = turnover.subnet(e.subnet, scratch);
        let i = seen.slotOf(e.subnet);
        const counted = i !== undefined && seen.stamp[i] === previous;
        if (i === undefined) i = seen.add(e.subnet, stamp);
        if (own) {
          // A subnet exported as itself reports its own totals.
          entry.connections = e.connections;
          entry.samples = e.samples;
          entry.connectionSeconds = t.connectionSeconds;
          entry.closes = t.closes;
        } else if (continues && counted) {
          entry.connections += increase(e.connections, seen.connections[i]!);
          entry.samples += increase(e.samples, seen.samples[i]!);
          entry.connectionSeconds += increase(t.connectionSeconds, seen.connectionSeconds[i]!);
          entry.closes += increase(t.closes, seen.closes[i]!);
        } else {
          entry.connections += e.connections;
          entry.samples += e.samples;
          entry.connectionSeconds += t.connectionSeconds;
          entry.closes += t.closes;
        }
        seen.aggregated[i] = (counted && seen.aggregated[i] === 1) || !g.exact ? 1 : 0;
        seen.connections[i] = e.connections;
        seen.samples[i] = e.samples;
        seen.connectionSeconds[i] = t.connectionSeconds;
        seen.closes[i] = t.closes;
        seen.entry[i] = g.prefix;
        seen.stamp[i] = stamp;
      }
      out.push(seriesOf(g.prefix, g.members, entry, turnover, minSamples));
    }
    // Subnets in no entry this apply: forget them (they count afresh when covered again, into an entry
    // that starts from its members' totals anyway); entries not exported lose their counters.
    seen.keepOnly(stamp);
    for (const [p, e] of this.entries) if (e.stamp !== stamp) this.entries.delete(p);
    return out;
  }
}

function seriesOf(prefix: string, members: SubnetEntry[], c: Totals, turnover: TurnoverSource, minSamples: number): ExportedEntry {
  let open = 0;
  let surviving = 0;
  let survivingMean = 0;
  let anySurvivors = false;
  let w = 0;
  let wsum = 0;
  let learnedSamples = 0;
  let min = Infinity;
  let rttMembers = 0;
  for (const e of members) {
    const s = turnover.survivors(e.subnet);
    if (s) {
      anySurvivors = true;
      open += s.open;
      surviving += s.surviving;
      survivingMean += s.survivingMean;
    }
    if (e.ewmaUs === undefined) continue;
    // Weighted by connections; a member with none yet still counts once (its RTT is real).
    const weight = Math.max(e.connections, 1);
    w += weight;
    wsum += weight * e.ewmaUs;
    learnedSamples += e.samples;
    min = Math.min(min, e.minRttUs ?? e.ewmaUs);
    rttMembers++;
  }
  const learned = rttMembers > 0 && learnedSamples >= minSamples;
  const rtt: Partial<RttSeries> = learned ? { rttSeconds: wsum / w / 1e6, minRttSeconds: min / 1e6, samples: c.samples } : {};
  return {
    subnet: prefix,
    connections: c.connections,
    ...(c.connectionSeconds > 0 || c.closes > 0 ? { connectionSeconds: c.connectionSeconds, closes: c.closes } : {}),
    ...(anySurvivors ? { survivors: { open, surviving, survivingMean } } : {}),
    ...rtt,
  };
}
