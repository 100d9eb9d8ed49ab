// One evaluation of every origin's health, global and per edge, from what the store holds: pure (the
// evaluator reads the store, calls this, writes the transitions it returns). The rule is quorum.ts's;
// this file maps store rows to votes and back, and keeps the hold-down clocks between evaluations.
//
// - The store's decision is the truth: an in-memory hold-down clock whose state differs from the
//   stored row (another leader wrote since, or an operator set it) is replaced by the row's.
// - Origins without a health check are never judged; one left unhealthy by an earlier decision is
//   made healthy again (reason no_health_check). Health written directly (reason "set": the demo, an
//   operator's tool) stands until some vantage reports fresh votes on that origin.
// - Disabled origins are not judged (no vantage checks them; the views leave them out anyway).
// - Every load balancer whose enabled origins are all down by quorum is reported as failing open:
//   the views then answer with all of them (model/shares.ts, dns/answer/view-index.ts).
import type { Edge, EdgeOriginHealth, HealthVote, LoadBalancer, Origin, OriginHealth } from '../../model/index.ts';
import { groupBy } from '../../lib/group.ts';
import type { HealthDecisionInput, HealthObservation } from '../store/store.ts';
import { judgeEdge, judgeOrigin, type Counted, type HoldState, type QuorumPolicy, type Tally, type Vote } from './quorum.ts';

export interface HealthWorld {
  loadBalancers: LoadBalancer[];
  origins: Origin[];
  edges: Edge[];
  observations: HealthObservation[];
  health: OriginHealth[];
  edgeHealth: EdgeOriginHealth[];
}

/** Hold-down clocks carried from one evaluation to the next (the leader's memory). */
export interface HealthMemory {
  global: Map<string, HoldState>;
  /** Key: `${edgeId} ${originId}`. */
  edges: Map<string, HoldState>;
}

export function emptyMemory(): HealthMemory {
  return { global: new Map(), edges: new Map() };
}

export interface ObservedVote extends Vote {
  obs: HealthObservation;
}

export interface OriginRow {
  loadBalancer: LoadBalancer;
  origin: Origin;
  healthy: boolean;
  tally: Tally;
  counted: Counted<ObservedVote>[];
  /** Edges that exclude this origin for themselves (after this evaluation). */
  excludedBy: Edge[];
}

export interface HealthRound {
  /** Transitions to write, each with the votes behind it. */
  decisions: HealthDecisionInput[];
  memory: HealthMemory;
  /** Per judged origin: the tally and votes (metrics, logs). */
  rows: OriginRow[];
  /** Load balancers whose every enabled origin is down by quorum. */
  failOpen: LoadBalancer[];
}

/** Votes of one evaluation; the reports of one batch share a timestamp, so parse each once. */
function voter(): (obs: HealthObservation) => ObservedVote {
  const parsed = new Map<string, number>();
  return (obs) => {
    let ms = parsed.get(obs.observed_at);
    if (ms === undefined) parsed.set(obs.observed_at, (ms = Date.parse(obs.observed_at)));
    return { vantage: obs.vantage, healthy: obs.healthy, received_ms: ms, obs };
  };
}

export function votesOf(counted: Counted<Vote>[]): HealthVote[] {
  return counted.map((c) => ({ vantage: c.vote.vantage, healthy: c.vote.healthy, fresh: c.fresh, age_ms: Math.round(c.age_ms) }));
}

/** The stored decision as a hold-down clock, unless memory already holds one in the same state. */
function clockFor(memory: HoldState | undefined, stored: { healthy: boolean; since: string } | undefined): HoldState {
  const healthy = stored?.healthy ?? true;
  if (memory && memory.healthy === healthy) return memory;
  return { healthy, since_ms: stored ? Date.parse(stored.since) : 0, clear_since_ms: null };
}

export function judgeWorld(world: HealthWorld, prev: HealthMemory, now: number, policy: QuorumPolicy): HealthRound {
  const memory = emptyMemory();
  const decisions: HealthDecisionInput[] = [];
  const rows: OriginRow[] = [];
  const lbs = new Map(world.loadBalancers.map((lb) => [lb.id, lb]));
  const stored = new Map(world.health.map((h) => [h.origin_id, h]));
  const storedEdge = groupBy(world.edgeHealth, (h) => h.origin_id);
  const edgesById = new Map(world.edges.map((e) => [e.id, e]));
  const byOrigin = groupBy(world.observations, (o) => o.origin_id);
  const finalHealthy = new Map<string, boolean>();
  const voteOf = voter();

  for (const origin of world.origins) {
    const lb = lbs.get(origin.load_balancer_id);
    const row = stored.get(origin.id);
    finalHealthy.set(origin.id, row?.healthy ?? true);
    if (!lb || origin.admin_state === 'disabled') continue;
    const observations = byOrigin.get(origin.id) ?? [];
    if (!origin.health_check) {
      if (row && !row.healthy && row.reason !== 'set') {
        decisions.push({ load_balancer_id: lb.id, origin_id: origin.id, edge_id: null, healthy: true, reason: 'no_health_check', detail: 'no health check is configured any more: healthy', votes: [] });
        finalHealthy.set(origin.id, true);
      }
      continue;
    }
    const votes = observations.map(voteOf);
    const clock = clockFor(prev.global.get(origin.id), row);
    const j = judgeOrigin(clock, votes, now, policy);
    // Health set directly stands until a vantage reports something fresh about this origin.
    const judged = !(row?.reason === 'set' && j.tally.fresh === 0);
    if (judged) {
      memory.global.set(origin.id, j.state);
      if (j.changed) {
        decisions.push({ load_balancer_id: lb.id, origin_id: origin.id, edge_id: null, healthy: j.state.healthy, reason: j.reason, detail: j.detail, votes: votesOf(j.counted) });
        finalHealthy.set(origin.id, j.state.healthy);
      }
    }
    const healthy = finalHealthy.get(origin.id)!;

    // Edge-local: every edge that reported on this origin, or has an exclusion (row or clock) to lift.
    // An edge that sees the origin up and was never excluded has nothing to judge: skipped, so a
    // thousand origins times a hundred edges costs what the few exclusions cost.
    const excludedBy: Edge[] = [];
    const own = new Map<string, HealthObservation>();
    for (const o of observations) if (o.edge_id !== null) own.set(o.edge_id, o);
    const storedRows = new Map((storedEdge.get(origin.id) ?? []).map((h) => [h.edge_id, h]));
    for (const edgeId of new Set([...own.keys(), ...storedRows.keys()])) {
      const edge = edgesById.get(edgeId);
      if (!edge) continue;
      const key = `${edgeId} ${origin.id}`;
      const vote = own.get(edgeId);
      const storedRow = storedRows.get(edgeId);
      const remembered = prev.edges.get(key);
      if (vote?.healthy && (!storedRow || storedRow.reachable) && (!remembered || remembered.healthy)) continue;
      const e = judgeEdge(clockFor(remembered, storedRow ? { healthy: storedRow.reachable, since: storedRow.since } : undefined), vote ? voteOf(vote) : undefined, healthy, now, policy);
      memory.edges.set(key, e.state);
      if (e.changed) decisions.push({ load_balancer_id: lb.id, origin_id: origin.id, edge_id: edgeId, healthy: e.state.healthy, reason: e.reason, detail: e.detail, votes: votesOf(e.counted) });
      if (!e.state.healthy) excludedBy.push(edge);
    }
    rows.push({ loadBalancer: lb, origin, healthy, tally: j.tally, counted: j.counted, excludedBy });
  }

  const failOpen = world.loadBalancers.filter((lb) => {
    const enabled = world.origins.filter((o) => o.load_balancer_id === lb.id && o.admin_state !== 'disabled');
    return enabled.length > 0 && enabled.every((o) => finalHealthy.get(o.id) === false);
  });
  return { decisions, memory, rows, failOpen };
}
