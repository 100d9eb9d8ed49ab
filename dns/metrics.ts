// Prometheus metrics for `sluice dns`. The query path only bumps typed arrays (DnsStats); prom-client
// objects are filled from them at scrape time, so a scrape costs the scraper, not the queries.
// Nothing is labelled per subnet or per origin address: cardinality is qtype x rcode x reason.
//
// With workers (node:cluster) every worker keeps its own registry; the primary asks each worker for
// its metrics as JSON over the cluster IPC channel, adds its own (view fetching), and merges them
// with prom-client's AggregatorRegistry.aggregate (counters summed, the served view version as min:
// the oldest view any worker still answers from).
import { Counter, Gauge, Registry } from 'prom-client';
import { collectProcessMetrics } from '../lib/process-metrics.ts';
import { fixedBucketHistogram } from './fixed-histogram.ts';
import { DURATION_BUCKETS, TSIG_RESULTS, type DnsStats } from './answer/stats.ts';
import type { ViewIndex } from './answer/view-index.ts';
import { TCP_CLOSE_REASONS, TcpStats } from './server/tcp.ts';
import { registerTlsMetrics, type TlsMetrics } from '../lib/tls-metrics.ts';

/** weights_version of an index as the view-version gauge shows it (-1: no view yet). */
export function servedVersionOf(index: ViewIndex | null): number {
  return index ? (index.weightsVersion ?? 0) : -1;
}

/**
 * Metrics of a serving process (a worker, or the only process). `stats`: every counter set of the
 * process (its own loop's and, with the batched UDP path, its UDP thread's, shared memory), summed.
 * `servedVersion`: the oldest weights_version any of them answers from (-1 or null before the first view).
 */
export function registerServingMetrics(
  registry: Registry,
  stats: DnsStats | readonly DnsStats[],
  servedVersion: () => number | null,
  tcp: TcpStats = new TcpStats(),
): void {
  collectProcessMetrics(registry);
  const all: readonly DnsStats[] = Array.isArray(stats) ? stats : [stats as DnsStats];
  const sum = (f: (s: DnsStats) => number) => all.reduce((acc, s) => acc + f(s), 0);
  new Counter({
    name: 'sluice_dns_queries_total',
    help: 'DNS responses sent, by question type, response code and steering reason',
    labelNames: ['qtype', 'rcode', 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of all) for (const e of s.entries()) this.inc({ qtype: e.qtype, rcode: e.rcode, reason: e.reason }, e.value);
    },
  });
  new Counter({
    name: 'sluice_dns_malformed_total',
    help: 'Packets that could not be read as a query: dropped (no usable header, or a response) or answered FORMERR',
    labelNames: ['action'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ action: 'drop' }, sum((s) => s.malformedDropped));
      this.inc({ action: 'formerr' }, sum((s) => s.malformedFormerr));
    },
  });
  new Counter({
    name: 'sluice_dns_truncated_total',
    help: 'UDP responses sent with TC=1 because the answer exceeded the requester\'s size',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sum((s) => s.truncated));
    },
  });
  new Counter({
    name: 'sluice_dns_tsig_total',
    help: 'TSIG-signed queries by outcome: verified (answer signed), badkey, badsig, badtime (NOTAUTH), formerr',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      this.reset();
      TSIG_RESULTS.forEach((result, i) => this.inc({ result }, sum((s) => s.tsig[i]!)));
    },
  });
  new Counter({
    name: 'sluice_dns_udp_send_errors_total',
    help: 'UDP answers the kernel refused to send (or that found the send buffer full for a second): logged, the query is lost',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sum((s) => s.sendErrors));
    },
  });
  registerTcpMetrics(registry, tcp);
  registry.registerMetric(durationHistogram(all) as never);
  new Gauge({
    name: 'sluice_dns_view_version',
    help: 'weights_version of the DNS view being served (-1: none yet); across workers, the oldest',
    registers: [registry],
    aggregator: 'min',
    collect() {
      this.set(servedVersion() ?? -1);
    },
  });
}

function registerTcpMetrics(registry: Registry, tcp: TcpStats): void {
  new Gauge({
    name: 'sluice_dns_tcp_connections',
    help: 'TCP connections open now (summed over workers)',
    registers: [registry],
    collect() {
      this.set(tcp.open);
    },
  });
  new Counter({
    name: 'sluice_dns_tcp_connections_total',
    help: 'TCP connections accepted',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(tcp.accepted);
    },
  });
  new Counter({
    name: 'sluice_dns_tcp_closed_total',
    help: 'TCP connections closed, by reason: client, idle_timeout, message_timeout, evicted (connection limit), malformed (zero length), error, shutdown',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      TCP_CLOSE_REASONS.forEach((reason, i) => this.inc({ reason }, tcp.closed[i]!));
    },
  });
  new Counter({
    name: 'sluice_dns_tcp_backpressure_total',
    help: 'Times a TCP connection stopped being read because its unsent answers exceeded tcp.max_unsent',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(tcp.backpressure);
    },
  });
}

/** Metrics of the process that fetches views (the primary, or the only process). */
export interface ViewMetrics {
  updates: Counter;
  errors: Counter;
  failovers: Counter;
  lastUpdate: Gauge;
  viewSeq: Gauge;
  /** Views received through /dns/view/changes, by kind (delta, full) and, for full ones, why. */
  changes: Counter;
  /** metrics.tls: the certificate's expiry and reloads (the process that serves /metrics). */
  tls: TlsMetrics;
  /** view_cache (view-cache.ts): writes by result, loads at start by result, and whether the view in force came from it. */
  cacheWrites: Counter;
  cacheLoads: Counter;
  fromCache: Gauge;
}

export function registerViewMetrics(registry: Registry): ViewMetrics {
  collectProcessMetrics(registry);
  return {
    tls: registerTlsMetrics(registry, 'dns'),
    updates: new Counter({ name: 'sluice_dns_view_updates_total', help: 'New DNS views received and installed', registers: [registry] }),
    errors: new Counter({
      name: 'sluice_dns_api_errors_total',
      help: 'Control-plane requests that failed, by kind: unreachable, http, auth, invalid, stale, tls (the last good view keeps answering)',
      labelNames: ['kind'],
      registers: [registry],
    }),
    changes: new Counter({
      name: 'sluice_dns_view_changes_total',
      help: 'Views received from the control plane by kind: delta (applied to the view in force), full (a resync; reason: no_base, unknown_base, shape_changed, legacy = an older control plane without /dns/view/changes)',
      labelNames: ['kind', 'reason'],
      registers: [registry],
    }),
    failovers: new Counter({ name: 'sluice_dns_api_failovers_total', help: 'Moves to the next control-plane replica after a failure', registers: [registry] }),
    viewSeq: new Gauge({
      name: 'sluice_dns_view_seq',
      help: "Highest store change sequence a control-plane replica confirmed the view in force at (-1: none); behind the replicas' sluice_api_change_seq for long = a split view",
      registers: [registry],
      aggregator: 'max',
    }),
    lastUpdate: new Gauge({
      name: 'sluice_dns_view_last_update_timestamp_seconds',
      help: 'When the current view was installed (unix time)',
      registers: [registry],
      aggregator: 'max',
    }),
    cacheWrites: new Counter({
      name: 'sluice_dns_view_cache_writes_total',
      help: 'Writes of the view in force to view_cache.file, by result: ok, superseded (a newer view arrived during the write; retried), failed (logged; the previous cache stays)',
      labelNames: ['result'],
      registers: [registry],
    }),
    cacheLoads: new Counter({
      name: 'sluice_dns_view_cache_loads_total',
      help: 'Starts that found no view from the control plane and read view_cache.file, by result: ok, missing, unreadable, invalid (damaged or refused: SERVFAIL until a replica answers)',
      labelNames: ['result'],
      registers: [registry],
    }),
    fromCache: new Gauge({
      name: 'sluice_dns_view_from_cache',
      help: '1 while the view in force is the cached one read at start (no control-plane replica has answered since), else 0',
      registers: [registry],
      aggregator: 'max',
    }),
  };
}

/** The query-duration histogram, read from every DnsStats' fixed buckets at scrape time (summed). */
function durationHistogram(all: readonly DnsStats[]) {
  return fixedBucketHistogram('sluice_dns_query_duration_seconds', 'Time from reading a query to handing the response to the socket', DURATION_BUCKETS, () => ({
    buckets: Array.from({ length: DURATION_BUCKETS.length + 1 }, (_, i) => all.reduce((acc, s) => acc + s.durationBuckets[i]!, 0)),
    sum: all.reduce((acc, s) => acc + s.durationSum, 0),
    count: all.reduce((acc, s) => acc + s.durationCount, 0),
  }));
}

export { Registry };
