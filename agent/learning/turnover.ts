// Connection turnover on the service ports: how many client connections are open, how long they stay
// open, and how many bytes they carry. Pure: sockets and a clock value in, cumulative counters out. It
// runs beside the Learner (poller.ts) with its own small table of connections; the per-subnet counters
// go where the caller says (SubnetCounters): in the agent, two columns of the learning table (one entry
// per subnet, dropped with it), standalone a Map.
//
// What the scheduler fits from it (scheduler/inputs/convert.ts): the mean lifetime τ of connections as
// connection-seconds observed / connections closed — the maximum-likelihood estimate for exponential
// lifetimes where connections still open count as censored observations (their age so far) — and, per
// client subnet, where its connections are open (its connection-seconds per origin). Measured:
//
//   connection-seconds  each poll, every connection ESTABLISHED at this poll and at the previous one
//                       adds the time between the two polls (a connection counts from when it was
//                       first seen: time before that is unknown, and short one-request connections
//                       that never survive to a second poll add nothing — they are counted as new
//                       connections, not as open ones);
//   closes              a connection seen ESTABLISHED that is then seen in a closing state, or gone
//                       from a complete dump;
//   bytes               deltas of tcpi_bytes_acked (sent) and tcpi_bytes_received per connection; a
//                       connection's bytes before the agent's first poll are not counted;
//   survivors           per poll, for each open connection, the probability it is still open after the
//                       horizon (the scheduler's cycle) and averaged over it, from its age and the
//                       port's recent lifetimes (survival.ts); summed per port and per subnet. With the
//                       open counts, that is how much of each subnet's load established connections keep
//                       where it is over the next cycle — what the scheduler predicts with.
import type { SocketRecord } from '../collector.ts';
import { TCP_STATE } from '../netlink/constants.ts';
import { LifetimeSample } from './survival.ts';

interface Tracked {
  bornMs: number;
  seenMs: number;
  subnet: string;
  port: number;
  open: boolean;
  sent: number;
  received: number;
}

export interface PortTurnover {
  /** Connections ESTABLISHED at the last poll. */
  open: number;
  /** Cumulative. */
  closes: number;
  connectionSeconds: number;
  bytesSent: number;
  bytesReceived: number;
}

export interface SubnetTurnover {
  closes: number;
  connectionSeconds: number;
}

/**
 * Where the per-subnet counters live. The agent passes its learning table (subnet-table.ts: two more
 * typed-array columns, dropped with the subnet); standalone, a Map of its own (SubnetTurnoverMap).
 */
export interface SubnetCounters {
  addTurnover(subnet: string, connectionSeconds: number, closes: number): void;
  /** A subnet's counters; `out`, when given, may be filled and returned instead of a new object. */
  turnoverOf(subnet: string, out?: SubnetTurnover): SubnetTurnover | undefined;
}

/** Per-subnet counters in a Map: every subnet that ever had an open connection, until pruned. */
export class SubnetTurnoverMap implements SubnetCounters {
  private readonly subnets = new Map<string, SubnetTurnover>();

  addTurnover(subnet: string, connectionSeconds: number, closes: number): void {
    let e = this.subnets.get(subnet);
    if (!e) this.subnets.set(subnet, (e = { closes: 0, connectionSeconds: 0 }));
    e.connectionSeconds += connectionSeconds;
    e.closes += closes;
  }

  turnoverOf(subnet: string): SubnetTurnover | undefined {
    return this.subnets.get(subnet);
  }

  /** Drops the counters of subnets `keep` refuses. */
  prune(keep: (subnet: string) => boolean): void {
    for (const s of this.subnets.keys()) if (!keep(s)) this.subnets.delete(s);
  }
}

/** Open connections at the last poll, and how many of them are expected open after the horizon (and on average over it). */
export interface Survivors {
  open: number;
  surviving: number;
  survivingMean: number;
}

export interface TurnoverOptions {
  /** Seconds between polls: the resolution lifetimes are known at. */
  pollSeconds: number;
  /** The horizon survivors are expected over (the scheduler's cycle), seconds. */
  horizonSeconds: number;
  /** How far from this poll that horizon starts (the data's age when the scheduler reads it), seconds. */
  offsetSeconds?: number;
}

export class ConnectionTurnover {
  private readonly tracked = new Map<number | string, Tracked>();
  readonly ports = new Map<number, PortTurnover>();
  private readonly lifetimes = new Map<number, LifetimeSample>();
  /** Per port and per subnet, as of the last complete poll. */
  portSurvivors = new Map<number, Survivors>();
  private subnetSurvivors = new Map<string, Survivors>();
  private polls = 0;

  constructor(
    private readonly opts: TurnoverOptions = { pollSeconds: 10, horizonSeconds: 15 },
    private readonly subnets: SubnetCounters = new SubnetTurnoverMap(),
  ) {}

  get trackedConnections(): number {
    return this.tracked.size;
  }

  /**
   * Folds one poll's inbound sockets (already classified as inbound). `subnetOf` maps a socket to its
   * client subnet (called once per connection). `complete`: a partial dump forgets nothing.
   */
  ingest(inbound: readonly SocketRecord[], nowMs: number, complete: boolean, subnetOf: (s: SocketRecord) => string): void {
    const first = this.polls++ === 0;
    const seen = new Set<number | string>();
    for (const p of this.ports.values()) p.open = 0;
    for (const s of inbound) {
      seen.add(s.id);
      const established = s.state === TCP_STATE.ESTABLISHED;
      let t = this.tracked.get(s.id);
      if (!t) {
        // Bytes a connection carried before the agent's first poll are history, not this poll's traffic.
        t = { bornMs: nowMs, seenMs: nowMs, subnet: subnetOf(s), port: s.localPort, open: established, sent: first ? (s.bytesAcked ?? 0) : 0, received: first ? (s.bytesReceived ?? 0) : 0 };
        this.tracked.set(s.id, t);
      } else {
        if (t.open) this.addSeconds(t, (nowMs - t.seenMs) / 1000);
          if (t.open && !established) this.close(t, nowMs - t.bornMs);
        t.open = established;
        t.seenMs = nowMs;
      }
      const port = this.port(t.port);
      if (t.open) port.open++;
      // A socket in TIME_WAIT has no tcp_info: its counters are simply absent, never read as 0.
      if (s.bytesAcked !== undefined && s.bytesAcked >= t.sent) {
        port.bytesSent += s.bytesAcked - t.sent;
        t.sent = s.bytesAcked;
      }
      if (s.bytesReceived !== undefined && s.bytesReceived >= t.received) {
        port.bytesReceived += s.bytesReceived - t.received;
        t.received = s.bytesReceived;
      }
    }
    if (!complete) return;
    for (const [id, t] of this.tracked) {
      if (seen.has(id)) continue;
      // Closed at some point since the last poll: count half of that interval as open time.
      if (t.open) {
        this.addSeconds(t, (nowMs - t.seenMs) / 2000);
        this.close(t, (t.seenMs + nowMs) / 2 - t.bornMs);
      }
      this.tracked.delete(id);
    }
    this.countSurvivors(nowMs);
  }

  /** Open connections of a subnet at the last complete poll, and their expected survivors. */
  survivors(subnet: string): Survivors | undefined {
    return this.subnetSurvivors.get(subnet);
  }

  /** Per open connection: its chance to outlive the horizon, from its age and its port's lifetimes. */
  private countSurvivors(nowMs: number): void {
    const ages = new Map<number, Float64Array>();
    const open: Tracked[] = [];
    for (const t of this.tracked.values()) {
      if (!t.open) continue;
      open.push(t);
      const sample = this.sample(t.port);
      let hist = ages.get(t.port);
      if (!hist) ages.set(t.port, (hist = new Float64Array(sample.closes.length)));
      hist[sample.cell((nowMs - t.bornMs) / 1000)]!++;
    }
    const tables = new Map([...ages].map(([port, hist]) => [port, this.sample(port).table(hist, this.opts.horizonSeconds, this.opts.offsetSeconds ?? 0)]));
    const ports = new Map<number, Survivors>();
    const subnets = new Map<string, Survivors>();
    const add = <K>(m: Map<K, Survivors>, k: K, end: number, mean: number) => {
      let e = m.get(k);
      if (!e) m.set(k, (e = { open: 0, surviving: 0, survivingMean: 0 }));
      e.open++;
      e.surviving += end;
      e.survivingMean += mean;
    };
    for (const t of open) {
      const table = tables.get(t.port)!;
      const b = this.sample(t.port).cell((nowMs - t.bornMs) / 1000);
      add(ports, t.port, table.end[b]!, table.mean[b]!);
      add(subnets, t.subnet, table.end[b]!, table.mean[b]!);
    }
    this.portSurvivors = ports;
    this.subnetSurvivors = subnets;
  }

  private sample(port: number): LifetimeSample {
    let s = this.lifetimes.get(port);
    if (!s) this.lifetimes.set(port, (s = new LifetimeSample(this.opts.pollSeconds)));
    return s;
  }

  /**
   * Cumulative connection-seconds and closes of a subnet (zero when it has had no open connection).
   * `out`: filled and returned instead of a new object (the export reads every subnet's).
   */
  subnet(subnet: string, out?: SubnetTurnover): SubnetTurnover {
    const t = this.subnets.turnoverOf(subnet, out);
    if (t) return t;
    if (!out) return { closes: 0, connectionSeconds: 0 };
    out.closes = 0;
    out.connectionSeconds = 0;
    return out;
  }

  private port(p: number): PortTurnover {
    let e = this.ports.get(p);
    if (!e) this.ports.set(p, (e = { open: 0, closes: 0, connectionSeconds: 0, bytesSent: 0, bytesReceived: 0 }));
    return e;
  }

  private addSeconds(t: Tracked, seconds: number): void {
    if (!(seconds > 0)) return;
    this.port(t.port).connectionSeconds += seconds;
    this.subnets.addTurnover(t.subnet, seconds, 0);
  }

  private close(t: Tracked, lifetimeMs: number): void {
    this.port(t.port).closes++;
    this.subnets.addTurnover(t.subnet, 0, 1);
    this.sample(t.port).add(Math.max(0, lifetimeMs) / 1000);
  }
}
