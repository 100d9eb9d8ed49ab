// What established connections mean for each source of one load balancer's problem: how much of its
// load stays where it is over the next cycle, where that load is now, and, for a DNS subnet, the point
// sluice dns answers it by. The core (core/connections.ts, predict.ts) does the rest.
//
//   measured, per DNS subnet  the origin agents' open connections of the subnet and how many of them are
//                             expected open after the cycle and on average over it (from their ages and
//                             the port's recent lifetimes, agent/learning/survival.ts): the `pinned`
//                             shares the prediction uses, and where its load is now (seeding `effective`);
//   per origin                the same summed over its DNS subnets: the survival S(Δ), S̄ the damping
//                             walks with (one value per origin, so every subnet walks alike); without
//                             survivors, the exponential fit of the mean lifetime τ (inputs/convert.ts):
//                             S(Δ) = e^(−Δ/τ), S̄ = (τ/Δ)(1 − e^(−Δ/τ));
//   carried                   each source's effective shares as the last decision left them (the damping
//                             walks expected shares; a DNS subnet's real load moves whole), re-read with
//                             the answer survival learned since (answer-survival.ts: reconcile);
//   answer survival           per load balancer, whether connections stay on an origin their subnet's
//                             answer no longer names (answer-survival.ts): the fraction a of the pinned
//                             share that does, given to every DNS subnet; 1 until the agents have shown it.
// Edges on HTTP listeners balance every request on its own (HAProxy, nginx): nothing is pinned there;
// TCP listeners (HAProxy tcp mode, IPVS) pin each client connection: the edge agent's survivors.
import type { Edge, LoadBalancer, Origin } from '../../model/index.ts';
import type { SourceConnections, SourceState, Weights } from '../core/index.ts';
import { edgeOriginUnitOf } from '../inputs/assemble.ts';
import type { LbInputs, OpenConnections } from '../inputs/types.ts';
import { AnswerSurvival, reconcile, type AnswerSurvivalEstimate } from './answer-survival.ts';
import { dnsPick } from './dns-pick.ts';
import { STEP_ITEMS, type Steps } from '../../lib/steps.ts';

export const EDGE_PREFIX = 'edge:';
export const SUBNET_PREFIX = 'subnet:';

/** What the last decision left: each source's effective shares at the end of its cycle. */
export interface CarriedConnections {
  effective: Weights;
  /** The weights that decision published, and the answer survival it walked with (to reconcile `effective`). */
  weights?: Weights | undefined;
  answer_survival?: number | undefined;
}

export function survivalOver(cycleSeconds: number, lifetimeS: number): { end: number; mean: number } {
  if (!(lifetimeS > 0) || !(cycleSeconds > 0)) return { end: 0, mean: 0 };
  if (lifetimeS === Infinity) return { end: 1, mean: 1 };
  const end = Math.exp(-cycleSeconds / lifetimeS);
  return { end, mean: (lifetimeS / cycleSeconds) * (1 - end) };
}

function survivalOf(c: OpenConnections): { end: number; mean: number } {
  return c.open > 0 ? { end: Math.min(1, c.surviving / c.open), mean: Math.min(1, c.survivingMean / c.open) } : { end: 0, mean: 0 };
}

export interface ConnectionContext {
  lb: LoadBalancer;
  origins: Origin[];
  edges: Edge[];
  inputs: LbInputs;
  carried: CarriedConnections | undefined;
  cycleSeconds: number;
  /** What the agents have shown about connections outliving an answer change (answer-survival.ts). */
  answerSurvival?: AnswerSurvivalEstimate | undefined;
}

/** What the connection model used this cycle, for the decision record. */
export interface ConnectionUse {
  /** Origin name -> the survival DNS subnets are walked with, and where it came from. */
  walk: Record<string, { survival: number; mean_survival: number; from: 'survivors' | 'lifetime' }>;
  /** Sources whose effective shares came from the last decision, from the agents, or from the weights in force. */
  effective_from: { carried: number; measured: number; weights: number };
  /** Sources predicted with measured pinned shares. */
  pinned_measured: number;
  /** The answer survival DNS subnets were given, and the evidence (expected vs observed survivors, decayed). */
  answer_survival?: { value: number; from: 'observed' | 'lifetime'; observed: number; expected: number; fitted: number; measured: number; waiting: number };
  /** Carried sources whose effective shares were re-read with a changed answer survival. */
  reconciled?: number;
}

/** Per origin id: the survival the damping walks DNS subnets with (survivors, else the lifetime fit). */
function originSurvival(ctx: ConnectionContext, idOf: Map<string, string>, use: ConnectionUse): { end: Record<string, number>; mean: Record<string, number> } {
  const end: Record<string, number> = {};
  const mean: Record<string, number> = {};
  const sums = new Map<string, OpenConnections>();
  for (const row of ctx.inputs.connections.subnetSurvivors.values()) {
    for (const [name, c] of row) {
      const t = sums.get(name) ?? { open: 0, surviving: 0, survivingMean: 0 };
      sums.set(name, { open: t.open + c.open, surviving: t.surviving + c.surviving, survivingMean: t.survivingMean + c.survivingMean });
    }
  }
  for (const [name, tau] of ctx.inputs.connections.originLifetimeS) {
    const id = idOf.get(name);
    if (!id) continue;
    // No close seen within the window is not "pinned for ever" when the agents can say better: an
    // origin that has just come back holds only young connections, and S = 1 there made the walk take
    // answers back that it had just given (dns-failover: a subnet's answer near → far → near).
    if (tau === Infinity && (sums.get(name)?.open ?? 0) > 0) continue;
    // The lifetime fit is a rate over the window: smooth. The survivors are a snapshot of the few
    // connections open now: right on average but noisy from cycle to cycle, and the new weights lead
    // the walk by (e − e')/(1 − S), which would pass that noise on to every source. The prediction
    // uses the snapshot (per subnet, where it is exact); the walk uses the fit.
    const s = survivalOver(ctx.cycleSeconds, tau);
    end[id] = s.end;
    mean[id] = s.mean;
    use.walk[name] = { survival: round3(s.end), mean_survival: round3(s.mean), from: 'lifetime' };
  }
  for (const [name, c] of sums) {
    const id = idOf.get(name);
    if (!id || id in end || c.open === 0) continue;
    const s = survivalOf(c);
    end[id] = s.end;
    mean[id] = s.mean;
    use.walk[name] = { survival: round3(s.end), mean_survival: round3(s.mean), from: 'survivors' };
  }
  return { end, mean };
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/**
 * Adds `connections` and `pick` to the sources where the measurements support them (in place). In
 * steps (lib/steps.ts): ~130k sources at 1M subnets, 0.1-0.3 s of the loop's thread in one piece.
 */
export function* annotateSourcesSteps(sources: SourceState[], ctx: ConnectionContext): Steps<ConnectionUse> {
  const use: ConnectionUse = { walk: {}, effective_from: { carried: 0, measured: 0, weights: 0 }, pinned_measured: 0 };
  const answer = ctx.answerSurvival;
  const stays = answer?.from === 'observed' ? answer.value : undefined;
  if (answer) use.answer_survival = { value: round3(answer.value), from: answer.from, observed: round3(answer.observed), expected: round3(answer.expected), fitted: round3(answer.fitted), measured: round3(answer.measured), waiting: answer.waiting };
  // The carried shares were walked with the answer survival of the last decision; re-read them with today's.
  const was = ctx.carried?.answer_survival ?? 1;
  const reconciled = (id: string, e: Record<string, number> | undefined): Record<string, number> | undefined => {
    const w = ctx.carried?.weights?.[id];
    if (!e || !w || Math.abs((stays ?? 1) - was) < 1e-9) return e;
    use.reconciled = (use.reconciled ?? 0) + 1;
    return reconcile(e, w, was, stays ?? 1);
  };
  const idOf = new Map(ctx.origins.map((o) => [o.name, o.id]));
  const byId = <V>(m: Map<string, V> | undefined, f: (v: V) => number): Record<string, number> | undefined => {
    if (!m || m.size === 0) return undefined;
    const out: Record<string, number> = {};
    for (const [name, v] of m) {
      const id = idOf.get(name);
      if (id) out[id] = f(v);
    }
    return out;
  };
  const walk = originSurvival(ctx, idOf, use);
  const tcpEdges = edgeOriginUnitOf(ctx.lb.listeners) === 'connections';
  const edgeName = new Map(ctx.edges.map((e) => [e.id, e.name]));
  let n = 0;
  for (const src of sources) {
    if (++n % STEP_ITEMS === 0) yield;
    const carried = ctx.carried?.effective[src.id];
    if (src.id.startsWith(SUBNET_PREFIX)) {
      const subnet = src.id.slice(SUBNET_PREFIX.length);
      if (ctx.lb.dns) src.pick = dnsPick(subnet, ctx.lb.dns.hostname);
      if (Object.keys(walk.end).length === 0) continue;
      const survivors = ctx.inputs.connections.subnetSurvivors.get(subnet);
      const open = survivors ? [...survivors.values()].reduce((t, c) => t + c.open, 0) : 0;
      const measured = open > 0 ? byId(survivors, (c) => c.open / open) : byId(ctx.inputs.connections.subnetPlacement.get(subnet), (v) => v);
      const pinned = open > 0 ? { end: byId(survivors, (c) => c.surviving / open)!, mean: byId(survivors, (c) => c.survivingMean / open)! } : undefined;
      src.connections = withoutUndefined({ effective: reconciled(src.id, carried) ?? measured, survival: walk.end, mean_survival: walk.mean, pinned, answer_survival: stays });
      use.effective_from[carried ? 'carried' : measured ? 'measured' : 'weights']++;
      if (pinned) use.pinned_measured++;
    } else if (src.id.startsWith(EDGE_PREFIX) && tcpEdges) {
      const name = edgeName.get(src.id.slice(EDGE_PREFIX.length));
      const c = name ? ctx.inputs.connections.edgeSurvivors.get(name) : undefined;
      const tau = name ? ctx.inputs.connections.edgeLifetimeS.get(name) : undefined;
      const s = c?.open ? survivalOf(c) : tau !== undefined ? survivalOver(ctx.cycleSeconds, tau) : undefined;
      if (!s) continue;
      const all = (v: number) => Object.fromEntries(ctx.origins.map((o) => [o.id, v]));
      src.connections = withoutUndefined({ effective: carried, survival: all(s.end), mean_survival: all(s.mean) });
      use.effective_from[carried ? 'carried' : 'weights']++;
    }
  }
  return use;
}

function withoutUndefined(c: SourceConnections): SourceConnections {
  const out: SourceConnections = { survival: c.survival };
  if (c.effective) out.effective = c.effective;
  if (c.mean_survival) out.mean_survival = c.mean_survival;
  if (c.pinned) out.pinned = c.pinned;
  if (c.answer_survival !== undefined) out.answer_survival = c.answer_survival;
  return out;
}

/**
 * What one cycle leaves for the next, per load balancer: the connection state the decision predicted
 * (passed back into the next problem) and its load prediction (recorded next to what was then measured).
 * Kept in memory: a control plane that starts, or takes over the lease, begins from what the agents
 * measure. A held cycle drops it (the state would be a cycle old).
 */
export class CarriedState {
  private readonly connections = new Map<string, CarriedConnections>();
  private readonly predictions = new Map<string, Record<string, number>>();
  /** Per load balancer: what is known about connections outliving answer changes (kept through holds). */
  private readonly answers = new Map<string, AnswerSurvival>();

  answerSurvival(lbId: string, cycleSeconds: number): AnswerSurvival {
    let a = this.answers.get(lbId);
    if (!a) this.answers.set(lbId, (a = new AnswerSurvival(cycleSeconds)));
    return a;
  }

  connectionsFor(lbId: string): CarriedConnections | undefined {
    return this.connections.get(lbId);
  }

  /** The load the last decision predicted for the cycle that has just run (by origin name). */
  predictionFor(lbId: string): Record<string, number> | undefined {
    return this.predictions.get(lbId);
  }

  remember(lbId: string, connections: CarriedConnections | undefined, predictedByName: Record<string, number>): void {
    if (connections) this.connections.set(lbId, connections);
    else this.connections.delete(lbId);
    this.predictions.set(lbId, predictedByName);
  }

  forget(lbId: string): void {
    this.connections.delete(lbId);
    this.predictions.delete(lbId);
    this.answers.get(lbId)?.forgetWatch();
  }

  clear(): void {
    this.connections.clear();
    this.predictions.clear();
    for (const a of this.answers.values()) a.forgetWatch();
  }
}

/** For the decision record: what the connection model used. */
export function connectionSummary(inputs: LbInputs, cycleSeconds: number, sources: SourceState[], use?: ConnectionUse): Record<string, unknown> | undefined {
  const c = inputs.connections;
  if (c.originLifetimeS.size === 0 && c.edgeLifetimeS.size === 0 && Object.keys(use?.walk ?? {}).length === 0) return undefined;
  const round = (x: number) => (Number.isFinite(x) ? Math.round(x * 1000) / 1000 : x === Infinity ? 'no close seen' : null);
  const per = (m: Map<string, number>) => Object.fromEntries([...m].map(([k, tau]) => [k, { mean_lifetime_s: round(tau), survival: round(survivalOver(cycleSeconds, tau).end), mean_survival: round(survivalOver(cycleSeconds, tau).mean) }]));
  return {
    cycle_s: cycleSeconds,
    origins: per(c.originLifetimeS),
    edges: per(c.edgeLifetimeS),
    sources_with_state: sources.filter((s) => s.connections).length,
    sources_answered_whole: sources.filter((s) => s.pick !== undefined).length,
    ...(use ? { walk: use.walk, effective_from: use.effective_from, pinned_measured: use.pinned_measured, answer_survival: use.answer_survival ?? null, reconciled: use.reconciled ?? 0 } : {}),
  };
}
