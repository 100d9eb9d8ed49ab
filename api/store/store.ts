// The control plane's source of truth, behind an interface: SQLite is the embedded default, and a
// PostgreSQL implementation can take its place for several control-plane replicas. Every method that
// writes is one transaction; what resolves has been committed.
import type {
  Decision,
  DecisionInput,
  Edge,
  EdgeInput,
  LatencyEntry,
  LoadBalancer,
  LoadBalancerSpec,
  LoadBalancerWeights,
  Origin,
  OriginHealth,
  OriginSpec,
  WeightsInput,
} from '../../model/index.ts';
import type { z } from 'zod';
import type { EdgeInput as EdgeInputSchema } from '../../model/edge.ts';

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

export interface Store {
  // Load balancers. `ifRevision`: the caller's If-Match; a different current revision -> precondition_failed.
  createLoadBalancer(spec: LoadBalancerSpec): Promise<LoadBalancer>;
  getLoadBalancer(id: string): Promise<LoadBalancer>;
  listLoadBalancers(page: PageRequest): Promise<Page<LoadBalancer>>;
  replaceLoadBalancer(id: string, spec: LoadBalancerSpec, ifRevision?: number): Promise<LoadBalancer>;
  deleteLoadBalancer(id: string, ifRevision?: number): Promise<void>;

  /** Every load balancer, in creation order (views need the whole set). */
  allLoadBalancers(): Promise<LoadBalancer[]>;

  // Origins, always inside one load balancer.
  createOrigin(lbId: string, spec: OriginSpec): Promise<Origin>;
  getOrigin(lbId: string, id: string): Promise<Origin>;
  listOrigins(lbId: string, page: PageRequest): Promise<Page<Origin>>;
  replaceOrigin(lbId: string, id: string, spec: OriginSpec, ifRevision?: number): Promise<Origin>;
  deleteOrigin(lbId: string, id: string, ifRevision?: number): Promise<void>;

  /** Every origin of one load balancer, or of all when lbId is omitted. */
  allOrigins(lbId?: string): Promise<Origin[]>;

  // Edge nodes.
  createEdge(spec: EdgeSpec): Promise<Edge>;
  getEdge(id: string): Promise<Edge>;
  listEdges(page: PageRequest): Promise<Page<Edge>>;
  replaceEdge(id: string, spec: EdgeSpec, ifRevision?: number): Promise<Edge>;
  deleteEdge(id: string, ifRevision?: number): Promise<void>;

  allEdges(): Promise<Edge[]>;

  // Scheduler's write side.
  /** Publishes a new weights version for one load balancer together with its decision record, atomically. */
  publishWeights(lbId: string, weights: WeightsInput, decision: DecisionInput): Promise<{ version: number; decision: Decision }>;
  /** Records a cycle that changed nothing (hold) or only explained itself. */
  recordDecision(decision: DecisionInput): Promise<Decision>;
  getWeights(lbId: string): Promise<LoadBalancerWeights | null>;
  listDecisions(filter: DecisionFilter): Promise<Page<Decision>>;
  /** Removes decision records created before `before` (ISO time); returns how many. */
  pruneDecisions(before: string): Promise<number>;
  /** Upserts learned latency rows keyed by (subnet, origin_id). */
  upsertLatency(entries: LatencyEntry[]): Promise<void>;
  /** Removes latency rows not updated since `before` (ISO time); returns how many. */
  expireLatency(before: string): Promise<number>;
  listLatency(filter: LatencyFilter): Promise<Page<LatencyEntry>>;
  setOriginHealth(originId: string, healthy: boolean, detail: string): Promise<OriginHealth>;
  listOriginHealth(): Promise<OriginHealth[]>;

  /** Scheduler lease: true when `holder` holds it (acquired or renewed) until now + ttlMs. */
  acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, holder: string): Promise<void>;

  /** Increases on every committed write, by this process or another on the same store. */
  changeSeq(): Promise<number>;
  /** Calls `listener` soon after any committed change; returns an unsubscribe function. */
  onChange(listener: () => void): () => void;
  close(): Promise<void>;
}
