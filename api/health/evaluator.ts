// The health evaluator: every replica runs one, one of them — the holder of the store's `health`
// lease — decides. Every `evaluate_interval` (and at once when this replica receives a report) it
// reads every vantage's observations and the decisions in force, judges them (judge-world.ts, the
// quorum rule of quorum.ts) and writes the transitions, each with the votes behind it, fenced by the
// lease epoch (a paused ex-leader cannot write a stale decision).
//
// Why one decider and not every replica deciding from the stored observations: staleness and the
// hold-down depend on a clock and on history (when did the down quorum go away?). Replicas judging on
// their own clocks would disagree for a moment at every boundary, and views built from those
// judgements would differ between replicas — an edge failing over from one replica to another could
// see an origin come and go. One fenced writer, whose decisions every replica's views read from the
// store, gives every replica the same answer (the scheduler's leader is fenced the same way; this lease
// is separate so health is decided even where the scheduler is disabled).
import type { Logger } from 'pino';
import { LeaseLost, type Fence } from '../../scheduler/loop/store.ts';
import { HEALTH_LEASE } from '../replica.ts';
import type { Store } from '../store/store.ts';
import { emptyMemory, judgeWorld, type HealthMemory, type HealthRound } from './judge-world.ts';
import { clearHealthSeries, type HealthMetrics } from './metrics.ts';
import type { QuorumPolicy } from './quorum.ts';


export interface HealthEvaluatorOptions {
  store: Store;
  log: Logger;
  metrics: HealthMetrics;
  /** Unique per process (a restarted replica is a new holder with a new epoch). */
  holder: string;
  policy: QuorumPolicy;
  intervalMs: number;
  leaseTtlMs: number;
  /** Observations older than this are deleted (retired replicas, edges that stopped reporting). */
  retentionMs: number;
  now?: () => number;
}

const PRUNE_EVERY_MS = 60_000;

export class HealthEvaluator {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private fence: Fence | undefined;
  private renewAt = 0;
  private memory: HealthMemory = emptyMemory();
  private failingOpen = new Set<string>();
  private pruneAt = 0;
  private readonly now: () => number;

  constructor(private readonly o: HealthEvaluatorOptions) {
    this.now = o.now ?? Date.now;
  }

  get holder(): string {
    return this.o.holder;
  }

  get leading(): boolean {
    return this.fence !== undefined;
  }

  start(): void {
    this.stopped = false;
    const loop = () => {
      if (this.stopped) return;
      void this.tick().finally(() => {
        if (!this.stopped) this.timer = setTimeout(loop, this.o.intervalMs);
      });
    };
    loop();
  }

  /**
   * A report arrived: judge now rather than at the next interval (coalesced with a round in flight).
   * Only the leader does; another replica's wake-up would only be a lease attempt (a write) per report.
   */
  wake(): void {
    if (this.stopped || !this.fence) return;
    if (this.running) this.again = true;
    else void this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
    if (this.fence) await this.o.store.releaseLease(HEALTH_LEASE, this.o.holder).catch(() => undefined);
    this.lose();
  }

  /** One round; rounds never overlap (a wake-up during one runs another right after). */
  tick(): Promise<void> {
    this.running ??= (async () => {
      try {
        do {
          this.again = false;
          await this.round();
        } while (this.again && !this.stopped);
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  private async round(): Promise<void> {
    const now = this.now();
    try {
      if (!(await this.holdLease(now))) return;
      const [loadBalancers, origins, edges, observations, health, edgeHealth] = await Promise.all([
        this.o.store.allLoadBalancers(),
        this.o.store.allOrigins(),
        this.o.store.allEdges(),
        this.o.store.listHealthObservations(),
        this.o.store.listOriginHealth(),
        this.o.store.listEdgeHealth(),
      ]);
      const r = judgeWorld({ loadBalancers, origins, edges, observations, health, edgeHealth }, this.memory, this.now(), this.o.policy);
      for (const d of r.decisions) {
        const { changed } = await this.o.store.recordHealthDecision(d, this.fence);
        if (!changed) continue;
        this.o.metrics.decisions.inc({ scope: d.edge_id === null ? 'global' : 'edge', to: d.healthy ? 'healthy' : 'unhealthy' });
        const origin = origins.find((o) => o.id === d.origin_id);
        const edge = d.edge_id === null ? undefined : edges.find((e) => e.id === d.edge_id)?.name;
        this.o.log.warn({ origin: origin?.name, origin_id: d.origin_id, edge, healthy: d.healthy, reason: d.reason, detail: d.detail }, edge ? (d.healthy ? 'origin reachable from this edge again' : 'origin unreachable from one edge: excluded for that edge only') : d.healthy ? 'origin healthy' : 'origin unhealthy by quorum');
      }
      this.memory = r.memory;
      this.export(r);
      this.failOpen(r);
      if (now >= this.pruneAt) {
        this.pruneAt = now + PRUNE_EVERY_MS;
        await this.o.store.pruneHealthObservations(new Date(now - this.o.retentionMs).toISOString());
      }
    } catch (err) {
      if (err instanceof LeaseLost) {
        this.o.metrics.fencedWrites.inc();
        this.o.log.error({ detail: err.message }, 'lost the health lease mid-round: the store refused this decision (fenced)');
      } else {
        this.o.log.error({ err: (err as Error).message }, 'health evaluation failed: the decisions in force stay');
      }
      this.lose();
    }
  }

  /** Acquires or renews the lease (renewed once a third of it has passed). False: another replica decides. */
  private async holdLease(now: number): Promise<boolean> {
    if (this.fence && now < this.renewAt) return true;
    const grant = await this.o.store.acquireLease(HEALTH_LEASE, this.o.holder, this.o.leaseTtlMs);
    if (!grant) {
      this.lose();
      return false;
    }
    if (this.fence?.epoch !== grant.epoch) {
      this.o.log.info({ epoch: grant.epoch, holder: this.o.holder }, 'acquired the health lease: this replica makes the health decisions');
      // Start from the store's decisions, not from clocks kept under an older epoch.
      this.memory = emptyMemory();
    }
    this.fence = { name: grant.name, holder: grant.holder, epoch: grant.epoch };
    this.renewAt = now + this.o.leaseTtlMs / 3;
    this.o.metrics.leader.set(1);
    return true;
  }

  private lose(): void {
    if (this.fence) this.o.log.warn({ epoch: this.fence.epoch }, 'no longer the health leader');
    this.fence = undefined;
    this.memory = emptyMemory();
    this.o.metrics.leader.set(0);
    clearHealthSeries(this.o.metrics);
  }

  private export(r: HealthRound): void {
    const m = this.o.metrics;
    clearHealthSeries(m);
    const perVantage = new Map<string, { up: number; down: number; stale: number; disagree: number; latency: number; timed: number; newest: number; oldest: number }>();
    for (const row of r.rows) {
      const o = { load_balancer: row.loadBalancer.name, origin: row.origin.name };
      m.originHealthy.set(o, row.healthy ? 1 : 0);
      m.freshVantages.set(o, row.tally.fresh);
      m.downVotes.set(o, row.tally.down);
      m.requiredVotes.set(o, row.tally.required);
      for (const c of row.counted) {
        let v = perVantage.get(c.vote.vantage);
        if (!v) perVantage.set(c.vote.vantage, (v = { up: 0, down: 0, stale: 0, disagree: 0, latency: 0, timed: 0, newest: Infinity, oldest: 0 }));
        v.newest = Math.min(v.newest, c.age_ms);
        if (!c.fresh) {
          v.stale++;
          continue;
        }
        v.oldest = Math.max(v.oldest, c.age_ms);
        if (c.vote.healthy) v.up++;
        else v.down++;
        if (c.vote.healthy !== row.healthy) {
          v.disagree++;
          m.vantageDisagrees.set({ ...o, vantage: c.vote.vantage }, 1);
        }
        if (c.vote.obs.latency_ms !== null) {
          v.latency += c.vote.obs.latency_ms;
          v.timed++;
        }
      }
      for (const e of row.excludedBy) m.edgeExcluded.set({ ...o, edge: e.name }, 1);
    }
    for (const [vantage, v] of perVantage) {
      for (const view of ['up', 'down', 'stale'] as const) m.vantageOrigins.set({ vantage, view }, v[view]);
      m.vantageDisagreements.set({ vantage }, v.disagree);
      if (v.timed > 0) m.vantageLatency.set({ vantage }, v.latency / v.timed / 1000);
      m.vantageAge.set({ vantage, which: 'newest' }, v.newest / 1000);
      if (v.up + v.down > 0) m.vantageAge.set({ vantage, which: 'oldest_fresh' }, v.oldest / 1000);
    }
    for (const lb of r.failOpen) m.failOpen.set({ load_balancer: lb.name }, 1);
  }

  /** Every origin of a load balancer down by quorum: the views fail open. Said loudly, once per episode. */
  private failOpen(r: HealthRound): void {
    const now = new Set(r.failOpen.map((lb) => lb.id));
    for (const lb of r.failOpen) {
      if (!this.failingOpen.has(lb.id)) this.o.log.error({ load_balancer: lb.name }, 'every origin of this load balancer is down by quorum: DNS answers and edges fail open to all of them (never an empty answer)');
    }
    for (const id of this.failingOpen) if (!now.has(id)) this.o.log.warn({ load_balancer_id: id }, 'fail-open over: some origin of this load balancer is healthy again');
    this.failingOpen = now;
  }
}
