// Turns each poll's socket list into learned state: which connections are new (demand), which give an
// RTT sample, and how those samples fold into per-subnet and per-upstream EWMAs. Pure: sockets and a
// clock value in, state and a summary out. The worker, the tests and the benchmark all run this code.
//
// Sample weighting (why one long-lived connection cannot dominate its subnet):
//  1. A connection gives at most ONE sample per poll: its kernel srtt, and only if an ACK arrived since
//     the previous poll (tcpi_last_ack_recv), i.e. only if srtt can have moved. An idle keep-alive
//     connection repeats a stale srtt; it is not counted again until it carries traffic.
//  2. A subnet's samples from one poll are reduced to their MEDIAN, which is folded into the EWMA once.
//     Every poll moves the EWMA by one step whatever the number of connections, and inside a poll each
//     connection has one vote: a single bufferbloated bulk transfer cannot drag the subnet's RTT, and a
//     long-lived connection weighs the same as any short one present at that poll.
//  3. `samples` counts connection samples (what min_samples gates on), `connections` counts distinct
//     connections (demand); both are per subnet.
import { ipToBytes, maskBytes, bytesToIp } from '../../model/addresses.ts';
import type { SocketRecord } from '../collector.ts';
import { classify, type ClassifyConfig } from '../classify.ts';
import { TCP_STATE } from '../netlink/constants.ts';
import { median, newRttStat, foldSample, type RttStat } from './rtt-stat.ts';
import { ConnectionTracker } from './connections.ts';
import { SubnetTable, type SubnetEntry } from './subnet-table.ts';

export interface LearnerOptions {
  classify: ClassifyConfig;
  ipv4Prefix: number;
  ipv6Prefix: number;
  alpha: number;
  minConnectionAgeMs: number;
  maxSubnets: number;
  subnetTtlMs: number;
  minSamples: number;
}

export interface PollSummary {
  sockets: { inbound: number; outbound: number; other: number };
  newInbound: number;
  newOutbound: number;
  samples: number;
}

export class Learner {
  readonly table: SubnetTable;
  readonly upstreams = new Map<string, RttStat>();
  /** Cumulative new inbound connections per service port. */
  readonly connectionsByPort = new Map<number, number>();
  /** Cumulative new inbound connections, all ports. */
  countedInbound = 0;
  private readonly tracked = new ConnectionTracker();
  private poll = 0;
  private lastPollMs: number | undefined;

  constructor(readonly opts: LearnerOptions) {
    this.table = new SubnetTable({ maxSubnets: opts.maxSubnets, ttlMs: opts.subnetTtlMs, alpha: opts.alpha });
    for (const label of opts.classify.upstreams.values()) this.upstreams.set(label, newRttStat(0));
  }

  /** Connections currently tracked (for min_connection_age and first-seen counting). */
  get trackedConnections(): number {
    return this.tracked.size;
  }

  subnetOf(addr: string, family: 4 | 6): string {
    if (family === 4) return subnet4(addr, this.opts.ipv4Prefix);
    const bytes = ipToBytes(addr);
    if (!bytes) return `${addr}/128`;
    return `${bytesToIp(maskBytes(bytes, this.opts.ipv6Prefix))}/${this.opts.ipv6Prefix}`;
  }

  /**
   * Folds one poll. `complete` is false when the dump was cut short: then connections missing from it
   * are not forgotten (they would be counted again as new next time).
   */
  ingest(sockets: readonly SocketRecord[], nowMs: number, complete = true): PollSummary {
    const poll = ++this.poll;
    const sinceLastMs = this.lastPollMs === undefined ? Infinity : nowMs - this.lastPollMs;
    this.lastPollMs = nowMs;
    const summary: PollSummary = { sockets: { inbound: 0, outbound: 0, other: 0 }, newInbound: 0, newOutbound: 0, samples: 0 };
    const subnetSamples = new Map<string, { rtts: number[]; min: number }>();
    const upstreamSamples = new Map<string, { rtts: number[]; min: number }>();
    const touched = new Set<string>();

    for (const s of sockets) {
      const c = classify(s, this.opts.classify);
      if (c.direction === 'other') {
        summary.sockets.other++;
        continue;
      }
      summary.sockets[c.direction]++;
      let t = this.tracked.find(s.id);
      if (t < 0) {
        if (c.direction === 'inbound') {
          const subnet = this.subnetOf(s.remoteAddr, s.family);
          this.table.countConnection(subnet, nowMs);
          // The table's own string for the subnet: one copy however many connections it has.
          t = this.tracked.add(s.id, nowMs, poll, this.table.keyOf(subnet) ?? subnet, true);
          touched.add(subnet);
          this.connectionsByPort.set(s.localPort, (this.connectionsByPort.get(s.localPort) ?? 0) + 1);
          this.countedInbound++;
          summary.newInbound++;
        } else {
          t = this.tracked.add(s.id, nowMs, poll, c.upstream!, false);
          const u = this.upstreams.get(c.upstream!);
          if (u) {
            u.connections++;
            u.lastSeenMs = nowMs;
          }
          summary.newOutbound++;
        }
      } else {
        this.tracked.seen(t, poll);
        const label = this.tracked.label(t);
        if (this.tracked.isInbound(t) && !touched.has(label)) {
          this.table.touch(label, nowMs);
          touched.add(label);
        }
      }
      // RTT sample: established, has an srtt, old enough, and fresh since the last poll.
      if (s.state !== TCP_STATE.ESTABLISHED || !s.rttUs) continue;
      if (nowMs - this.tracked.firstSeenMs(t) < this.opts.minConnectionAgeMs) continue;
      if (s.lastAckRecvMs !== undefined && s.lastAckRecvMs > sinceLastMs) continue;
      const key = this.tracked.label(t);
      const bucketMap = this.tracked.isInbound(t) ? subnetSamples : upstreamSamples;
      let bucket = bucketMap.get(key);
      if (!bucket) bucketMap.set(key, (bucket = { rtts: [], min: Infinity }));
      bucket.rtts.push(s.rttUs);
      const connMin = s.minRttUs && s.minRttUs > 0 ? s.minRttUs : s.rttUs;
      if (connMin < bucket.min) bucket.min = connMin;
      summary.samples++;
    }

    for (const [subnet, b] of subnetSamples) this.table.observe(subnet, median(b.rtts), b.min, b.rtts.length, nowMs);
    for (const [label, b] of upstreamSamples) {
      const u = this.upstreams.get(label);
      if (u) foldSample(u, median(b.rtts), b.min, b.rtts.length, this.opts.alpha, nowMs);
    }
    if (complete) this.tracked.forgetUnseen(poll);
    this.table.expire(nowMs);
    return summary;
  }

  /** The busiest subnets with an RTT worth exporting (at least min_samples samples). */
  topSubnets(limit: number): SubnetEntry[] {
    return this.table.top(limit, this.opts.minSamples);
  }

  /**
   * The busiest subnets, learned RTT or not: demand is exported for these. Clients whose connections
   * all close before min_connection_age give no RTT sample, but they are still demand the scheduler
   * must see.
   */
  busiestSubnets(limit: number): SubnetEntry[] {
    return this.table.top(limit, 0);
  }
}

/** a.b.c.d -> network/prefix without building byte arrays (the hot path for IPv4). */
export function subnet4(addr: string, prefix: number): string {
  const p = addr.split('.');
  const n = ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const net = (n & mask) >>> 0;
  return `${net >>> 24}.${(net >>> 16) & 255}.${(net >>> 8) & 255}.${net & 255}/${prefix}`;
}
