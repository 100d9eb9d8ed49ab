// The control plane's source of truth, behind an interface: SQLite is the embedded default (one
// machine), PostgreSQL the store of several control-plane replicas. Both pass one contract suite
// (store.contract.ts). Every method that writes is one transaction; what resolves has been committed.
import type {
  Decision,
  Edge,
  EdgeInput,
  EdgeOriginHealth,
  HealthVote,
  LatencyEntry,
  LoadBalancer,
  LoadBalancerSpec,
  LoadBalancerWeights,
  Origin,
  OriginHealth,
  OriginSpec,
  Override,
  OverrideSpec,
} from '../../model/index.ts';
import type { z } from 'zod';
import type { SubnetsChange } from '../../model/view-codec.ts';
import type { EdgeInput as EdgeInputSchema } from '../../model/edge.ts';
import type { Fence, LeaseGrant, SchedulerStore } from '../../scheduler/loop/store.ts';

export type EdgeSpec = z.output<typeof EdgeInputSchema>;
export type { EdgeInput };

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface PageRequest {
  limit: number;
  cursor?: string | undefined;
}

/** Thrown by the store; the API maps each kind to one problem type. */
export class StoreError extends Error {
  constructor(
    readonly kind: 'not_found' | 'conflict' | 'precondition_failed' | 'invalid',
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'StoreError';
  }
}

export interface LatencyFilter extends PageRequest {
  subnet?: string | undefined;
  origin_id?: string | undefined;
}

export interface DecisionFilter extends PageRequest {
  load_balancer_id?: string | undefined;
}

/** A lease as any replica reads it (who leads, since when), with the store's clock. */
export interface LeaseState extends LeaseGrant {
  /** false once expires_at has passed (by the store's clock): nobody leads until the next acquisition. */
  held: boolean;
  /** The store's clock when this was read: age = now - acquired_at without trusting the replica's clock. */
  now: string;
}

/** What the views are built from, read in one snapshot, and the change sequence of that snapshot. */
export interface StoreSnapshot {
  seq: number;
  loadBalancers: LoadBalancer[];
  origins: Origin[];
  health: OriginHealth[];
  /** Edge-local exclusions (and lifted ones). */
  edgeHealth: EdgeOriginHealth[];
  /**
   * Published weights, parsed (in steps: ~1 s in one JSON.parse at 1M subnets, on the thread that also
   * runs the scheduler loop) or, for versions after the one this store handed out before, built from
   * it and the change rows since (O(changes) reading and parsing).
   */
  weights: StoredWeights[];
}

/**
 * A load balancer's weights as read: LoadBalancerWeights with `edges` and `subnets` either as this
 * process published them (`own`) or as the store parsed them (`parsed`). The store keeps them as a
 * base plus change rows (weights-chain.ts); a replica that holds an older version applies only the
 * change rows after it.
 */
export interface StoredWeights {
  load_balancer_id: string;
  version: number;
  published_at: string;
  /**
   * The weights as one JSON body (`{"edges":...,"subnets":...}`); null when `own` is given. With
   * `parsed` it is serialised only when read (not enumerable): readers use `parsed`.
   */
  body: string | null;
  /**
   * When this row is the weights this process's store committed itself (publishWeights, same version
   * and time): those weights as handed to publishWeights (never to be mutated by anyone), and how their
   * subnet table moved from the one this process published before, so readers diff only the changed
   * keys (api/routes/views.ts). Absent for weights written by another process.
   */
  own?: OwnWeights;
  /**
   * Weights another process (or this one, before its last publish) wrote, parsed by the store: from
   * the tables it handed out before plus the change rows since (then `changed` names the keys that
   * may differ from that table), or in full (`changed` null). Shared with the store's cache: never to
   * be mutated.
   */
  parsed?: OwnWeights;
}

export interface OwnWeights {
  edges: LoadBalancerWeights['edges'];
  subnets: LoadBalancerWeights['subnets'];
  /** The keys that may differ from the subnet table handed out (own: published) before for the same load balancer; null when unknown. */
  changed: SubnetsChange | null;
}

/**
 * One vantage point's latest view of one origin (upserted per origin and vantage). `healthy` is the
 * vantage's verdict after its own rise/fall; `result` and `latency_ms` describe its last raw check.
 */
export interface HealthObservation {
  origin_id: string;
  /** A control-plane replica id, or "edge:<edge name>". */
  vantage: string;
  kind: 'control_plane' | 'edge';
  /** The reporting edge (kind edge): its observations go when it does. */
  edge_id: string | null;
  healthy: boolean;
  result: 'pass' | 'fail' | '';
  latency_ms: number | null;
  /** When the control plane received it, by the receiving replica's clock (staleness is judged on it). */
  observed_at: string;
  detail: string;
}

/** A health decision the evaluator makes: global (edge_id null) or edge-local. */
export interface HealthDecisionInput {
  load_balancer_id: string;
  origin_id: string;
  edge_id: string | null;
  healthy: boolean;
  reason: string;
  detail: string;
  votes: HealthVote[];
}

/** Everything the API serves; the scheduler's part is `SchedulerStore`, declared beside the loop. */
export interface Store extends SchedulerStore {
  // Load balancers. `ifRevision`: the caller's If-Match; a different current revision, or no row at
  // all, -> precondition_failed (without ifRevision a missing row is not_found).
  createLoadBalancer(spec: LoadBalancerSpec): Promise<LoadBalancer>;
  getLoadBalancer(id: string): Promise<LoadBalancer>;
  listLoadBalancers(page: PageRequest): Promise<Page<LoadBalancer>>;
  replaceLoadBalancer(id: string, spec: LoadBalancerSpec, ifRevision?: number): Promise<LoadBalancer>;
  deleteLoadBalancer(id: string, ifRevision?: number): Promise<void>;

  // Origins, always inside one load balancer.
  createOrigin(lbId: string, spec: OriginSpec): Promise<Origin>;
  getOrigin(lbId: string, id: string): Promise<Origin>;
  listOrigins(lbId: string, page: PageRequest): Promise<Page<Origin>>;
  replaceOrigin(lbId: string, id: string, spec: OriginSpec, ifRevision?: number): Promise<Origin>;
  deleteOrigin(lbId: string, id: string, ifRevision?: number): Promise<void>;

  // Edge nodes.
  createEdge(spec: EdgeSpec): Promise<Edge>;
  getEdge(id: string): Promise<Edge>;
  listEdges(page: PageRequest): Promise<Page<Edge>>;
  replaceEdge(id: string, spec: EdgeSpec, ifRevision?: number): Promise<Edge>;
  deleteEdge(id: string, ifRevision?: number): Promise<void>;

  // Operator overrides of one load balancer (model/override.ts), kept after cancellation or expiry (the
  // audit trail). `check` runs inside the write transaction, serialised with every other override write
  // of the load balancer, with its overrides in force then, and throws to refuse: two requests that are
  // each feasible alone cannot both be admitted. Creation and cancellation each add an `override`
  // record to the decision log, in the same transaction.
  createOverride(lbId: string, spec: OverrideSpec, by: string, check: (active: Override[]) => void): Promise<Override>;
  getOverride(lbId: string, id: string): Promise<Override>;
  /** Every override of the load balancer, oldest first, whatever its state. */
  listOverrides(lbId: string, page: PageRequest): Promise<Page<Override>>;
  /** Cancels an override in force (conflict when it is already cancelled or expired). */
  cancelOverride(lbId: string, id: string, by: string): Promise<Override>;

  // Views of what the scheduler and the health checks wrote.
  listDecisions(filter: DecisionFilter): Promise<Page<Decision>>;
  listLatency(filter: LatencyFilter): Promise<Page<LatencyEntry>>;
  /** Sets an origin's effective health directly (reason "set"; the demo, tests); health decisions go through recordHealthDecision. */
  setOriginHealth(originId: string, healthy: boolean, detail: string): Promise<OriginHealth>;
  /** Records vantages' views of origins (upsert per origin and vantage), in one transaction; not a change long-pollers see. */
  recordHealthObservations(obs: HealthObservation[]): Promise<void>;
  listHealthObservations(): Promise<HealthObservation[]>;
  /** Removes observations received before `before` (ISO time); returns how many. */
  pruneHealthObservations(before: string): Promise<number>;
  /**
   * Records a health decision (global when edge_id is null, else edge-local) with the votes behind it,
   * fenced by the health lease. A transition moves change_seq (views change at once) and adds a
   * `health` record to the decision log; a decision that changes nothing writes nothing.
   */
  recordHealthDecision(d: HealthDecisionInput, fence?: Fence): Promise<{ changed: boolean }>;

  /** The lease `name` as it stands (any replica may ask), or null when nobody ever held it. */
  getLease(name: string): Promise<LeaseState | null>;
  /** Load balancers, origins, health and weights as of one change sequence. */
  readWorld(): Promise<StoreSnapshot>;

  /**
   * Increases on every committed write that can change a long-polled view (load balancers, origins,
   * edges, published weights, origin health transitions), by this process or another on the same
   * store. Decisions, latency rows and leases do not move it.
   */
  changeSeq(): Promise<number>;
  close(): Promise<void>;
}
