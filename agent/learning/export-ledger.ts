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

export type ExportedEntry = SubnetSeries;

interface Totals {
  connections: number;
  samples: number;
  connectionSeconds: number;
  closes: number;
}

export interface TurnoverSource {
  subnet(subnet: string): SubnetTurnover;
  survivors(subnet: string): Survivors | undefined;
}

function totalsOf(e: SubnetEntry, t: SubnetTurnover): Totals {
  return { connections: e.connections, samples: e.samples, connectionSeconds: t.connectionSeconds, closes: t.closes };
}

/** Increase since `prev`; a total below it (the subnet was evicted and came back) counts from zero. */
function increase(now: number, prev: number | undefined): number {
  if (prev === undefined) return now;
  return now >= prev ? now - prev : now;
}

export class ExportLedger {
  /** Each subnet's totals at the last poll it was part of an exported entry. */
  private readonly lastSeen = new Map<string, Totals>();
  /** Running counters of the entries exported at the last poll (entries kept by the ledger). */
  private readonly entries = new Map<string, Totals>();
  /** Subnets once counted in an aggregate. */
  private readonly aggregated = new Set<string>();
  /** Subnets exported as themselves with their own totals at the last poll. */
  private ownEntries = new Set<string>();

  /** Prefixes exported at the last poll (what the next plan prefers to keep). */
  exported(): ReadonlySet<string> {
    return new Set([...this.entries.keys(), ...this.ownEntries]);
  }

  apply(plan: ExportPlan, turnover: TurnoverSource, minSamples: number): ExportedEntry[] {
    const out: ExportedEntry[] = [];
    const nextEntries = new Map<string, Totals>();
    const nextOwn = new Set<string>();
    const present = new Set<string>();
    for (const g of plan.groups) {
      const own = g.exact && !this.aggregated.has(g.members[0]!.subnet);
      let counters: Totals;
      if (own) {
        const e = g.members[0]!;
        counters = totalsOf(e, turnover.subnet(e.subnet));
        this.lastSeen.set(e.subnet, counters);
        present.add(e.subnet);
        nextOwn.add(g.prefix);
      } else {
        const before = this.entries.get(g.prefix);
        counters = before ? { ...before } : { connections: 0, samples: 0, connectionSeconds: 0, closes: 0 };
        for (const e of g.members) {
          const now = totalsOf(e, turnover.subnet(e.subnet));
          const prev = before ? this.lastSeen.get(e.subnet) : undefined;
          counters.connections += increase(now.connections, prev?.connections);
          counters.samples += increase(now.samples, prev?.samples);
          counters.connectionSeconds += increase(now.connectionSeconds, prev?.connectionSeconds);
          counters.closes += increase(now.closes, prev?.closes);
          this.lastSeen.set(e.subnet, now);
          present.add(e.subnet);
          if (!g.exact) this.aggregated.add(e.subnet);
        }
        nextEntries.set(g.prefix, counters);
      }
      out.push(seriesOf(g.prefix, g.members, counters, turnover, minSamples));
    }
    // Subnets in no entry this poll: forget their last totals (they count afresh when covered again,
    // into an entry that starts from its members' totals anyway).
    for (const s of this.lastSeen.keys()) if (!present.has(s)) this.lastSeen.delete(s);
    for (const s of this.aggregated) if (!present.has(s)) this.aggregated.delete(s);
    this.entries.clear();
    for (const [k, v] of nextEntries) this.entries.set(k, v);
    this.ownEntries = nextOwn;
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
