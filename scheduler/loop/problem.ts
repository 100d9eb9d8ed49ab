// Builds one load balancer's scheduling problem from what was read, and splits a decision back into
// the per-edge and per-subnet weights the store publishes. Sources are named "edge:<id>" and
// "subnet:<cidr>" inside the problem so both kinds share one origin capacity.
import type { LoadBalancer, LoadBalancerWeights, Origin, OriginHealth, Edge, EdgeOriginHealth, WeightMap } from '../../model/index.ts';
import type { OriginState, SchedulingProblem, SourceState, Weights } from '../core/index.ts';
import { EdgeSubnets } from '../inputs/edge-subnets.ts';
import type { AnswerSurvivalEstimate } from './answer-survival.ts';
import { annotateSourcesSteps, EDGE_PREFIX, SUBNET_PREFIX, type CarriedConnections, type ConnectionUse } from './connection-sources.ts';
import type { LbInputs } from '../inputs/types.ts';
import { runToEnd, STEP_ITEMS, type Steps } from '../../lib/steps.ts';
import { keysOnce, knownKeys } from '../../lib/json-steps.ts';
import type { WeightsChangeHint } from './store.ts';
import { sameWeights as sameMap } from '../../model/view-codec.ts';

export type Locate = (subnet: string) => { lat: number; lon: number } | undefined;

export interface BuiltProblem {
  problem: SchedulingProblem;
  /** Sources in force but missing from this cycle's inputs: their weights are carried over. */
  carried: Weights;
  /** Sources in force, missing for more than hold_cycles: dropped from the weights this cycle. */
  dropped: string[];
  /** What the connection model used (decision record). */
  connections: ConnectionUse;
}

const EDGE = EDGE_PREFIX;
const SUBNET = SUBNET_PREFIX;

export function currentAsProblemWeights(w: LoadBalancerWeights | null): Weights {
  return runToEnd(currentAsProblemWeightsSteps(w));
}

function* currentAsProblemWeightsSteps(w: LoadBalancerWeights | null): Steps<Weights> {
  const out: Weights = {};
  if (!w) return out;
  let n = 0;
  for (const id in w.edges) out[`${EDGE}${id}`] = w.edges[id]!;
  for (const cidr in w.subnets) {
    if (++n % STEP_ITEMS === 0) yield;
    out[`${SUBNET}${cidr}`] = w.subnets[cidr]!;
  }
  return out;
}

export type BuildArgs = {
  lb: LoadBalancer;
  origins: Origin[];
  edges: Edge[];
  health: OriginHealth[];
  /** Edge-local exclusions: an edge's source does not use the origins it cannot reach. */
  edgeHealth?: EdgeOriginHealth[];
  inputs: LbInputs;
  current: LoadBalancerWeights | null;
  /** Consecutive cycles each source has been missing (updated in place). */
  missing: Map<string, number>;
  holdCycles: number;
  /** Scheduler config merge_resolution_ms (solver/merge.ts); absent: identical rows only. */
  mergeResolutionMs?: number | undefined;
  locate: Locate;
  /** Connection state the last decision left for this load balancer (loop.ts carries it). */
  carried?: CarriedConnections | undefined;
  /** The cycle the prediction is for (the scheduler interval), seconds. */
  cycleSeconds?: number;
  /** Whether connections outlive an answer change, as learned so far (answer-survival.ts). */
  answerSurvival?: AnswerSurvivalEstimate | undefined;
};

export function buildProblem(args: BuildArgs): BuiltProblem {
  return runToEnd(buildProblemSteps(args));
}

/** buildProblem in steps (lib/steps.ts): at 1M subnets, ~130k sources, over a second of the loop's thread. */
export function* buildProblemSteps(args: BuildArgs): Steps<BuiltProblem> {
  const { lb, origins, edges, inputs } = args;
  const byName = new Map(origins.map((o) => [o.name, o.id]));
  const storeHealth = new Map(args.health.map((h) => [h.origin_id, h.healthy]));
  const originStates: OriginState[] = origins.map((o) => ({
    id: o.id,
    target_rps: o.target_rps,
    max_rps: o.max_rps,
    healthy: (storeHealth.get(o.id) ?? true) && (inputs.originHealth.get(o.name) ?? true),
    admin_state: o.admin_state,
    static_weight: o.static_weight,
    priority: o.priority,
    location: o.location,
  }));
  const rttByName = (row: Map<string, number> | undefined): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const [name, ms] of row ?? []) {
      const id = byName.get(name);
      if (id) out[id] = ms;
    }
    return out;
  };

  const sources: SourceState[] = [];
  const unreachable = new Map<string, string[]>();
  for (const h of args.edgeHealth ?? []) if (!h.reachable) unreachable.set(h.edge_id, [...(unreachable.get(h.edge_id) ?? []), h.origin_id]);
  if (lb.listeners.length > 0) {
    for (const edge of edges) {
      const demand = inputs.edgeDemand.get(edge.name);
      if (demand === undefined) continue;
      const excluded = unreachable.get(edge.id);
      sources.push({ id: `${EDGE}${edge.id}`, demand_rps: demand, rtt_ms: rttByName(inputs.edgeRtt.get(edge.name)), location: edge.location, ...(excluded ? { excluded } : {}) });
    }
  }
  if (lb.dns) {
    // Connections from an edge's own subnet are edge traffic, already counted as the edge's demand.
    const edgeSubnets = new EdgeSubnets(edges);
    let step = 0;
    for (const [subnet, demand] of inputs.subnetDemand) {
      if (++step % STEP_ITEMS === 0) yield;
      if (edgeSubnets.edgeOf(subnet) !== undefined) continue;
      const rtt: Record<string, number> = {};
      for (const [name, r] of inputs.subnetRtt.get(subnet) ?? []) {
        const id = byName.get(name);
        if (id) rtt[id] = r.ms;
      }
      sources.push({ id: `${SUBNET}${subnet}`, demand_rps: demand, rtt_ms: rtt, location: args.locate(subnet) });
    }
  }

  const connections = yield* annotateSourcesSteps(sources, { lb, origins, edges, inputs, carried: args.carried, cycleSeconds: args.cycleSeconds ?? 15, answerSurvival: args.answerSurvival });

  const current = yield* currentAsProblemWeightsSteps(args.current);
  const present = new Set<string>();
  for (let i = 0; i < sources.length; i++) {
    present.add(sources[i]!.id);
    if (i % STEP_ITEMS === STEP_ITEMS - 1) yield;
  }
  const carried: Weights = {};
  const dropped: string[] = [];
  for (const id of args.missing.keys()) if (present.has(id) || !(id in current)) args.missing.delete(id);
  let step = 0;
  for (const id in current) {
    if (++step % STEP_ITEMS === 0) yield;
    if (present.has(id)) continue;
    const shares = current[id]!;
    const cycles = (args.missing.get(id) ?? 0) + 1;
    args.missing.set(id, cycles);
    if (cycles <= args.holdCycles) carried[id] = shares;
    else dropped.push(id);
  }

  return {
    problem: {
      policy: lb.policy,
      max_shift: lb.max_shift,
      deadband: lb.deadband,
      gain: lb.gain,
      max_latency_ms: lb.max_latency_ms,
      stickiness_ms: lb.stickiness_ms ?? 0,
      ...(args.mergeResolutionMs ? { merge_resolution_ms: args.mergeResolutionMs } : {}),
      origins: originStates,
      sources,
      current,
    },
    carried,
    dropped,
    connections,
  };
}

/** Shares below this are noise from the solver; they are dropped and the rest renormalised. */
const PUBLISH_EPSILON = 1e-6;

export function clean(shares: Record<string, number>): WeightMap {
  const kept = Object.entries(shares).filter(([, v]) => Number.isFinite(v) && v > PUBLISH_EPSILON);
  const total = kept.reduce((s, [, v]) => s + v, 0);
  return Object.fromEntries(kept.map(([k, v]) => [k, Math.round((v / total) * 1e6) / 1e6]));
}

export function splitWeights(weights: Weights, carried: Weights): { edges: Record<string, WeightMap>; subnets: Record<string, WeightMap> } {
  return runToEnd(splitWeightsSteps(weights, carried));
}

/** splitWeights in steps (lib/steps.ts): at 1M subnets it is ~1 s of the loop's thread. */
export function* splitWeightsSteps(weights: Weights, carried: Weights, previous?: Record<string, WeightMap> | null): Steps<PublishedShares> {
  return (yield* splitWeightsChangeSteps(weights, carried, previous)).weights;
}

/**
 * splitWeightsSteps, and what changed against `previous` (the subnet table published last: the weights
 * in force). A subnet whose cleaned map equals the one it had there gets that very object: the store
 * then takes it as checked and unchanged, and a comparison with the weights in force skips it.
 * Published tables are never changed, so sharing a map is safe. `changed` names every other key (a
 * fresh map, or gone from `previous`): handed to publishWeights, the store checks, names and writes
 * only those (WeightsChangeHint; at 1M subnets its pass over every entry was ~0.4 s). Null without
 * `previous`.
 */
export function* splitWeightsChangeSteps(weights: Weights, carried: Weights, previous?: Record<string, WeightMap> | null): Steps<{ weights: PublishedShares; changed: WeightsChangeHint | null }> {
  const edges: Record<string, WeightMap> = {};
  const subnets: Record<string, WeightMap> = {};
  // The subnet table's keys as they are added (each once; CIDRs are never array indexes, so this is
  // Object.keys' order): the publish and the views then never list the 1M keys in one piece.
  const subnetKeys: string[] = [];
  const changed: string[] = [];
  // Keys of `previous` still in the table: fewer than it has means some are gone (a walk finds them).
  let kept = 0;
  let n = 0;
  const put = (id: string, shares: Record<string, number>): void => {
    const cleaned = clean(shares);
    if (Object.keys(cleaned).length === 0) return;
    if (id.startsWith(EDGE)) edges[id.slice(EDGE.length)] = cleaned;
    else if (id.startsWith(SUBNET)) {
      const cidr = id.slice(SUBNET.length);
      const was = previous && Object.hasOwn(previous, cidr) ? previous[cidr]! : undefined;
      if (was) kept++;
      const same = was !== undefined && sameMap(was, cleaned);
      subnets[cidr] = same ? was : cleaned;
      if (!same) changed.push(cidr);
      subnetKeys.push(cidr);
    }
  };
  // { ...carried, ...weights } in that key order, without copying either map.
  for (const id in carried) {
    put(id, weights[id] ?? carried[id]!);
    if (++n % STEP_ITEMS === 0) yield;
  }
  for (const id in weights) {
    if (id in carried) continue;
    put(id, weights[id]!);
    if (++n % STEP_ITEMS === 0) yield;
  }
  knownKeys(subnets, subnetKeys);
  if (!previous) return { weights: { edges, subnets }, changed: null };
  const before = keysOnce(previous);
  if (kept < before.length) {
    for (let i = 0; i < before.length; i++) {
      if (!Object.hasOwn(subnets, before[i]!)) changed.push(before[i]!);
      if (i % STEP_ITEMS === STEP_ITEMS - 1) yield;
    }
  }
  return { weights: { edges, subnets }, changed: { from: previous, keys: changed } };
}

/**
 * Whether weights to publish equal those in force as published (after the same cleaning and rounding
 * to 1e-6): a decision whose changes all vanish in the rounding (a source at its plan, re-derived with
 * float noise) is no new version, so no data plane is woken for nothing.
 */
export function sameWeights(next: PublishedShares, inForce: PublishedShares | null): boolean {
  return runToEnd(sameWeightsSteps(next, inForce));
}

type PublishedShares = { edges: Record<string, WeightMap>; subnets: Record<string, WeightMap> };

/** sameWeights in steps (lib/steps.ts): two ~130k-subnet tables compared at 1M subnets. */
export function* sameWeightsSteps(next: PublishedShares, inForce: PublishedShares | null): Steps<boolean> {
  if (!inForce) return false;
  function* same(a: Record<string, WeightMap>, b: Record<string, WeightMap>): Steps<boolean> {
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    for (let i = 0; i < keys.length; i++) {
      if (i % STEP_ITEMS === STEP_ITEMS - 1) yield;
      // A map the publish shares with the weights in force (splitWeightsSteps) is the same object.
      const y = b[keys[i]!];
      if (!y || !sameMap(a[keys[i]!]!, y)) return false;
    }
    return true;
  }
  return (yield* same(next.edges, inForce.edges)) && (yield* same(next.subnets, inForce.subnets));
}
