// What the scheduler loop needs from the source of truth, and nothing more (controller-runtime's
// Reader/Writer split): the api's `Store` extends this interface, so the dependency runs api →
// scheduler only and a loop can run on any store that offers these methods.
//
// Fencing (Kleppmann's fencing tokens; Kubernetes' leader election on etcd): one scheduler acts at a
// time because it holds a lease in the store, and every write it makes as the leader carries the
// lease's epoch. The epoch grows on every fresh acquisition (a new holder, or a holder whose lease had
// lapsed), and the store checks, inside the same transaction as the write and against its own clock,
// that the lease still names this holder and epoch and has not expired. A leader paused by a GC stall,
// SIGSTOP or a partition past its lease therefore cannot publish when it resumes: the write fails with
// `LeaseLost` and nothing of it is applied.
import type {
  Decision,
  DecisionInput,
  Edge,
  EdgeOriginHealth,
  LatencyEntry,
  LoadBalancer,
  LoadBalancerWeights,
  Origin,
  OriginHealth,
  Override,
  WeightsInput,
} from '../../model/index.ts';
import type { SubnetsChange } from '../../model/view-codec.ts';

/** The version and publication time of the weights in force (LoadBalancerWeights without the body). */
export type WeightsHead = Pick<LoadBalancerWeights, 'version' | 'published_at'>;

/**
 * What a publish changed, as its caller knows it: `from` is the subnet table of the weights in force
 * it compared with (the very object getWeights or its last publishWeights returned), `keys` every
 * subnet key whose map in the new table is not the very object `from` has for it (added, re-weighted,
 * removed). Every other key maps to `from`'s object. The scheduler knows this when it shares unchanged
 * maps (problem.ts splitWeightsSteps); with it the store checks, names and writes only those keys
 * (O(changes) at 1M subnets instead of a pass over the table). A hint: a store uses it only when
 * `from` is the table its next change row starts from and it passes the store's cheap checks (the key
 * count, a sample of the other keys), and otherwise does its full pass. Like the tables themselves
 * (never changed once handed over) it is the trusted in-process caller's word: the API never passes one.
 */
export type WeightsChangeHint = SubnetsChange;

/**
 * The capacity prices of a load balancer's latest decision that has them (a solve's, not a hold's),
 * and the total demand they priced: what a new leader's first solve starts from (price-hint.ts).
 */
export interface StoredPrices {
  decision_id: number;
  created_at: string;
  /** Origin id -> price, as recorded (origins since deleted included: the reader filters them). */
  prices: Record<string, number>;
  demand_rps: number;
}

/** The fencing token a leader's writes carry. */
export interface Fence {
  name: string;
  holder: string;
  epoch: number;
}

/** A lease as the store holds it; times are the store's clock. */
export interface LeaseGrant extends Fence {
  /** When this epoch began (the holder acquired it). */
  acquired_at: string;
  expires_at: string;
}

/** Thrown by a fenced write whose lease is no longer held (expired, taken over, or a newer epoch). */
export class LeaseLost extends Error {
  constructor(
    readonly fence: Fence,
    /** Why (the lease's epoch and holder now, or its expiry): kept so the error can cross a thread. */
    readonly detail: string,
  ) {
    super(`lease ${fence.name} epoch ${fence.epoch} is no longer held by ${fence.holder}: ${detail}; the write was not applied`);
    this.name = 'LeaseLost';
  }
}

export interface SchedulerStore {
  /**
   * Acquires or renews the lease `name` for `holder` until the store's now + ttlMs. Resolves with the
   * grant (its epoch is the fencing token) or null while another holder's lease is unexpired.
   */
  acquireLease(name: string, holder: string, ttlMs: number): Promise<LeaseGrant | null>;
  /** Ends `holder`'s lease now (keeping the epoch counter), so the next candidate need not wait out the TTL. */
  releaseLease(name: string, holder: string): Promise<void>;

  /** Every load balancer, in creation order. */
  allLoadBalancers(): Promise<LoadBalancer[]>;
  /** Every origin of one load balancer, or of all when lbId is omitted. */
  allOrigins(lbId?: string): Promise<Origin[]>;
  allEdges(): Promise<Edge[]>;
  listOriginHealth(): Promise<OriginHealth[]>;
  /** Edge-local reachability decisions: an origin one edge cannot reach is out of that edge's plan. */
  listEdgeHealth(): Promise<EdgeOriginHealth[]>;

  /** The load balancer's overrides neither cancelled nor expired (expiry judged by the reading process's clock), oldest first. */
  activeOverrides(lbId: string): Promise<Override[]>;

  /**
   * The weights in force. Their tables may be shared with the store's other readers (the API's views)
   * and are where the store's next publish of this load balancer may start from (a change row against
   * them): callers must not change them.
   */
  getWeights(lbId: string): Promise<LoadBalancerWeights | null>;
  /**
   * Which weights are in force, without their body: the version and publication time getWeights would
   * return, or null when none was ever published. Versions are store-wide (every publish, by any
   * replica or the API, takes the next one), so a caller holding the weights it published itself knows
   * from this whether they are still the ones in force.
   */
  weightsHead(lbId: string): Promise<WeightsHead | null>;
  /**
   * Publishes a new weights version for one load balancer together with its decision record, atomically.
   * With `fence`, only while that lease is held (else `LeaseLost`, nothing written). Resolves with the
   * weights as stored: what getWeights returns until the next publish. The store may keep `weights`'
   * tables as given (the API's views read them instead of parsing the stored body): the caller must
   * not change them afterwards (the loop builds fresh tables every cycle). `changed`: what changed
   * against the weights in force, when the caller knows it (WeightsChangeHint).
   */
  publishWeights(lbId: string, weights: WeightsInput, decision: DecisionInput, fence?: Fence, changed?: WeightsChangeHint): Promise<{ version: number; decision: Decision; weights: LoadBalancerWeights }>;
  /** Records a cycle that changed nothing (hold) or only explained itself; fenced like publishWeights. */
  recordDecision(decision: DecisionInput, fence?: Fence): Promise<Decision>;
  /** Removes decision records created before `before` (ISO time); returns how many. */
  pruneDecisions(before: string): Promise<number>;
  /**
   * The capacity prices of the load balancer's latest decision that has any, or null (none recorded,
   * or pruned). One indexed row (only priced decisions are in the index), never a scan of the log.
   */
  latestPrices(lbId: string): Promise<StoredPrices | null>;

  /** Upserts learned latency rows keyed by (subnet, origin_id); fenced like publishWeights. */
  upsertLatency(entries: LatencyEntry[], fence?: Fence): Promise<void>;
  /** Removes latency rows not updated since `before` (ISO time); returns how many. */
  expireLatency(before: string): Promise<number>;

  /**
   * Calls `listener` soon after a committed change that can alter a long-polled view (resources,
   * weights, origin health), not after decisions, latency or leases; returns an unsubscribe function.
   */
  onChange(listener: () => void): () => void;
}
