// The control plane's source of truth, behind an interface: SQLite is the embedded default (one
// machine), PostgreSQL the store of several control-plane replicas. Both pass one contract suite
// (store.contract.ts). Every method that writes is one transaction; what resolves has been committed.
import type {
  Decision,
  Edge,
  EdgeInput,
  LatencyEntry,
  LoadBalancer,
  LoadBalancerSpec,
  LoadBalancerWeights,
  Origin,
  OriginHealth,
  OriginSpec,
} from '../../model/index.ts';
import type { z } from 'zod';
import type { EdgeInput as EdgeInputSchema } from '../../model/edge.ts';
import type { LeaseGrant, SchedulerStore } from '../../scheduler/loop/store.ts';

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
  weights: LoadBalancerWeights[];
}

/** One replica's opinion of one origin (the effective health is still OriginHealth). */
export interface HealthObservation {
  origin_id: string;
  /** The replica that probed (its replica id). */
  vantage: string;
  healthy: boolean;
  observed_at: string;
  detail: string;
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

  // Views of what the scheduler and the health checks wrote.
  listDecisions(filter: DecisionFilter): Promise<Page<Decision>>;
  listLatency(filter: LatencyFilter): Promise<Page<LatencyEntry>>;
  setOriginHealth(originId: string, healthy: boolean, detail: string): Promise<OriginHealth>;
  /** Records one vantage's view of an origin (upsert per origin and vantage); not a change long-pollers see. */
  recordHealthObservation(obs: HealthObservation): Promise<void>;
  listHealthObservations(): Promise<HealthObservation[]>;

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
