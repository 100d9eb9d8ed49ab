// The closed loop: every interval, for each enabled load balancer, read inputs, build the problem,
// decide in the solver worker, and publish a new weights version with its decision record — or hold
// the weights in force and say why. Cycles start at a fixed rate (start to start), so a slow cycle
// does not stretch the period the damping law counts in.
//
// Only the lease holder acts. The lease is renewed on its own timer, several times per TTL and
// whatever a cycle is doing (Kubernetes' leader election: a retry period well inside the lease), so a
// cycle slower than TTL − interval cannot let it lapse; other replicas try to acquire it on the same
// timer and take over within TTL + one renewal period once the holder stops renewing, running a cycle
// at once. Every write the leader makes carries its lease epoch (the fencing token, see store.ts): a
// write the store refuses (LeaseLost) ends the cycle at once, is logged and counted, and this replica
// acts again only once it holds the lease anew.
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { LatencyEntry, LoadBalancer, LoadBalancerWeights } from '../../model/index.ts';
import { LeaseLost, type Fence, type LeaseGrant, type SchedulerStore } from './store.ts';
import type { Policy, SchedulingDecision, SchedulingProblem } from '../core/index.ts';
import { InputsUnavailable, type InputReader, type LbInputs } from '../inputs/types.ts';
import { buildProblemSteps, sameWeights, sameWeightsSteps, splitWeights, splitWeightsChangeSteps, type BuiltProblem, type Locate } from './problem.ts';
import { CarriedState, connectionSummary } from './connection-sources.ts';
import { answersOfSteps } from './answer-survival.ts';
import type { SchedulerMetrics } from './metrics.ts';
import { OverrideTracker } from './overrides.ts';
import { runPaced, yieldToLoop } from '../../lib/steps.ts';
import { StageClock, type StageObserver } from './stage-clock.ts';
import { priceHintFor, pricesOfDecision, storedPriceHint, totalDemand, type PricedDemand } from './price-hint.ts';

export type Solve = (p: SchedulingProblem) => Promise<{ decision: SchedulingDecision; solve_ms: number }>;

export interface LoopOptions {
  store: SchedulerStore;
  reader: InputReader;
  solve: Solve;
  /** Told each problem's size once it is built, before the summary, latency rows and packing: the
   * decision worker maps its arrays meanwhile (DecisionWorker.prepare, core/prepare.ts). */
  prepare?: (rows: number, cols: number, policy: Policy) => void;
  log: Logger;
  metrics: SchedulerMetrics;
  intervalMs: number;
  inputTimeoutMs: number;
  leaseTtlMs: number;
  holdCycles: number;
  /** Scheduler config merge_resolution_ms: sources this close in RTT are one solver row (solver/merge.ts). */
  mergeResolutionMs?: number;
  latencyTtlMs: number;
  decisionRetentionMs?: number;
  locate: Locate;
  holder?: string;
  now?: () => number;
  /** How often the lease is renewed (or, by a standby, tried); default min(TTL / 3, interval). */
  renewEveryMs?: number;
  /** Told each stage's wall time between yields (benchmarks; the stage histogram has it too). */
  onStage?: StageObserver;
}

export const LEASE_NAME = 'scheduler';

/** Latency rows per store write (recordLatency): ~20-50 ms of SQLite each on this machine. */
const LATENCY_BATCH = 5_000;

/**
 * Decision records carry the whole problem the decision was made on (`inputs.problem`: demand, RTT,
 * health, capacity, weights in force, connection state, overrides), so `sluice replay` can run it again
 * with other settings. Above this many sources it is left out (a 100k-subnet problem is megabytes a
 * cycle; the summary stays): replay covers what fits.
 */
export const RECORD_PROBLEM_MAX_SOURCES = 5_000;

function recordedProblem(p: SchedulingProblem): { problem: SchedulingProblem } | { problem_omitted: string } {
  return p.sources.length <= RECORD_PROBLEM_MAX_SOURCES ? { problem: p } : { problem_omitted: `${p.sources.length} sources > ${RECORD_PROBLEM_MAX_SOURCES}` };
}

export interface CycleReport {
  leader: boolean;
  /** The lease epoch this cycle acted under (when leader). */
  epoch?: number;
  /** The cycle ended because the store refused a write: the lease was lost mid-cycle. */
  fenced?: boolean;
  /** shadow: decided and recorded, nothing published (the load balancer's mode). */
  results: { load_balancer: string; outcome: 'published' | 'unchanged' | 'held' | 'shadow'; detail: string; decision?: SchedulingDecision }[];
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new InputsUnavailable('timeout', `inputs not read within ${ms} ms`)), ms);
    }),
  ]);
}

export class SchedulerLoop {
  readonly holder: string;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<CycleReport> | undefined;
  private stopped = false;
  private readonly missing = new Map<string, Map<string, number>>();
  /** Connection state and load prediction from one cycle to the next (connection-sources.ts). */
  private readonly carried = new CarriedState();
  /**
   * Per load balancer: the last decision's capacity prices, the next solve's start (price-hint.ts).
   * Emptied when leadership changes: another leader may have decided since, and its prices are in the store.
   */
  private readonly lastPrices = new Map<string, PricedDemand>();
  /** Load balancers whose stored prices this lease epoch has already read (once each, hit or miss). */
  private readonly storedPricesRead = new Set<string>();
  private unsubscribe: (() => void) | undefined;
  private lastUnhealthy = '';
  /** The lease as the last renewal saw it (gauges, carried state); undefined once it is lost. */
  private fence: Fence | undefined;
  /**
   * The lease this cycle was granted: every write of the cycle carries it (writeFence). Not `fence`:
   * the renewal timer clears that the moment it sees the lease gone, and a write without a fence is not
   * fenced at all — a leader resumed from a pause past its TTL would then publish over its successor.
   */
  private cycleFence: Fence | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  /**
   * Per load balancer: the weights this replica last published, as the store stored them (read-only:
   * the next cycle decides from them while the store's version still says they are in force).
   */
  private readonly published = new Map<string, LoadBalancerWeights>();
  /** Per load balancer in shadow mode: the weights it would have in force had it published (its own walk). */
  private readonly shadow = new Map<string, LoadBalancerWeights>();
  /** Which overrides this replica has seen (their `now` applies once). */
  private readonly overrides: OverrideTracker;
  /** The override gauge series set for each load balancer, to remove once the override is gone. */
  private readonly overrideSeries = new Map<string, { active: Record<string, string>[]; expires: Record<string, string>[] }>();
  /** One renewal at a time: the timer's and a cycle's join. */
  private renewing: Promise<LeaseGrant | null> | undefined;

  constructor(private readonly o: LoopOptions) {
    this.holder = o.holder ?? `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
    // A minute at least: between replicas' clocks, and for loops run flat out (the demo's interval 0).
    this.overrides = new OverrideTracker(Math.max(3 * o.intervalMs, 60_000));
  }

  start(): void {
    this.stopped = false;
    this.tick();
    const every = this.o.renewEveryMs ?? Math.max(50, Math.min(this.o.leaseTtlMs / 3, this.o.intervalMs));
    this.renewTimer = setInterval(() => {
      const wasLeader = this.fence !== undefined;
      void this.renew().then((grant) => {
        // A standby that just took over acts now rather than at its next tick.
        if (grant && !wasLeader && !this.stopped) void this.cycle();
      });
    }, every);
    // A health transition is acted on now, not at the next tick: the failed origin's share goes to 0
    // in this very cycle and its traffic is re-planned onto the others.
    this.unsubscribe = this.o.store.onChange(() => {
      this.onStoreChange().catch((err: unknown) => this.o.log.warn({ err: (err as Error).message }, 'cannot read origin health after a store change'));
    });
  }

  private async onStoreChange(): Promise<void> {
    // Global health and edge-local exclusions both re-plan at once.
    const [health, edgeHealth] = await Promise.all([this.o.store.listOriginHealth(), this.o.store.listEdgeHealth()]);
    const unhealthy = [...health.filter((h) => !h.healthy).map((h) => h.origin_id), ...edgeHealth.filter((h) => !h.reachable).map((h) => `${h.edge_id}/${h.origin_id}`)].sort().join(',');
    if (unhealthy === this.lastUnhealthy) return;
    this.lastUnhealthy = unhealthy;
    // The next regular cycle comes a full interval after this one: the damping moves max_shift per
    // cycle, and a regular tick half a second after a recovery's cycle walked the recovered origin's
    // answers two steps in one interval (dns-failover: 0.60 of the load back in the first second).
    if (!this.stopped) this.tick();
  }

  /** A cycle now, and the next one an interval after it started (one timer pending at most). */
  private tick(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const started = Date.now();
    void this.cycle().finally(() => {
      if (this.stopped) return;
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => this.tick(), Math.max(0, this.o.intervalMs - (Date.now() - started)));
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
    if (this.renewTimer) clearInterval(this.renewTimer);
    await this.renewing?.catch(() => undefined);
    await this.running?.catch(() => undefined);
    await this.o.store.releaseLease(LEASE_NAME, this.holder).catch(() => undefined);
    this.setLeader(null);
  }

  /** One cycle over every enabled load balancer. Cycles never overlap: a second call joins the first. */
  cycle(): Promise<CycleReport> {
    this.running ??= this.runCycle().finally(() => (this.running = undefined));
    return this.running;
  }

  /**
   * Acquires or renews the lease and sets the fence every leader write carries. A store that does not
   * answer ends leadership at once: we cannot know we still hold the lease (and the store would refuse
   * our writes once it lapsed); the next renewal that reaches the store claims it again.
   */
  private renew(): Promise<LeaseGrant | null> {
    this.renewing ??= (async () => {
      try {
        const grant = await this.o.store.acquireLease(LEASE_NAME, this.holder, this.o.leaseTtlMs);
        this.setLeader(grant);
        return grant;
      } catch (err) {
        this.setLeader(null);
        this.o.metrics.storeErrors.inc();
        this.o.log.error({ err: (err as Error).message }, 'cannot reach the store to renew the scheduler lease; not acting as leader');
        return null;
      } finally {
        this.renewing = undefined;
      }
    })();
    return this.renewing;
  }

  private async runCycle(): Promise<CycleReport> {
    const end = this.o.metrics.cycleDuration.startTimer();
    const grant = await this.renew();
    if (!grant) {
      end();
      return { leader: false, results: [] };
    }
    const leader = true;
    this.cycleFence = { name: grant.name, holder: grant.holder, epoch: grant.epoch };
    try {
      const lbs = (await this.o.store.allLoadBalancers()).filter((lb) => lb.enabled);
      // What we published for a load balancer since deleted or disabled is tens of MB at scale: let it go.
      for (const id of this.published.keys()) if (!lbs.some((lb) => lb.id === id)) this.published.delete(id);
      const edges = await this.o.store.allEdges();
      const health = await this.o.store.listOriginHealth();
      const edgeHealth = await this.o.store.listEdgeHealth();
      const results: CycleReport['results'] = [];
      for (const lb of lbs) {
        try {
          results.push(await this.cycleFor(lb, edges, health, edgeHealth));
        } catch (err) {
          if (err instanceof LeaseLost) throw err;
          this.o.log.error({ err, load_balancer: lb.name }, 'scheduling cycle failed; the weights in force stay');
          this.o.metrics.held.inc({ load_balancer: lb.name, reason: 'error' });
          await this.hold(lb, 'error', `cycle failed: ${(err as Error).message}`);
          results.push({ load_balancer: lb.name, outcome: 'held', detail: (err as Error).message });
        }
      }
      const now = (this.o.now ?? Date.now)();
      await this.o.store.expireLatency(new Date(now - this.o.latencyTtlMs).toISOString());
      if (this.o.decisionRetentionMs) await this.o.store.pruneDecisions(new Date(now - this.o.decisionRetentionMs).toISOString());
      this.o.metrics.lastCycle.set(Date.now() / 1000);
      return { leader, epoch: grant.epoch, results };
    } catch (err) {
      if (!(err instanceof LeaseLost)) {
        // The store failed under us (a database restart, a timeout): the weights in force stay.
        this.o.metrics.storeErrors.inc();
        this.o.log.error({ err: (err as Error).message, epoch: grant.epoch }, 'scheduling cycle failed: the store did not answer; the weights in force stay');
        return { leader, epoch: grant.epoch, results: [] };
      }
      // Paused past the lease (GC, SIGSTOP, a partition) or taken over: the store refused the write.
      this.o.metrics.fenced.inc();
      this.o.log.error({ epoch: grant.epoch, holder: this.holder, detail: err.message }, 'lost the scheduler lease mid-cycle: the store refused this write (fenced); not acting until the lease is acquired again');
      this.setLeader(null);
      return { leader: false, epoch: grant.epoch, fenced: true, results: [] };
    } finally {
      this.cycleFence = undefined;
      end();
    }
  }

  /** The fence a write of this cycle carries; a write outside a cycle is a bug, refused rather than unfenced. */
  private writeFence(): Fence {
    if (!this.cycleFence) throw new Error('scheduler write outside a cycle: no lease to fence it with');
    return this.cycleFence;
  }

  /** Leader gauges and this replica's view of the lease (a cycle's writes carry the cycle's own fence). */
  private setLeader(grant: LeaseGrant | null): void {
    const m = this.o.metrics;
    if (grant && this.fence?.epoch !== grant.epoch) this.o.log.info({ epoch: grant.epoch, holder: this.holder }, 'acquired the scheduler lease');
    if (!grant && this.fence) this.o.log.warn({ epoch: this.fence.epoch, holder: this.holder }, 'no longer the scheduler leader');
    // The connection state carried between cycles describes weights this replica published: after a
    // lost lease (or another leader's epoch in between) the weights in force may be someone else's.
    if (!grant || this.fence?.epoch !== grant.epoch) {
      this.carried.clear();
      this.lastPrices.clear();
      this.storedPricesRead.clear();
    }
    this.fence = grant ? { name: grant.name, holder: grant.holder, epoch: grant.epoch } : undefined;
    m.leader.set(grant ? 1 : 0);
    if (grant) {
      m.epoch.set(grant.epoch);
      m.leaseAcquired.set(Date.parse(grant.acquired_at) / 1000);
    }
  }

  private async hold(lb: LoadBalancer, kind: string, detail: string): Promise<void> {
    this.carried.forget(lb.id);
    await this.o.store.recordDecision({ load_balancer_id: lb.id, reason: 'hold', detail, inputs: { hold: kind } }, this.writeFence());
  }

  private async cycleFor(
    lb: LoadBalancer,
    allEdges: Awaited<ReturnType<SchedulerStore['allEdges']>>,
    health: Awaited<ReturnType<SchedulerStore['listOriginHealth']>>,
    edgeHealth: Awaited<ReturnType<SchedulerStore['listEdgeHealth']>>,
  ): Promise<CycleReport['results'][number]> {
    const clock = new StageClock((stage, ms) => {
      this.o.metrics.stageDuration.observe({ stage }, ms / 1000);
      this.o.onStage?.(stage, ms);
    });
    const origins = await this.o.store.allOrigins(lb.id);
    const ctx = { lb, origins, edges: allEdges };
    let inputs: LbInputs;
    try {
      inputs = await withTimeout(this.o.reader.read(ctx), this.o.inputTimeoutMs);
    } catch (err) {
      if (!(err instanceof InputsUnavailable)) throw err;
      this.o.metrics.held.inc({ load_balancer: lb.name, reason: err.kind });
      this.o.log.warn({ load_balancer: lb.name, reason: err.kind, detail: err.message }, 'inputs unavailable: holding the weights in force');
      await this.hold(lb, err.kind, err.message);
      return { load_balancer: lb.name, outcome: 'held', detail: err.message };
    }
    for (const [name, load] of inputs.originLoad) this.o.metrics.measuredLoad.set({ load_balancer: lb.name, origin: name }, load);
    for (const [name, tau] of inputs.connections.originLifetimeS) this.o.metrics.connectionLifetime.set({ load_balancer: lb.name, origin: name }, tau);
    await clock.lap('inputs');

    const inForce = await this.weightsInForce(lb.id);
    await clock.lap('weights_in_force');
    const current = this.weightsToDecideFrom(lb, inForce);
    const missing = this.missing.get(lb.id) ?? new Map<string, number>();
    this.missing.set(lb.id, missing);
    const cycleSeconds = this.o.intervalMs / 1000;
    // What became of the connections watched since the last cycle on origins their subnet's answer left.
    const answers = this.carried.answerSurvival(lb.id, this.o.intervalMs / 1000);
    const healthyNow = new Set(origins.filter((o) => (health.find((h) => h.origin_id === o.id)?.healthy ?? true) && (inputs.originHealth.get(o.name) ?? true)).map((o) => o.name));
    const snapshot = { survivors: inputs.connections.subnetSurvivors, polledAt: inputs.connections.originPolledAt };
    const answerSurvival = lb.dns ? answers.observe(snapshot, (name) => healthyNow.has(name), (this.o.now ?? Date.now)() / 1000) : undefined;
    if (answerSurvival) this.o.metrics.answerSurvival.set({ load_balancer: lb.name }, answerSurvival.value);
    const built = await runPaced(buildProblemSteps({ lb, origins, edges: allEdges, health, edgeHealth, inputs, current, missing, holdCycles: this.o.holdCycles, mergeResolutionMs: this.o.mergeResolutionMs, locate: this.o.locate, carried: this.carried.connectionsFor(lb.id), cycleSeconds, answerSurvival }));
    await clock.lap('problem');
    if (built.problem.sources.length > 0) this.o.prepare?.(built.problem.sources.length, built.problem.origins.length, built.problem.policy);
    const active = await this.o.store.activeOverrides(lb.id);
    const overrides = this.overrides.resolve(lb.id, active, built.problem.sources, (this.o.now ?? Date.now)());
    if (overrides) built.problem.overrides = overrides;
    this.observeOverrides(lb, active);
    const ours = new Set(origins.map((o) => o.id));
    const summary = {
      sources: built.problem.sources.length,
      carried_sources: Object.keys(built.carried).length,
      dropped_sources: built.dropped,
      total_demand_rps: built.problem.sources.reduce((s, x) => s + x.demand_rps, 0),
      measured_load_rps: Object.fromEntries(inputs.originLoad),
      // What the last decision predicted for the cycle measured above (compare with measured_load_rps;
      // both in `units.unit`; the measurement is a rate over the window, so it lags a shift).
      predicted_load_rps_for_this_cycle: this.carried.predictionFor(lb.id) ?? null,
      unhealthy_origins: built.problem.origins.filter((o) => !o.healthy).map((o) => o.id),
      // Why: the health decisions in force (with their votes: GET /api/v1/health) and edge-local exclusions.
      health: Object.fromEntries(health.filter((h) => ours.has(h.origin_id) && !h.healthy).map((h) => [h.origin_id, { reason: h.reason, detail: h.detail }])),
      unreachable_from_edges: Object.fromEntries(built.problem.sources.filter((x) => x.excluded).map((x) => [x.id, x.excluded!])),
      learned_subnets: inputs.subnetRtt.size,
      units: inputs.conversions,
      connections: connectionSummary(inputs, cycleSeconds, built.problem.sources, built.connections) ?? null,
      // The overrides in force this cycle, as the operator set them (what the decision made of each: `overrides` below).
      overrides_in_force: active.map((o) => ({ id: o.id, kind: o.kind, origin_id: o.origin_id ?? null, edge_id: o.edge_id ?? null, subnet: o.subnet ?? null, percent: o.percent ?? null, min_share: o.min_share ?? null, max_share: o.max_share ?? null, weights: o.weights ?? null, now: o.now, expires_at: o.expires_at ?? null, created_by: o.created_by, reason: o.reason })),
    };

    await clock.lap('summary');
    await this.recordLatency(inputs, origins);
    await clock.lap('latency');

    if (built.problem.sources.length === 0) {
      const detail = current ? 'no demand series for any source (absent or stale): holding the weights in force' : 'no demand measured yet: edges and DNS use static weights';
      this.o.metrics.held.inc({ load_balancer: lb.name, reason: 'no_data' });
      this.carried.forget(lb.id);
      await this.o.store.recordDecision({ load_balancer_id: lb.id, reason: 'hold', detail, inputs: summary }, this.writeFence());
      return { load_balancer: lb.name, outcome: 'held', detail };
    }

    const demandRps = totalDemand(built.problem.sources);
    const hint = priceHintFor(this.lastPrices.get(lb.id) ?? (await this.storedPrices(lb, origins)), demandRps);
    if (hint) built.problem.price_hint = hint;
    const { decision, solve_ms } = await this.o.solve(built.problem);
    await clock.lap('solve');
    // Kept here for the next cycle, and in the decision record for the next leader's first one.
    const priced = decision.status === 'ok' ? pricesOfDecision(decision, demandRps) : undefined;
    if (priced) this.lastPrices.set(lb.id, priced);
    const pricedRecord = priced ? { capacity_prices: priced.prices, priced_demand_rps: priced.demand_rps } : {};
    this.o.metrics.solveDuration.observe({ load_balancer: lb.name }, solve_ms / 1000);
    if (decision.status === 'no_usable_origin') {
      this.o.metrics.held.inc({ load_balancer: lb.name, reason: 'no_usable_origin' });
      this.carried.forget(lb.id);
      await this.o.store.recordDecision({ load_balancer_id: lb.id, reason: 'hold', detail: decision.notes.join('; '), inputs: summary }, this.writeFence());
      return { load_balancer: lb.name, outcome: 'held', detail: 'no usable origin', decision };
    }

    this.observe(lb, origins, decision, built.problem);
    const carriedConnections = decision.connections ? { ...decision.connections, weights: decision.weights, answer_survival: answerSurvival?.from === 'observed' ? answerSurvival.value : 1 } : undefined;
    this.carried.remember(lb.id, carriedConnections, Object.fromEntries(origins.map((o) => [o.name, decision.origin_load_rps[o.id] ?? 0])));
    if (lb.mode === 'shadow') return this.recordShadow(lb, decision, built, summary, solve_ms, current, pricedRecord);
    const { weights: publish, changed } = await runPaced(splitWeightsChangeSteps(decision.weights, built.carried, current?.subnets));
    await clock.lap('split');
    if (lb.dns) {
      // Watch, for the next cycle, the connections left on origins neither the answers in force nor the new ones name.
      const nameOf = new Map(origins.map((o) => [o.id, o.name]));
      const decided = publish.subnets;
      const walked = (name: string) => built.connections.walk[name]?.survival;
      const before = await runPaced(answersOfSteps(current?.subnets ?? {}, lb.dns.hostname, nameOf));
      const after = await runPaced(answersOfSteps(decided, lb.dns.hostname, nameOf));
      await runPaced(answers.rememberSteps(snapshot, walked, before, after, (this.o.now ?? Date.now)() / 1000, lb.dns.ttl));
      await clock.lap('answers');
    }
    const record = {
      load_balancer_id: lb.id,
      reason: decision.reason,
      detail: decision.notes.join('; '),
      objective: decision.objective,
      inputs: { ...summary, ...recordedProblem(built.problem), solve_ms, step: decision.step, solver: decision.solver, overrides: decision.overrides ?? [], pinned_load_rps: Object.fromEntries(origins.map((o) => [o.name, decision.origins[o.id]?.pinned_rps ?? 0])) },
      predicted_load_rps: decision.origin_load_rps,
      overload_rps: decision.overload_rps,
      diff: decision.diff,
      ...pricedRecord,
    };
    if ((decision.diff.length === 0 && built.dropped.length === 0 && current) || (await runPaced(sameWeightsSteps(publish, current)))) {
      await this.o.store.recordDecision(record, this.writeFence());
      await clock.lap('publish');
      return { load_balancer: lb.name, outcome: 'unchanged', detail: 'weights unchanged', decision };
    }
    const { version, weights: stored } = await this.o.store.publishWeights(lb.id, publish, record, this.writeFence(), changed ?? undefined);
    this.published.set(lb.id, stored);
    await clock.lap('publish');
    this.o.metrics.published.inc({ load_balancer: lb.name, reason: decision.reason });
    this.o.log.info({ load_balancer: lb.name, version, epoch: this.cycleFence?.epoch, reason: decision.reason, objective: decision.objective, changes: decision.diff.length }, 'published weights');
    return { load_balancer: lb.name, outcome: 'published', detail: `version ${version}`, decision };
  }

  /**
   * The capacity prices the store kept from this load balancer's last solve (possibly another leader's),
   * read once per lease epoch: the first cycle after start or after taking the lease then starts where
   * the last leader's next cycle would have (a failover's first solve was ~2.5 s cold against ~0.3 s
   * from prices at 1M subnets). Only origins that still exist keep their price. Not being able to read
   * them costs speed, never the cycle: logged, counted, and the solve starts cold.
   */
  private async storedPrices(lb: LoadBalancer, origins: readonly { id: string }[]): Promise<PricedDemand | undefined> {
    if (this.storedPricesRead.has(lb.id)) return undefined;
    this.storedPricesRead.add(lb.id);
    try {
      const stored = await this.o.store.latestPrices(lb.id);
      const hint = stored ? storedPriceHint(stored, origins) : undefined;
      if (stored) this.o.log.info({ load_balancer: lb.name, decision_id: stored.decision_id, recorded_at: stored.created_at, origins: hint ? Object.keys(hint.prices).length : 0 }, 'first cycle of this lease: starting from the capacity prices of the last recorded decision');
      return hint;
    } catch (err) {
      this.o.metrics.storedPricesReadErrors.inc({ load_balancer: lb.name });
      this.o.log.warn({ load_balancer: lb.name, err: (err as Error).message }, 'cannot read the last capacity prices from the store: solving cold');
      return undefined;
    }
  }

  /**
   * The weights in force, without reading back the body this replica published itself while it still
   * is the one in force: at 1M subnets that read is a JSON.parse of tens of MB, ~0.2-0.65 s of this
   * thread in one piece. Versions are store-wide, so whether ours is still in force is one small read:
   * a publish by another replica (HA: it took the lease while we were paused), by the API, or a store
   * restored from a backup gives another version or time, and then the body is read.
   */
  private async weightsInForce(lbId: string): Promise<LoadBalancerWeights | null> {
    const ours = this.published.get(lbId);
    if (ours) {
      const head = await this.o.store.weightsHead(lbId);
      if (head && head.version === ours.version && head.published_at === ours.published_at) return ours;
      this.published.delete(lbId);
    }
    return this.o.store.getWeights(lbId);
  }

  /**
   * The weights a cycle decides from: those in force, or in shadow mode the shadow's own (what it would
   * have in force had it published since it started, starting from the weights in force). Leaving
   * shadow drops the shadow's weights and the connection state carried with them, so enforcing starts
   * from the weights really in force and walks from there at max_shift per cycle like any other move.
   */
  private weightsToDecideFrom(lb: LoadBalancer, inForce: LoadBalancerWeights | null): LoadBalancerWeights | null {
    this.o.metrics.shadow.set({ load_balancer: lb.name }, lb.mode === 'shadow' ? 1 : 0);
    if (lb.mode === 'shadow') return this.shadow.get(lb.id) ?? inForce;
    if (this.shadow.delete(lb.id)) {
      this.carried.forget(lb.id);
      this.o.log.info({ load_balancer: lb.name }, 'shadow -> enforce: deciding from the weights in force, damped');
    }
    return inForce;
  }

  /** Shadow mode: the decision is recorded with what it would publish; nothing reaches DNS or edges. */
  private async recordShadow(
    lb: LoadBalancer,
    decision: SchedulingDecision,
    built: BuiltProblem,
    summary: Record<string, unknown>,
    solve_ms: number,
    from: LoadBalancerWeights | null,
    pricedRecord: { capacity_prices?: Record<string, number>; priced_demand_rps?: number },
  ): Promise<CycleReport['results'][number]> {
    const wouldPublish = splitWeights(decision.weights, built.carried);
    const changes = sameWeights(wouldPublish, from) ? 0 : decision.diff.length + built.dropped.length;
    this.shadow.set(lb.id, { load_balancer_id: lb.id, version: (from?.version ?? 0) + (changes > 0 ? 1 : 0), published_at: new Date((this.o.now ?? Date.now)()).toISOString(), ...wouldPublish });
    const detail = `shadow: would ${changes > 0 ? `change ${changes} weight(s)` : 'change nothing'}; published nothing; ${decision.notes.join('; ')}`;
    await this.o.store.recordDecision(
      {
        load_balancer_id: lb.id,
        reason: decision.reason,
        detail,
        objective: decision.objective,
        inputs: { ...summary, ...recordedProblem(built.problem), solve_ms, step: decision.step, solver: decision.solver, overrides: decision.overrides ?? [], shadow: { would_publish: wouldPublish } },
        predicted_load_rps: decision.origin_load_rps,
        overload_rps: decision.overload_rps,
        diff: decision.diff,
        ...pricedRecord,
      },
      this.writeFence(),
    );
    this.o.metrics.shadowDecisions.inc({ load_balancer: lb.name, reason: decision.reason });
    return { load_balancer: lb.name, outcome: 'shadow', detail, decision };
  }

  /** Overrides in force as gauges; the status label is filled in by observe() once the decision says it. */
  private observeOverrides(lb: LoadBalancer, active: readonly { id: string; kind: string; expires_at?: string | undefined }[]): void {
    const m = this.o.metrics;
    // Gauges of overrides no longer in force go (expired or cancelled since the last cycle).
    const before = this.overrideSeries.get(lb.name) ?? { active: [], expires: [] };
    for (const l of before.active) m.overrideActive.remove(l);
    for (const l of before.expires) m.overrideExpires.remove(l);
    const expires = active.filter((o) => o.expires_at).map((o) => ({ load_balancer: lb.name, override: o.id, kind: o.kind }));
    for (const [i, o] of active.filter((x) => x.expires_at).entries()) m.overrideExpires.set(expires[i]!, Date.parse(o.expires_at!) / 1000);
    this.overrideSeries.set(lb.name, { active: [], expires });
  }

  private observe(lb: LoadBalancer, origins: { id: string; name: string; target_rps: number; max_rps: number }[], d: SchedulingDecision, p: SchedulingProblem): void {
    const m = this.o.metrics;
    m.objective.set({ load_balancer: lb.name }, d.objective);
    m.overload.set({ load_balancer: lb.name }, d.overload_rps);
    const series = this.overrideSeries.get(lb.name);
    for (const o of d.overrides ?? []) {
      const labels = { load_balancer: lb.name, override: o.id, kind: o.kind, status: o.status };
      m.overrideActive.set(labels, 1);
      series?.active.push(labels);
    }
    const total = p.sources.reduce((s, x) => s + x.demand_rps, 0);
    for (const o of origins) {
      const load = d.origin_load_rps[o.id] ?? 0;
      m.predictedLoad.set({ load_balancer: lb.name, origin: o.name }, load);
      m.pinnedLoad.set({ load_balancer: lb.name, origin: o.name }, d.origins[o.id]?.pinned_rps ?? 0);
      m.capacity.set({ load_balancer: lb.name, origin: o.name, bound: 'target' }, o.target_rps);
      m.capacity.set({ load_balancer: lb.name, origin: o.name, bound: 'max' }, o.max_rps);
      m.weight.set({ load_balancer: lb.name, origin: o.name }, total > 0 ? load / total : 0);
    }
  }

  private async recordLatency(inputs: LbInputs, origins: { id: string; name: string }[]): Promise<void> {
    const byName = new Map(origins.map((o) => [o.name, o.id]));
    const now = new Date((this.o.now ?? Date.now)()).toISOString();
    // In batches, each its own fenced write with a turn of the event loop between: at 1M subnets one
    // transaction of every row was ~1-2 s of this thread. The rows are independent upserts (no reader
    // needs them all at once; what reaches DNS goes through the published weights).
    let rows: LatencyEntry[] = [];
    for (const [subnet, row] of inputs.subnetRtt) {
      for (const [name, r] of row) {
        const origin_id = byName.get(name);
        if (origin_id !== undefined) rows.push({ subnet, origin_id, rtt_ms: Math.round(r.ms * 1000) / 1000, samples: Math.round(r.samples), last_updated: now });
      }
      if (rows.length >= LATENCY_BATCH) {
        await this.o.store.upsertLatency(rows, this.writeFence());
        rows = [];
        await yieldToLoop();
      }
    }
    if (rows.length > 0) await this.o.store.upsertLatency(rows, this.writeFence());
  }

}
