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
  /** Demand per second, ≥ 0, in the problem's capacity unit (requests by default; the caller converts). */
  demand_rps: number;
  /** Learned RTT per origin id (ms). Missing origins are estimated from locations. */
  rtt_ms: Record<string, number>;
  location?: GeoPoint | undefined;
  /** Traffic on established connections that stays where it is (connections.ts). Absent: the source's
   * traffic follows new weights at once (per-request balancing, one-request connections). */
  connections?: SourceConnections | undefined;
  /**
   * The source is answered whole (a DNS answer per client subnet): all its new connections go to the
   * origin whose interval on the cumulative line of its weights — origins with a share, in id order —
   * contains this point u ∈ [0, 1). Used to predict its load exactly; the weights stay fractional.
   */
  pick?: number | undefined;
  /**
   * Origins this source must not use although they are healthy (edge-local reachability: this edge's
   * own checks see them down while the quorum does not). Their share goes to 0 in this cycle, never
   * damped, and is re-planned onto the others; ignored when it would leave the source no usable origin.
   */
  excluded?: string[] | undefined;
}

/** Connection state of a source (see connections.ts for the model). Shares are per origin id. */
export interface SourceConnections {
  /** Where its load is now, share per origin, as the damping walks it (default: the weights in force). */
  effective?: Record<string, number> | undefined;
  /** Per origin: the fraction of the load there still on its established connections at the end of the
   * next cycle, S(Δ) ∈ [0, 1]. Missing: 0. */
  survival: Record<string, number>;
  /** The same averaged over the next cycle, S̄ ∈ [S(Δ), 1] — what the next cycle's measured load sees. Default: survival. */
  mean_survival?: Record<string, number> | undefined;
  /**
   * Measured rather than modelled: the share of the source's demand its established connections keep
   * on each origin over the next cycle (at its end, and on average), from the connections open now and
   * their ages. The prediction uses it when given (else S̄ · effective); the damping walks `effective`.
   */
  pinned?: { end: Record<string, number>; mean: Record<string, number> } | undefined;
  /**
   * Of what established connections would keep on an origin, the fraction that stays when the source's
   * answer moves off that origin, ∈ [0, 1]; default 1 (connections outlive an answer change: browsers,
   * pools). 0: the clients follow every answer (resolve before each request and reconnect when it
   * changes), so nothing is pinned by a weight change. Learned by the loop (loop/answer-survival.ts).
   */
  answer_survival?: number | undefined;
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

/**
 * Operator overrides as the core sees them: the loop resolves edges and subnet ranges to source ids
 * and passes only the overrides in force (expiry is the loop's business: the core has no clock).
 * `now`: in this cycle the sources it touches go straight to the plan (undamped); the loop sets it only
 * in the first cycle that sees the override.
 */
export interface ProblemOverrides {
  /** Fraction (0..1) of an origin's target and max offered to the plan. */
  dials?: { id: string; origin: string; fraction: number; now?: boolean | undefined }[] | undefined;
  /** Min/max share of an origin: of one source's demand (`source`), or of the whole demand (no source). */
  shares?: { id: string; origin: string; source?: string | undefined; min?: number | undefined; max?: number | undefined; now?: boolean | undefined }[] | undefined;
  /** Exact weights for these sources. */
  force?: { id: string; sources: string[]; weights: Record<string, number>; now?: boolean | undefined }[] | undefined;
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
  /** Anti-flap band (stickiness.ts): moving load off an origin it is on must save at least this (ms). Default 0. */
  stickiness_ms?: number | undefined;
  /** Sources whose costs agree within this many ms are merged into one LP row (solver/merge.ts: the plan
   * is at most this much worse in demand-weighted latency). Default 0: identical rows only. */
  merge_resolution_ms?: number | undefined;
  /** Capacity prices of the previous decision (origin id → its `price`): the solver starts from them.
   * Any start reaches the same optimum (transport.ts); one close to it spares most of the work. */
  price_hint?: Record<string, number> | undefined;
  origins: OriginState[];
  sources: SourceState[];
  /** Weights in force now. Missing sources are new (they get the plan at once). */
  current: Weights;
  rtt_model?: RttModel | undefined;
  /** Operator overrides in force (bounded-plan.ts). */
  overrides?: ProblemOverrides | undefined;
}

/** What became of one override in a decision. */
export interface OverrideOutcome {
  id: string;
  kind: 'dial' | 'share' | 'force';
  /** applied: honoured exactly by the plan; relaxed: partly not (health or capacity came first, see notes); void: nothing to apply to. */
  status: 'applied' | 'relaxed' | 'void';
  /** Sources it bounds or forces (all of them for a dial or a load-balancer-wide share). */
  sources: number;
  /** Applied undamped in this cycle. */
  now: boolean;
  notes: string[];
}

export interface OriginOutcome {
  /** Predicted load over the next cycle with the weights decided: traffic still on established
   * connections (`pinned_rps`) plus new traffic by the new weights. */
  load_rps: number;
  /** Of load_rps, what established connections keep here over the next cycle. */
  pinned_rps: number;
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
  /** Predicted load per origin over the next cycle (see OriginOutcome.load_rps). */
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
  /** When the problem had connection state: each source's effective shares at the end of the next
   * cycle, to pass back as `connections.effective` next time. */
  connections?: { effective: Weights } | undefined;
  /** One entry per override in the problem. */
  overrides?: OverrideOutcome[] | undefined;
}
