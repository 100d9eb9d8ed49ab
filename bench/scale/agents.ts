// Simulated agents for the scale harness: what each origin's `sluice agent` would have in its learning
// table after watching the world's traffic for a while, run through the agent's real export code
// (learning/export-plan.ts, export-ledger.ts) and rendered by its real metrics registry
// (agent/metrics.ts) — the exposition Prometheus scrapes. Only the kernel is simulated: no sockets.
import { AgentMetrics } from '../../agent/metrics.ts';
import { planExport, type AggregationOptions } from '../../agent/learning/export-plan.ts';
import { ExportLedger, type ExportedEntry } from '../../agent/learning/export-ledger.ts';
import { newRttStat } from '../../agent/learning/rtt-stat.ts';
import type { SubnetEntry } from '../../agent/learning/subnet-table.ts';
import { packSubnets, type PollReport } from '../../agent/poller.ts';
import { seededRandom } from '../../lib/prng.ts';
import { subnetCidr, trueRttMs, type World } from './world.ts';

export const DEFAULT_AGGREGATION: AggregationOptions = { ipv4Prefixes: [16, 20], ipv6Prefixes: [32, 40], exactShare: 0.5, ipv4Prefix: 24, ipv6Prefix: 48 };

/** Seconds of traffic the tables have seen (connections = demand × this). */
const OBSERVED_S = 600;

export interface SimulatedAgent {
  origin: number;
  /** The learning table: world subnet index per entry, and the entries. */
  subnets: Int32Array;
  table: SubnetEntry[];
  exported: ExportedEntry[];
  /** Subnet index -> the prefix of the entry it is exported in (absent: not exported). */
  entryOf: Map<number, string>;
  plan_ms: number;
}

/**
 * One agent per origin. `assign[i]` is the origin subnet i's connections go to under the weights in
 * force; each agent's table holds those subnets, with connections ∝ demand and an EWMA RTT that is the
 * true RTT with measurement noise (a few ms).
 */
export function simulateAgents(w: World, assign: Int32Array, budget: number, aggregation: AggregationOptions | null, seed = 7): SimulatedAgent[] {
  const r = seededRandom(seed);
  const K = w.origins.length;
  const counts = new Int32Array(K);
  for (let i = 0; i < assign.length; i++) counts[assign[i]!]!++;
  const lists = Array.from({ length: K }, (_, j) => new Int32Array(counts[j]!));
  const fill = new Int32Array(K);
  for (let i = 0; i < assign.length; i++) {
    const j = assign[i]!;
    lists[j]![fill[j]!++] = i;
  }
  const agg = aggregation ?? { ...DEFAULT_AGGREGATION, ipv4Prefixes: [], ipv6Prefixes: [] };
  return lists.map((subnets, j) => {
    const table: SubnetEntry[] = [];
    for (const i of subnets) {
      const connections = Math.max(0, Math.round(w.demand[i]! * OBSERVED_S + r() - 0.5));
      // Subnets whose clients never stayed long enough give no RTT (min_connection_age): the quietest.
      const hasRtt = connections >= 1;
      const rttUs = (trueRttMs(w, i, j) + (r() - 0.5) * 4) * 1000;
      table.push({
        subnet: subnetCidr(w, i),
        ...newRttStat(0),
        connections,
        samples: hasRtt ? Math.min(connections, 200) : 0,
        ewmaUs: hasRtt ? rttUs : undefined,
        minRttUs: hasRtt ? rttUs * 0.95 : undefined,
      });
    }
    const t = performance.now();
    const plan = planExport(table, budget, agg);
    const ledger = new ExportLedger();
    const exported = ledger.apply(plan, { subnet: () => ({ closes: 0, connectionSeconds: 0 }), survivors: () => undefined }, 5);
    const plan_ms = performance.now() - t;
    const index = new Map(table.map((e, k) => [e, subnets[k]!]));
    const entryOf = new Map<number, string>();
    for (const g of plan.groups) for (const m of g.members) entryOf.set(index.get(m)!, g.prefix);
    return { origin: j, subnets, table, exported, entryOf, plan_ms };
  });
}

/** The agent's /metrics/subnets exposition for these entries, rendered by the agent's own registry. */
export async function renderSubnetExposition(node: string, exported: ExportedEntry[]): Promise<string> {
  const m = new AgentMetrics(node);
  const report: PollReport = {
    durationSeconds: 0.01,
    complete: true,
    sockets: { inbound: 0, outbound: 0, other: 0 },
    subnetsTracked: exported.length,
    evictedTotal: 0,
    expiredTotal: 0,
    countedInbound: 0,
    connectionsByPort: {},
    errors: {},
    passiveOpens: null,
    upstreams: [],
    topSubnets: packSubnets(exported),
  };
  m.apply(report, 0);
  return m.subnets.metrics();
}
