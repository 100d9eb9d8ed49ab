// What the scheduler loop needs from the source of truth, and nothing more (controller-runtime's
// Reader/Writer split): the api's `Store` extends this interface, so the dependency runs api →
// scheduler only and a loop can run on any store that offers these thirteen methods.
import type {
  Decision,
  DecisionInput,
  Edge,
  LatencyEntry,
  LoadBalancer,
  LoadBalancerWeights,
  Origin,
  OriginHealth,
  WeightsInput,
} from '../../model/index.ts';

export interface SchedulerStore {
  /** Scheduler lease: true when `holder` holds it (acquired or renewed) until now + ttlMs. */
  acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, holder: string): Promise<void>;

  /** Every load balancer, in creation order. */
  allLoadBalancers(): Promise<LoadBalancer[]>;
  /** Every origin of one load balancer, or of all when lbId is omitted. */
  allOrigins(lbId?: string): Promise<Origin[]>;
  allEdges(): Promise<Edge[]>;
  listOriginHealth(): Promise<OriginHealth[]>;

  getWeights(lbId: string): Promise<LoadBalancerWeights | null>;
  /** Publishes a new weights version for one load balancer together with its decision record, atomically. */
  publishWeights(lbId: string, weights: WeightsInput, decision: DecisionInput): Promise<{ version: number; decision: Decision }>;
  /** Records a cycle that changed nothing (hold) or only explained itself. */
  recordDecision(decision: DecisionInput): Promise<Decision>;
  /** Removes decision records created before `before` (ISO time); returns how many. */
  pruneDecisions(before: string): Promise<number>;

  /** Upserts learned latency rows keyed by (subnet, origin_id). */
  upsertLatency(entries: LatencyEntry[]): Promise<void>;
  /** Removes latency rows not updated since `before` (ISO time); returns how many. */
  expireLatency(before: string): Promise<number>;

  /**
   * Calls `listener` soon after a committed change that can alter a long-polled view (resources,
   * weights, origin health), not after decisions, latency or leases; returns an unsubscribe function.
   */
  onChange(listener: () => void): () => void;
}
