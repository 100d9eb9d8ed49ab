// What every data-plane adapter (HAProxy, nginx, IPVS) offers the sync loop. plan() reads the actual
// state and computes the changes without touching anything (that is all --dry-run runs); apply()
// carries a plan out; readStats() returns the data plane's own cumulative counters.
import type { EdgeConfig } from '../model/views.ts';
import type { OriginReading } from './health/reading.ts';
import type { DesiredPool } from './plan/desired.ts';
import type { Change } from './plan/diff.ts';

export interface Plan {
  dataplane: string;
  /** The desired pools the plan was computed from (also used to label statistics). */
  pools: DesiredPool[];
  changes: Change[];
  /** What would be executed: runtime commands, ipvsadm lines, or a unified-style config diff. */
  preview: string[];
  /** Files that would be rewritten (haproxy.cfg, nginx upstream file, ipvsadm restore file). */
  files: { path: string; before: string; after: string }[];
  /** Listeners left as they are this round, with the reason. */
  held: { pool: string; reason: string }[];
  /** Problems that make (part of) the plan impossible; apply() refuses those parts and reports them. */
  problems: string[];
  /** Adapter-private data carried from plan to apply. */
  detail?: unknown;
}

export interface ApplyOutcome {
  /** Changes actually made (a partial failure still reports what succeeded). */
  applied: string[];
}

export interface DemandStats {
  /** Cumulative requests (HTTP) or connections (TCP) per listener. */
  listeners: { loadBalancer: string; listener: string; value: number }[];
  /**
   * Cumulative requests/connections sent to each origin, one row per data-plane server (`key`), so a
   * counter that restarts on one server is not mistaken for a restart of the origin's sum.
   */
  origins: { loadBalancer: string; origin: string; key: string; value: number }[];
  /** Data-plane-wide cumulative total when that is all the data plane offers (nginx stub_status). */
  total?: number;
}

export interface DataPlane {
  readonly type: 'haproxy' | 'nginx' | 'ipvs';
  readonly name: string;
  /** `previous`: the last EdgeConfig applied (listeners that disappeared from it may be removed). */
  plan(config: EdgeConfig, previous?: EdgeConfig | null): Promise<Plan>;
  /** Throws ApplyError when anything failed; the loop retries with backoff. */
  apply(plan: Plan): Promise<ApplyOutcome>;
  readStats(pools: readonly DesiredPool[]): Promise<DemandStats>;
  /**
   * The data plane's own view of the origins' health (HAProxy's checks), for origins it checks; absent
   * where the data plane keeps none (nginx OSS, IPVS): edge-sync then checks those origins itself.
   */
  readHealth?(pools: readonly DesiredPool[]): Promise<OriginReading[]>;
}

/** True when applying the plan would change nothing at all (the idempotency check). */
export function isNoop(plan: Plan): boolean {
  return plan.changes.length === 0 && plan.files.length === 0;
}

export class ApplyError extends Error {
  constructor(
    message: string,
    readonly applied: string[] = [],
  ) {
    super(message);
    this.name = 'ApplyError';
  }
}
