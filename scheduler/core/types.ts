// The scheduler's decision core speaks these types: a problem in, a decision out. They are plain data
// (JSON-serialisable, structured-clone friendly) so the same object goes to a worker thread, into
// `sluice solve`, into the simulator, and into a decision record.
import type { DecisionReason, WeightChange } from '../../model/views.ts';

export type Policy = 'latency' | 'balance' | 'weighted' | 'failover';
export type AdminState = 'active' | 'drain' | 'disabled';

export interface GeoPoint {
  lat: number;
  lon: number;
}

export interface OriginState {
  id: string;
  /** Soft capacity (rps): planned load stays at or under it while that is possible. May be +Infinity. */
  target_rps: number;
  /** Hard capacity (rps): load above it only when total demand exceeds total capacity. May be +Infinity. */
  max_rps: number;
  healthy: boolean;
  admin_state: AdminState;
  /** weighted policy: relative weight (≥ 0). */
  static_weight: number;
  /** failover policy: lower is preferred. */
  priority: number;
  location?: GeoPoint | undefined;
}

export interface SourceState {
  /** An edge (listener) id or a client subnet. */
  id: string;
  /** Requests (or new connections) per second, ≥ 0. */
  demand_rps: number;
  /** Learned RTT per origin id (ms). Missing origins are estimated from locations. */
  rtt_ms: Record<string, number>;
  location?: GeoPoint | undefined;
}

/** sourceId -> originId -> share (0..1). */
export type Weights = Record<string, Record<string, number>>;

/** How a missing RTT is estimated from great-circle distance (see geo.ts). */
export interface RttModel {
  /** Signal speed in fibre, km per ms (one way). ~200 (2/3 c). */
  km_per_ms: number;
  /** Real routes are longer than the great circle; 1.3–1.6 is typical on the public Internet. */
  route_inflation: number;
  /** Fixed RTT added for last mile, stacks and queues (ms). */
  base_ms: number;
}

export interface SchedulingProblem {
  policy: Policy;
  /** Largest change of one weight per cycle for optimisation moves; 1 = undamped. */
  max_shift: number;
  /** Near the plan, the fraction of the remaining gap closed per cycle (proportional band; default 0.5).
   * Ignored when max_shift is 1 (undamped). */
  gain?: number | undefined;
  /** A source whose plan differs from its weights in force by less than this everywhere keeps them. */
  deadband: number;
  /** Pairs with a (learned or estimated) RTT above this are not used (unless nothing else is). */
  max_latency_ms: number;
  origins: OriginState[];
  sources: SourceState[];
  /** Weights in force now. Missing sources are new (they get the plan at once). */
  current: Weights;
  rtt_model?: RttModel | undefined;
}

export interface OriginOutcome {
  /** Predicted load with the weights decided (rps). */
  load_rps: number;
  /** Load the undamped plan would put here (rps). */
  planned_rps: number;
  target_rps: number;
  max_rps: number;
  /** load / max (Infinity-safe: 0 for unlimited). */
  utilisation: number;
  /** Capacity dual of the plan: latency (ms) a source would give up to avoid one more unit here. */
  price: number;
  usable: boolean;
  notes: string[];
}

export interface StepInfo {
  /** Fraction of the way from the weights in force to the plan taken this cycle (0..1). */
  fraction: number;
  /** What set the fraction: none (plan reached), max_shift, or capacity (protection overrode damping). */
  limited_by: 'none' | 'max_shift' | 'capacity';
  /** Sources kept as they are because their plan is within the deadband. */
  held_sources: number;
  /** Cycles still needed at this pace to reach the plan (0 when reached). */
  cycles_to_plan: number;
}

export interface SolverInfo {
  method: 'transport-ssp' | 'weighted' | 'none';
  sources: number;
  /** Rows after merging identical sources. */
  merged_rows: number;
  columns: number;
  augmentations: number;
  /** LP objective of the plan including the above-target penalty (what HiGHS would report). */
  lp_objective: number;
}

export interface SchedulingDecision {
  /** 'no_usable_origin': every origin is disabled (or there are none) — hold what is in force. */
  status: 'ok' | 'no_usable_origin';
  reason: DecisionReason;
  /** The weights to publish (damped). Every source's shares sum to 1. */
  weights: Weights;
  /** The undamped optimum this cycle walks towards. */
  plan: Weights;
  /** Σ demand × rtt × share of `weights` (ms·rps). */
  objective: number;
  /** The same for `plan`. */
  plan_objective: number;
  origin_load_rps: Record<string, number>;
  /** Σ over origins of load above max_rps, with `weights`. */
  overload_rps: number;
  /** Same for the plan (> 0 only when total demand exceeds what the usable origins can take). */
  plan_overload_rps: number;
  origins: Record<string, OriginOutcome>;
  /** Decision-level explanations (health, fallbacks, overload, damping), for the decision log. */
  notes: string[];
  diff: WeightChange[];
  step: StepInfo;
  solver: SolverInfo;
}
