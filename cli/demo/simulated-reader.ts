// The demo's metrics backend: a simulated world (scheduler/simulate/) in place of Prometheus. Each read
// advances the world one cycle under the weights the live loop last published to the store, applies
// the scenario's events (health changes go through the store, as the health checker would), and
// returns what agents and edges would have measured. Everything downstream — the loop, the solver
// worker, the store, the API — is the real thing.
import type { Store } from '../../api/store/store.ts';
import type { Edge, Origin } from '../../model/index.ts';
import { effectiveShares } from '../../model/shares.ts';
import type { Weights } from '../../scheduler/core/types.ts';
import { emptyInputs, type InputReader, type LbInputs, type ReadContext } from '../../scheduler/inputs/types.ts';
import type { CycleRecord, RunResult } from '../../scheduler/simulate/run.ts';
import type { Scenario } from '../../scheduler/simulate/scenario.ts';
import { World } from '../../scheduler/simulate/world.ts';

export class SimulatedReader implements InputReader {
  readonly world: World;
  readonly cycles: CycleRecord[] = [];
  private cycle = -1;

  constructor(
    readonly scenario: Scenario,
    private readonly store: Store,
    /** source id -> edge, origin id (scenario) -> origin (store). */
    private readonly edges: Map<string, Edge>,
    private readonly origins: Map<string, Origin>,
  ) {
    this.world = new World(scenario);
  }

  /**
   * The weights in force at the edges, keyed by scenario ids: what the edge config view serves — the
   * published weights with health applied, or static weights before anything is published.
   */
  private async inForce(lbId: string): Promise<Weights> {
    const published = await this.store.getWeights(lbId);
    const health = new Map((await this.store.listOriginHealth()).map((h) => [h.origin_id, h.healthy]));
    const candidates = [...this.origins.values()].map((o) => ({ id: o.id, healthy: health.get(o.id) ?? true, admin_state: o.admin_state, static_weight: o.static_weight }));
    const originIdOf = new Map([...this.origins].map(([sid, o]) => [o.id, sid]));
    const out: Weights = {};
    for (const [sourceId, edge] of this.edges) {
      const { shares } = effectiveShares(published?.edges[edge.id], candidates);
      out[sourceId] = Object.fromEntries(Object.entries(shares).map(([oid, v]) => [originIdOf.get(oid)!, v]));
    }
    return out;
  }

  async read(ctx: ReadContext): Promise<LbInputs> {
    this.cycle++;
    const k = this.cycle;
    const before = new Map(this.world.origins.map((o) => [o.id, o.healthy]));
    const events = this.world.applyEvents(k);
    for (const o of this.world.origins) {
      if (before.get(o.id) !== o.healthy) await this.store.setOriginHealth(this.origins.get(o.id)!.id, o.healthy, o.healthy ? 'demo: recovered' : 'demo: failed its health check');
    }
    const weights = await this.inForce(ctx.lb.id);
    const m = this.world.measure(weights, k);
    const inputs = emptyInputs();
    this.scenario.sources.forEach((s, i) => {
      const edge = this.edges.get(s.id)!;
      inputs.edgeDemand.set(edge.name, m.demand[s.id] ?? 0);
      inputs.edgeRtt.set(edge.name, new Map(this.world.origins.map((o) => [this.origins.get(o.id)!.name, this.world.rtt(i, o.id)])));
    });
    for (const o of this.world.origins) inputs.originLoad.set(this.origins.get(o.id)!.name, m.load[o.id] ?? 0);

    const demand = Object.values(m.demand).reduce((a, b) => a + b, 0);
    const last = (await this.store.listDecisions({ limit: 1, load_balancer_id: ctx.lb.id })).items[0];
    this.cycles.push({
      cycle: k,
      t_s: k * this.scenario.cycle_seconds,
      demand_rps: demand,
      lost_rps: m.lost_rps,
      mean_rtt_ms: m.mean_rtt_ms,
      events,
      origins: Object.fromEntries(
        this.world.origins.map((o) => [
          o.id,
          { load_rps: m.load[o.id] ?? 0, target_rps: o.target_rps, max_rps: o.max_rps, share: demand > 0 ? (m.load[o.id] ?? 0) / demand : 0, healthy: o.healthy, admin_state: o.admin_state },
        ]),
      ),
      decision: { reason: last?.reason ?? 'hold', overload_rps: last?.overload_rps ?? 0, plan_overload_rps: 0, objective: last?.objective ?? 0, fraction: 0, limited_by: 'none' },
    });
    return inputs;
  }

  result(settings: RunResult['settings']): RunResult {
    return { scenario: this.scenario.name, name: `${this.scenario.name} (live loop)`, settings, cycles: this.cycles, weights: {} };
  }
}
