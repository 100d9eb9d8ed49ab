// /metrics/subnets: the per-subnet series, written straight from the export's packed subnets in the
// Prometheus text format (the same families, names and labels as the rest of the agent's metrics).
// Up to subnet_series_budget subnets x 9 series: through prom-client (reset and set every series per
// poll, then render) this was the agent main thread's largest allocation, enough to grow its young
// generation to ~25 MB committed. Written on the main thread at every scrape it still was (~1 MB of
// lines and rows per scrape at the default budget, the young generation grown to 21–24 MB committed at
// 100k subnets against 7–8 idle), so the running agent writes it in the collector worker, once per
// export, as UTF-8 bytes that cross to the main thread by transfer (SubnetExposition): the main thread
// keeps one byte array and serves it, and allocates nothing per subnet.
import { unpackSubnets, type PackedSubnets, type SubnetExport, type SubnetSeries } from './poller.ts';

interface Family {
  name: string;
  type: 'gauge' | 'counter';
  help: string;
  /** The subnet's value, or undefined for no series. */
  value: (s: SubnetSeries) => number | undefined;
}

const learned = (s: SubnetSeries) => s.rttSeconds !== undefined; // min_samples RTT samples or more
// Turnover only for subnets that have had an open connection seen twice (learning/turnover.ts).
const turnover = (s: SubnetSeries) => s.connectionSeconds !== undefined && (s.connectionSeconds > 0 || (s.closes ?? 0) > 0);
// A subnet whose connections here have all closed reports 0 open, not nothing: the scheduler reads these
// gauges with last_over_time(…[stale]) (a missed scrape is not a closed connection), so a vanished series
// would go on reporting its last open connections for `stale` — pinned load that is not there. Reported
// for the subnets with turnover here, as the counters.
const CLOSED = { open: 0, surviving: 0, survivingMean: 0 };
const open = (s: SubnetSeries) => s.survivors ?? (turnover(s) ? CLOSED : undefined);

/** In the order they are written. */
const FAMILIES: Family[] = [
  { name: 'sluice_agent_client_rtt_seconds', type: 'gauge', help: 'EWMA RTT of clients in the subnet (subnets with at least min_samples samples).', value: (s) => s.rttSeconds },
  { name: 'sluice_agent_client_min_rtt_seconds', type: 'gauge', help: 'Minimum RTT seen from the subnet.', value: (s) => (learned(s) ? (s.minRttSeconds ?? s.rttSeconds) : undefined) },
  // A running count (it only grows while the subnet is tracked; a subnet that returns starts again at 0,
  // which Prometheus reads as a counter reset): a counter, like subnet_connections_total.
  { name: 'sluice_agent_client_rtt_samples_total', type: 'counter', help: 'RTT samples folded for the subnet (at most one per connection per poll).', value: (s) => (learned(s) ? (s.samples ?? 0) : undefined) },
  { name: 'sluice_agent_subnet_connections_total', type: 'counter', help: 'New connections from the subnet, counted once when first seen (demand per client subnet).', value: (s) => s.connections },
  { name: 'sluice_agent_subnet_connection_seconds_total', type: 'counter', help: "Seconds the subnet's connections were observed open, summed over connections (its rate is the mean number open here).", value: (s) => (turnover(s) ? s.connectionSeconds : undefined) },
  { name: 'sluice_agent_subnet_connection_closes_total', type: 'counter', help: "The subnet's connections seen ESTABLISHED that closed.", value: (s) => (turnover(s) ? (s.closes ?? 0) : undefined) },
  { name: 'sluice_agent_subnet_open_connections', type: 'gauge', help: "The subnet's connections ESTABLISHED at the last poll.", value: (s) => open(s)?.open },
  { name: 'sluice_agent_subnet_open_connections_surviving', type: 'gauge', help: 'Of them, how many are expected still open after survival_horizon.', value: (s) => open(s)?.surviving },
  { name: 'sluice_agent_subnet_open_connections_surviving_mean', type: 'gauge', help: 'Of them, how many are expected open on average over survival_horizon.', value: (s) => open(s)?.survivingMean },
];

/** The families /metrics/subnets writes: name, type, help. */
export const SUBNET_FAMILIES = FAMILIES.map(({ name, type, help }) => ({ name, type, help }));

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Label values escaped as the exposition format requires (backslash, double quote, newline). */
const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/**
 * /metrics/subnets as the collector worker wrote it, the reply to a `subnets` request (agent/worker.ts).
 * `id` names the export (the worker's thread id and a count, so a restarted worker never repeats one):
 * the main thread sends the id it holds and gets no body back while that export is still current.
 */
export interface SubnetExposition {
  id: string;
  exportedSubnets: SubnetExport['exportedSubnets'];
  /** The exposition text, UTF-8; absent when the main thread already holds export `id`. */
  body?: Uint8Array;
}

/** The exposition text as UTF-8 bytes in an ArrayBuffer of their own (so it can be transferred). */
export function renderSubnetExposition(packed: PackedSubnets, node: string): Uint8Array {
  return new TextEncoder().encode(renderSubnetMetrics(packed, node));
}

export function renderSubnetMetrics(packed: PackedSubnets, node: string): string {
  const rows = unpackSubnets(packed);
  const nodeLabel = `node="${escape(node)}"`;
  const labels = rows.map((r) => `{subnet="${escape(r.subnet)}",${nodeLabel}}`);
  const lines: string[] = [];
  for (const f of FAMILIES) {
    lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    rows.forEach((r, i) => {
      const v = f.value(r);
      if (v !== undefined) lines.push(`${f.name}${labels[i]} ${v}`);
    });
  }
  return `${lines.join('\n')}\n`;
}
