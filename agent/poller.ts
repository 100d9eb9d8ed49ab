// One poll: collect the TCP table, fold it into the learner, and summarise the result as a small,
// serialisable report for the metrics side. Runs in the worker thread (agent/worker.ts), and directly
// in benchmarks.
import type { AgentConfig } from './config.ts';
import { buildClassifyConfig } from './classify.ts';
import type { Collector, SocketRecord } from './collector.ts';
import { classify } from './classify.ts';
import { ErrorCounts } from './errors.ts';
import { Learner } from './learning/learner.ts';
import type { SubnetEntry } from './learning/subnet-table.ts';
import { ConnectionTurnover, type PortTurnover, type Survivors } from './learning/turnover.ts';
import { planExport, type AggregationOptions } from './learning/export-plan.ts';
import { ExportLedger } from './learning/export-ledger.ts';
import { readPassiveOpens } from './snmp.ts';

export interface RttSeries {
  rttSeconds: number;
  minRttSeconds: number;
  samples: number;
  connections: number;
}

export interface PollReport {
  durationSeconds: number;
  complete: boolean;
  sockets: { inbound: number; outbound: number; other: number };
  subnetsTracked: number;
  /** Cumulative counters (the metrics side turns them into counter increments). */
  evictedTotal: number;
  expiredTotal: number;
  countedInbound: number;
  connectionsByPort: Record<string, number>;
  errors: Record<string, number>;
  /** Kernel Tcp PassiveOpens now, or null when unreadable. */
  passiveOpens: number | null;
  upstreams: ({ upstream: string } & Partial<RttSeries> & { connections: number })[];
  /**
   * The exported entries, when the report carries them (a SubnetExport; the running agent asks for them
   * separately, at each scrape of /metrics/subnets: see Poller.exportSubnets).
   */
  topSubnets?: PackedSubnets;
  exportedSubnets?: SubnetExport['exportedSubnets'];
  /** Connection turnover per service port (cumulative, except `open` and `survivors`). */
  ports?: Record<string, PortTurnover & { survivors?: Survivors }>;
  /** The collector thread's V8 heap (set by agent/worker.ts, which runs the poll). */
  heap?: { used_heap_size: number; total_physical_size: number };
}

/** What /metrics/subnets exports (Poller.exportSubnets). */
export interface SubnetExport {
  /**
   * The exported entries (learning/export-plan.ts): the busiest subnets, and prefixes aggregating the
   * rest when the table holds more than the budget (demand, turnover); RTT fields only where at least
   * min_samples samples were learned. `subnet` is the entry's prefix. Packed (see PackedSubnets).
   */
  topSubnets: PackedSubnets;
  /** Subnets of the table by how they are exported: as themselves, inside an aggregate, or not at all. */
  exportedSubnets: { own: number; aggregate: number; none: number };
}

/** One exported subnet: demand and turnover, and RTT once min_samples samples were learned. */
export type SubnetSeries = { subnet: string; connections: number; connectionSeconds?: number; closes?: number; survivors?: Survivors } & Partial<RttSeries>;

/**
 * Up to subnet_series_budget subnets cross from the collector to the main thread with every poll.
 * As objects that is thousands of allocations per poll on the main thread, and they were what grew its
 * young generation (measured: 25 MB committed against 7 without them); packed it is two: the names
 * joined by newlines, and FIELDS numbers per subnet in one Float64Array (NaN: absent).
 */
export interface PackedSubnets {
  names: string;
  values: Float64Array;
  /** How many subnets (entries) are packed. */
  count: number;
}

const FIELDS = 9; // connections, rtt, min rtt, samples, connection seconds, closes, open, surviving, surviving mean

export function packSubnets(rows: readonly SubnetSeries[]): PackedSubnets {
  const values = new Float64Array(rows.length * FIELDS);
  rows.forEach((r, i) => {
    const v = values.subarray(i * FIELDS, (i + 1) * FIELDS);
    v[0] = r.connections;
    v[1] = r.rttSeconds ?? NaN;
    v[2] = r.minRttSeconds ?? NaN;
    v[3] = r.samples ?? NaN;
    v[4] = r.connectionSeconds ?? NaN;
    v[5] = r.closes ?? NaN;
    v[6] = r.survivors?.open ?? NaN;
    v[7] = r.survivors?.surviving ?? NaN;
    v[8] = r.survivors?.survivingMean ?? NaN;
  });
  return { names: rows.map((r) => r.subnet).join('\n'), values, count: rows.length };
}

export function unpackSubnets(p: PackedSubnets): SubnetSeries[] {
  if (p.values.length === 0) return [];
  const has = (x: number) => !Number.isNaN(x);
  return p.names.split('\n').map((subnet, i) => {
    const v = p.values.subarray(i * FIELDS, (i + 1) * FIELDS);
    const row: SubnetSeries = { subnet, connections: v[0]! };
    if (has(v[1]!)) Object.assign(row, { rttSeconds: v[1]!, ...(has(v[2]!) ? { minRttSeconds: v[2]! } : {}), ...(has(v[3]!) ? { samples: v[3]! } : {}) });
    if (has(v[4]!)) row.connectionSeconds = v[4]!;
    if (has(v[5]!)) row.closes = v[5]!;
    if (has(v[6]!)) row.survivors = { open: v[6]!, surviving: v[7]!, survivingMean: v[8]! };
    return row;
  });
}

export interface TableRow {
  subnet: string;
  rtt_ms: number | null;
  min_rtt_ms: number | null;
  samples: number;
  connections: number;
  first_seen: string;
  last_seen: string;
  exported: boolean;
  /** The entry whose series count this subnet (itself, or an aggregating prefix); null when none. */
  exported_as: string | null;
}

export function aggregationOf(cfg: AgentConfig): AggregationOptions {
  const a = cfg.subnet_aggregation;
  return { ipv4Prefixes: a.ipv4_prefixes, ipv6Prefixes: a.ipv6_prefixes, exactShare: a.exact_share, ipv4Prefix: cfg.ipv4_prefix, ipv6Prefix: cfg.ipv6_prefix };
}

export function learnerFromConfig(cfg: AgentConfig): Learner {
  return new Learner({
    classify: buildClassifyConfig({ servicePorts: cfg.service_ports, upstreams: cfg.upstreams, includeLoopback: cfg.include_loopback, ignorePeers: cfg.ignore_peers }),
    ipv4Prefix: cfg.ipv4_prefix,
    ipv6Prefix: cfg.ipv6_prefix,
    alpha: cfg.ewma_alpha,
    minConnectionAgeMs: cfg.min_connection_age,
    maxSubnets: cfg.max_subnets,
    subnetTtlMs: cfg.subnet_ttl,
    minSamples: cfg.min_samples,
  });
}

export class Poller {
  readonly errors = new ErrorCounts();
  readonly learner: Learner;
  readonly turnover: ConnectionTurnover;
  private readonly ledger = new ExportLedger();
  /** Polls so far: the export made at a poll is reused until the next one. */
  private polls = 0;
  private lastExport: { poll: number; value: SubnetExport } | null = null;

  constructor(
    private readonly cfg: AgentConfig,
    private readonly collector: Collector | null,
    private readonly now: () => number = Date.now,
  ) {
    this.learner = learnerFromConfig(cfg);
    // Per-subnet turnover lives in the learning table's columns: one entry per subnet, dropped with it.
    this.turnover = new ConnectionTurnover({ pollSeconds: cfg.poll_interval / 1000, horizonSeconds: cfg.survival_horizon / 1000, offsetSeconds: (cfg.survival_offset ?? cfg.poll_interval) / 1000 }, this.learner.table);
  }

  /** Collects and learns; the export is not made here (exportSubnets, when it is read). */
  poll(): PollReport {
    this.polls++;
    const started = performance.now();
    let complete = false;
    let summary = { inbound: 0, outbound: 0, other: 0 };
    // Read the kernel's accept counter BEFORE the dump: every connection it includes was accepted before
    // the dump began, so the dump can only count more than it, never less (churn must never read high).
    const passiveOpens = process.platform === 'linux' ? readPassiveOpens() : null;
    if (process.platform === 'linux' && passiveOpens === null) this.errors.add('snmp');
    if (this.collector) {
      try {
        const result = this.collector.collect(this.errors);
        complete = result.complete;
        const now = this.now();
        summary = this.learner.ingest(result.sockets, now, result.complete).sockets;
        this.ingestTurnover(result.sockets, now, result.complete);
      } catch {
        // Unexpected (the collector counts what it knows); keep the last learned state in force.
        this.errors.add('worker');
      }
    }
    const l = this.learner;
    return {
      durationSeconds: (performance.now() - started) / 1000,
      complete,
      sockets: summary,
      subnetsTracked: l.table.size,
      evictedTotal: l.table.evicted,
      expiredTotal: l.table.expired,
      countedInbound: l.countedInbound,
      connectionsByPort: Object.fromEntries([...l.connectionsByPort].map(([p, n]) => [String(p), n])),
      errors: this.errors.toJSON(),
      passiveOpens,
      upstreams: [...l.upstreams].map(([upstream, u]) => ({
        upstream,
        connections: u.connections,
        samples: u.samples,
        ...(u.ewmaUs !== undefined ? { rttSeconds: u.ewmaUs / 1e6, minRttSeconds: (u.minRttUs ?? u.ewmaUs) / 1e6 } : {}),
      })),
      ports: Object.fromEntries([...this.turnover.ports].map(([p, t]) => {
        const survivors = this.turnover.portSurvivors.get(p);
        return [String(p), { ...t, ...(survivors ? { survivors } : {}) }];
      })),
    };
  }

  /**
   * The /metrics/subnets entries of the table as the latest poll left it: export-plan.ts chooses them,
   * export-ledger.ts counts them. Made when read (a scrape), at most once per poll, not at every poll:
   * at 100k subnets a plan allocates ~50 MB, and made every 250 ms that garbage was most of the
   * collector's heap (bench/agent.bench.ts, "allocated per poll"), while Prometheus reads it every ~15 s.
   *
   * What a scrape sees is what it saw when the plan was made at every poll: the table changes only in
   * poll() (this thread runs one request at a time), so the plan is made over the table the latest poll
   * left, as the per-poll plan was. The ledger's counters stay monotonic (it adds each member's increase
   * since the last export, whichever entry the member was in then): between two scrapes an aggregate
   * grows by the same total; only an increase of a subnet that moved between entries in between is
   * counted in the entry it is in at the scrape rather than one no scrape saw. Stickiness (`previous`)
   * now prefers what the last scrape exported: the series Prometheus actually holds.
   */
  exportSubnets(): SubnetExport {
    if (this.lastExport?.poll === this.polls) return this.lastExport.value;
    const plan = planExport(this.learner.table.list(), this.cfg.subnet_series_budget, { ...aggregationOf(this.cfg), previous: this.ledger.exported() });
    let own = 0;
    let aggregate = 0;
    for (const g of plan.groups) {
      if (g.exact) own += g.members.length;
      else aggregate += g.members.length;
    }
    const value: SubnetExport = { topSubnets: packSubnets(this.ledger.apply(plan, this.turnover, this.cfg.min_samples)), exportedSubnets: { own, aggregate, none: this.learner.table.size - own - aggregate } };
    this.lastExport = { poll: this.polls, value };
    return value;
  }

  private ingestTurnover(sockets: readonly SocketRecord[], nowMs: number, complete: boolean): void {
    const cfg = this.learner.opts.classify;
    const inbound = sockets.filter((s) => cfg.servicePorts.has(s.localPort) && classify(s, cfg).direction === 'inbound');
    // The table's own subnet string (the learner has just touched every inbound subnet): one copy per subnet.
    const table = this.learner.table;
    this.turnover.ingest(inbound, nowMs, complete, (s) => {
      const subnet = this.learner.subnetOf(s.remoteAddr, s.family);
      return table.keyOf(subnet) ?? subnet;
    });
  }

  /**
   * The inbound and outbound sockets now, from a dump of their own (debugging; compare with `ss -tin`).
   * Not the last poll's: keeping every poll's records alive until the next one would double the
   * collector's live heap at 50k connections, for an endpoint that is rarely asked.
   */
  sockets(limit: number): (SocketRecord & { direction: string; upstream?: string })[] {
    const out: (SocketRecord & { direction: string; upstream?: string })[] = [];
    if (!this.collector) return out;
    for (const s of this.collector.collect(this.errors).sockets) {
      if (out.length >= limit) break;
      const c = classify(s, this.learner.opts.classify);
      if (c.direction !== 'other') out.push({ ...s, direction: c.direction, ...(c.upstream ? { upstream: c.upstream } : {}) });
    }
    return out;
  }

  /** The whole table, most recently seen first, for GET /api/v1/latency. */
  table(limit: number): TableRow[] {
    this.exportSubnets(); // exported_as: the entries a scrape now would see
    const rows: TableRow[] = [];
    for (const e of this.learner.table.recent(limit)) {
      rows.push({
        subnet: e.subnet,
        rtt_ms: e.ewmaUs === undefined ? null : round3(e.ewmaUs / 1000),
        min_rtt_ms: e.minRttUs === undefined ? null : round3(e.minRttUs / 1000),
        samples: e.samples,
        connections: e.connections,
        first_seen: new Date(e.firstSeenMs).toISOString(),
        last_seen: new Date(e.lastSeenMs).toISOString(),
        exported: this.ledger.entryOf(e.subnet) !== null,
        exported_as: this.ledger.entryOf(e.subnet),
      });
    }
    return rows;
  }
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
