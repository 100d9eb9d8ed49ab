// Read-only views: written by the scheduler (and the control plane's health checker), read by the API,
// DNS and edges.
import { z } from 'zod';
import { Cidr, IpAddress, Location, Port, Share } from './primitives.ts';
import { Policy } from './load-balancer.ts';
import { AdminState, StoredHealthCheck } from './origin.ts';

/** origin id -> share (0..1). Shares of one source sum to 1 (or the map is empty: nothing usable). */
export const WeightMap = z.record(z.string(), Share);
export type WeightMap = z.infer<typeof WeightMap>;

export const WeightsInput = z.strictObject({
  edges: z.record(z.string(), WeightMap).default({}).describe('edge id -> origin shares'),
  subnets: z.record(Cidr, WeightMap).default({}).describe('client subnet -> origin shares (DNS)'),
});
export type WeightsInput = z.input<typeof WeightsInput>;

export const LoadBalancerWeights = z.strictObject({
  load_balancer_id: z.string(),
  version: z.number().int().describe('global, monotonically increasing across all load balancers'),
  published_at: z.string(),
  edges: z.record(z.string(), WeightMap),
  subnets: z.record(z.string(), WeightMap),
}).meta({ id: 'LoadBalancerWeights' });
export type LoadBalancerWeights = z.infer<typeof LoadBalancerWeights>;

export const LatencyEntry = z.strictObject({
  subnet: Cidr,
  origin_id: z.string(),
  rtt_ms: z.number().nonnegative(),
  samples: z.number().int().nonnegative(),
  last_updated: z.string(),
}).meta({ id: 'LatencyEntry' });
export type LatencyEntry = z.infer<typeof LatencyEntry>;

export const DecisionReason = z.enum(['optimize', 'health', 'drain', 'override', 'hold']);
export type DecisionReason = z.infer<typeof DecisionReason>;

export const WeightChange = z.strictObject({
  source: z.string(),
  origin_id: z.string(),
  from: z.number(),
  to: z.number(),
});
export type WeightChange = z.infer<typeof WeightChange>;

/**
 * The solve's capacity prices (duals), origin id -> price in ms of latency per rps. Finite, and not
 * necessarily positive: a price is λ_origin − λ_sink of the solver's prices (scheduler/solver/
 * transport.ts), 0 or above for a capacity that binds, and it may come out below 0 for an origin whose
 * capacity does not bind (one with target_rps 0; float rounding); used as a start the solver clamps it
 * to 0 (solver/ssp-state.ts seatRows). Refusing it would fail the decision's write and hold the cycle.
 */
export const CapacityPrices = z.record(z.string(), z.number({ error: 'expected a finite number (a capacity price)' }).finite());
export type CapacityPrices = z.infer<typeof CapacityPrices>;

const CAPACITY_PRICES_DESCRIPTION =
  "the solve's capacity price per origin id (ms of latency per rps): what one more rps of that origin's capacity would save the plan; 0 where capacity does not bind. Under a minimum-share override they can carry a common offset: then only their differences read so. {} for holds and records without a solve. The next leader's first solve starts from these";
const PRICED_DEMAND_DESCRIPTION = 'total demand (rps) the capacity prices were found for; null when there are none';

/** Prices and the demand they priced come together or not at all (a next solve checks one against the other). */
function pricedTogether(d: { capacity_prices: Record<string, number>; priced_demand_rps: number | null }, ctx: z.RefinementCtx): void {
  const priced = Object.keys(d.capacity_prices).length > 0;
  if (priced && d.priced_demand_rps === null) ctx.addIssue({ code: 'custom', path: ['priced_demand_rps'], message: 'required with capacity_prices: the total demand (rps) the prices were found for' });
  if (!priced && d.priced_demand_rps !== null) ctx.addIssue({ code: 'custom', path: ['capacity_prices'], message: 'priced_demand_rps given without capacity_prices' });
}

export const DecisionInput = z
  .strictObject({
    load_balancer_id: z.string(),
    reason: DecisionReason,
    detail: z.string().default(''),
    objective: z.number().nullable().default(null),
    inputs: z.record(z.string(), z.unknown()).default({}).describe('summary of what the scheduler read'),
    predicted_load_rps: z.record(z.string(), z.number()).default({}),
    overload_rps: z.number().nonnegative().default(0),
    diff: z.array(WeightChange).default([]),
    capacity_prices: CapacityPrices.default({}).describe(CAPACITY_PRICES_DESCRIPTION),
    priced_demand_rps: z.number({ error: 'expected a finite number of rps, or null' }).finite().nonnegative().nullable().default(null).describe(PRICED_DEMAND_DESCRIPTION),
  })
  .superRefine(pricedTogether);
export type DecisionInput = z.input<typeof DecisionInput>;

export const Decision = z.strictObject({
  id: z.number().int(),
  load_balancer_id: z.string(),
  weights_version: z.number().int().nullable(),
  leader_epoch: z.number().int().nullable().describe('epoch of the scheduler lease it was written under (changes when leadership moves); null when written without one'),
  created_at: z.string(),
  reason: DecisionReason,
  detail: z.string(),
  objective: z.number().nullable(),
  inputs: z.record(z.string(), z.unknown()),
  predicted_load_rps: z.record(z.string(), z.number()),
  overload_rps: z.number(),
  diff: z.array(WeightChange),
  capacity_prices: z.record(z.string(), z.number()).describe(CAPACITY_PRICES_DESCRIPTION),
  priced_demand_rps: z.number().nullable().describe(PRICED_DEMAND_DESCRIPTION),
}).meta({ id: 'Decision' });
export type Decision = z.infer<typeof Decision>;

/** One vantage point's vote as the health decision counted it. */
export const HealthVote = z.strictObject({
  vantage: z.string().describe('a control-plane replica id, or "edge:<edge name>"'),
  healthy: z.boolean().describe("the vantage's verdict (after its own rise/fall)"),
  fresh: z.boolean().describe('reported within health.stale_after; stale votes count neither way'),
  age_ms: z.number().describe('how old the vote was when the decision was made'),
}).meta({ id: 'HealthVote' });
export type HealthVote = z.infer<typeof HealthVote>;

export const OriginHealth = z.strictObject({
  origin_id: z.string(),
  healthy: z.boolean(),
  since: z.string(),
  detail: z.string(),
  reason: z.string().describe('why: quorum_down, quorum_up, no_health_check, or set (written directly, e.g. by the demo)'),
  votes: z.array(HealthVote).describe('the votes behind the last transition'),
}).meta({ id: 'OriginHealth' });
export type OriginHealth = z.infer<typeof OriginHealth>;

/**
 * Edge-local reachability: an origin the quorum calls healthy that one edge's own checks see down is
 * excluded for that edge alone (its weights there are 0 and its share re-planned onto other origins).
 */
export const EdgeOriginHealth = z.strictObject({
  edge_id: z.string(),
  origin_id: z.string(),
  reachable: z.boolean(),
  since: z.string(),
  reason: z.string().describe('unreachable_from_edge, or reachable_from_edge once lifted'),
  detail: z.string(),
}).meta({ id: 'EdgeOriginHealth' });
export type EdgeOriginHealth = z.infer<typeof EdgeOriginHealth>;

/**
 * An origin as a data plane sees it: enough to route, nothing else. Addresses and ports are validated
 * as what they become on the data plane, so a hand-written config_file with port 70000 is refused
 * whole before any data plane is touched (HAProxy's runtime API would wrap it silently).
 */
export const OriginView = z.strictObject({
  id: z.string(),
  name: z.string(),
  region: z.string(),
  addresses: z.array(IpAddress),
  port: Port,
  location: Location,
  admin_state: AdminState,
  healthy: z.boolean().describe('false while a quorum of vantage points sees it down (the control plane\'s checks and the edges\' reports); true when no check is configured'),
  static_weight: z.number(),
  priority: z.number().int(),
  health_check: StoredHealthCheck.nullable().default(null).describe('how vantage points check it: edge-sync runs this check itself where its data plane keeps no health state (nginx, IPVS)'),
}).meta({ id: 'OriginView' });
export type OriginView = z.infer<typeof OriginView>;

/**
 * The store's change sequence the view was read at (one snapshot). It only grows, across every
 * control-plane replica on one database, so a data plane following several replicas installs a view
 * only when its seq is at least the one in force: it never goes back to an older view. Not part of
 * the content hash (the ETag): a change elsewhere in the store does not wake a long-poll. Absent in
 * hand-written view files.
 */
export const ViewSeq = z.number().int().min(0).nullable().default(null).describe("the store's change sequence at the snapshot this view was built from; never decreases (also in the Sluice-Change-Seq header)");

/** GET /api/v1/edges/{id}/config: everything one edge needs. */
export const EdgeConfig = z.strictObject({
  edge: z.strictObject({ id: z.string(), name: z.string(), region: z.string(), address: z.string() }),
  version: z.string().describe('content hash; the ETag'),
  seq: ViewSeq,
  weights_version: z.number().int().nullable(),
  listeners: z.array(
    z.strictObject({
      load_balancer_id: z.string(),
      load_balancer: z.string(),
      vip: IpAddress,
      port: Port,
      protocol: z.string(),
      policy: Policy,
      origins: z.array(
        OriginView.extend({
          weight: Share.describe('this edge\'s share for the origin, 0..1'),
          reachable: z.boolean().default(true).describe("false when this edge's own checks see the origin down while the quorum does not: out of this edge's weights only"),
        }),
      ),
    }),
  ),
}).meta({ id: 'EdgeConfig' });
export type EdgeConfig = z.infer<typeof EdgeConfig>;

/** GET /api/v1/dns/view: everything `sluice dns` needs to answer without calling the API per query. */
export const DnsRecordView = z.strictObject({
  load_balancer_id: z.string(),
  hostname: z.string(),
  ttl: z.number().int(),
  answers: z.number().int(),
  policy: Policy,
  max_latency_ms: z.number(),
  origins: z.array(OriginView),
  subnets: z.record(z.string(), WeightMap).describe('learned per-subnet shares; absent subnet -> geolocation'),
}).meta({ id: 'DnsRecordView' });
export type DnsRecordView = z.infer<typeof DnsRecordView>;

export const DnsView = z.strictObject({
  version: z.string(),
  seq: ViewSeq,
  weights_version: z.number().int().nullable(),
  zones: z.array(z.strictObject({ zone: z.string(), records: z.array(DnsRecordView) })),
}).meta({ id: 'DnsView' });
export type DnsView = z.infer<typeof DnsView>;
