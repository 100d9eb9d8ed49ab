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
  /** The busiest subnets (demand, turnover); RTT fields only where at least min_samples samples were learned. */
  topSubnets: ({ subnet: string; connections: number; connectionSeconds?: number; closes?: number; survivors?: Survivors } & Partial<RttSeries>)[];
  /** Connection turnover per service port (cumulative, except `open` and `survivors`). */
  ports?: Record<string, PortTurnover & { survivors?: Survivors }>;
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

/** Polls between drops of turnover counters for subnets the learning table no longer holds. */
const PRUNE_EVERY = 20;

export class Poller {
  readonly errors = new ErrorCounts();
  readonly learner: Learner;
  readonly turnover: ConnectionTurnover;
  private lastSockets: readonly SocketRecord[] = [];
  private polls = 0;

  constructor(
    private readonly cfg: AgentConfig,
    private readonly collector: Collector | null,
    private readonly now: () => number = Date.now,
  ) {
    this.learner = learnerFromConfig(cfg);
    this.turnover = new ConnectionTurnover({ pollSeconds: cfg.poll_interval / 1000, horizonSeconds: cfg.survival_horizon / 1000, offsetSeconds: (cfg.survival_offset ?? cfg.poll_interval) / 1000 });
  }

  poll(): PollReport {
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
        this.lastSockets = result.sockets;
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
      topSubnets: l.busiestSubnets(this.cfg.subnet_series_budget).map((e) => {
        const survivors = this.turnover.survivors(e.subnet);
        return { ...toSeries(e, this.cfg.min_samples), ...this.turnover.subnet(e.subnet), ...(survivors ? { survivors } : {}) };
      }),
      ports: Object.fromEntries([...this.turnover.ports].map(([p, t]) => {
        const survivors = this.turnover.portSurvivors.get(p);
        return [String(p), { ...t, ...(survivors ? { survivors } : {}) }];
      })),
    };
  }

  private ingestTurnover(sockets: readonly SocketRecord[], nowMs: number, complete: boolean): void {
    const cfg = this.learner.opts.classify;
    const inbound = sockets.filter((s) => cfg.servicePorts.has(s.localPort) && classify(s, cfg).direction === 'inbound');
    this.turnover.ingest(inbound, nowMs, complete, (s) => this.learner.subnetOf(s.remoteAddr, s.family));
    if (++this.polls % PRUNE_EVERY === 0) this.turnover.prune((subnet) => this.learner.table.get(subnet) !== undefined);
  }

  /** The last poll's inbound and outbound sockets (debugging; compare with `ss -tin`). */
  sockets(limit: number): (SocketRecord & { direction: string; upstream?: string })[] {
    const out: (SocketRecord & { direction: string; upstream?: string })[] = [];
    for (const s of this.lastSockets) {
      if (out.length >= limit) break;
      const c = classify(s, this.learner.opts.classify);
      if (c.direction !== 'other') out.push({ ...s, direction: c.direction, ...(c.upstream ? { upstream: c.upstream } : {}) });
    }
    return out;
  }

  /** The whole table, most recently seen first, for GET /api/v1/latency. */
  table(limit: number): TableRow[] {
    const exported = new Set(this.learner.topSubnets(this.cfg.subnet_series_budget).map((e) => e.subnet));
    const rows: TableRow[] = [];
    for (const e of this.learner.table.values()) {
      rows.push({
        subnet: e.subnet,
        rtt_ms: e.ewmaUs === undefined ? null : round3(e.ewmaUs / 1000),
        min_rtt_ms: e.minRttUs === undefined ? null : round3(e.minRttUs / 1000),
        samples: e.samples,
        connections: e.connections,
        first_seen: new Date(e.firstSeenMs).toISOString(),
        last_seen: new Date(e.lastSeenMs).toISOString(),
        exported: exported.has(e.subnet),
      });
    }
    return rows.reverse().slice(0, limit);
  }
}

function toSeries(e: SubnetEntry, minSamples: number): PollReport['topSubnets'][number] {
  const learned = e.ewmaUs !== undefined && e.samples >= minSamples;
  return {
    subnet: e.subnet,
    connections: e.connections,
    ...(learned ? { rttSeconds: e.ewmaUs! / 1e6, minRttSeconds: (e.minRttUs ?? e.ewmaUs!) / 1e6, samples: e.samples } : {}),
  };
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
