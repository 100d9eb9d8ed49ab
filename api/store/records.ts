// What both stores (SQLite, PostgreSQL) check and how they shape rows, written once so the two cannot
// drift: weights validation, decision records, latency rows, lease rows. Pure; no database here.
import {
  Decision as DecisionSchema,
  DecisionInput as DecisionInputSchema,
  WeightsInput as WeightsInputSchema,
  type Decision,
  type DecisionInput,
  type EdgeOriginHealth,
  type HealthVote,
  type LatencyEntry,
  type OriginHealth,
  type WeightsInput,
} from '../../model/index.ts';
import { parseCidr } from '../../model/primitives.ts';
import type { Fence } from '../../scheduler/loop/store.ts';
import { StoreError, type HealthDecisionInput, type HealthObservation } from './store.ts';

type ParsedWeights = { edges: Record<string, Record<string, number>>; subnets: Record<string, Record<string, number>> };

/** Weights as the schema allows them (shares 0..1, CIDR subnets), or `invalid` naming the first bad field. */
export function checkWeights(weights: WeightsInput): ParsedWeights {
  // The common case (the scheduler's own weights, 100k+ subnets at scale) checked by hand: zod's record
  // parse copied every map and was ~0.3 s of the writer's thread per publish at 1M subnets, inside the
  // write transaction. Anything the hand check doubts goes to the schema, which names the bad field.
  if (plainlyValid(weights)) return { edges: weights.edges ?? {}, subnets: weights.subnets ?? {} };
  const checked = WeightsInputSchema.safeParse(weights);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    throw new StoreError('invalid', `weights rejected: ${issue.path.join('.')}: ${issue.message}`, issue.path.join('.'));
  }
  return checked.data;
}

const isPlain = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);

/** Never more permissive than WeightsInput: true only for weights the schema accepts as they are. */
function plainlyValid(w: WeightsInput): w is ParsedWeights {
  if (!isPlain(w) || Object.keys(w).some((k) => k !== 'edges' && k !== 'subnets')) return false;
  const mapsOk = (table: unknown, key: (k: string) => boolean): boolean => {
    if (table === undefined) return true;
    if (!isPlain(table)) return false;
    for (const source of Object.keys(table)) {
      const shares = table[source];
      if (!key(source) || !isPlain(shares)) return false;
      for (const origin of Object.keys(shares)) {
        const v = shares[origin];
        if (typeof v !== 'number' || !(v >= 0 && v <= 1)) return false;
      }
    }
    return true;
  };
  return mapsOk(w.edges, () => true) && mapsOk(w.subnets, (k) => parseCidr(k) !== null);
}

/** A share for an origin that does not exist would be published to DNS and edges: refuse it. */
export function assertKnownOrigins(lbId: string, known: ReadonlySet<string>, weights: ParsedWeights): void {
  for (const [kind, table] of [['edges', weights.edges], ['subnets', weights.subnets]] as const) {
    for (const [source, shares] of Object.entries(table)) {
      for (const originId of Object.keys(shares)) {
        if (!known.has(originId)) throw new StoreError('invalid', `${kind}.${source} names origin ${originId}, which is not in load balancer ${lbId}`, `${kind}.${source}`);
      }
    }
  }
}

export function checkLatency(entries: LatencyEntry[]): void {
  for (const e of entries) {
    if (!Number.isFinite(e.rtt_ms) || e.rtt_ms < 0) throw new StoreError('invalid', `rtt_ms for ${e.subnet} -> ${e.origin_id} is not a finite non-negative number`, 'rtt_ms');
  }
}

/** A decision as stored: indexed columns plus a JSON body of the rest. */
export interface DecisionRow {
  load_balancer_id: string;
  weights_version: number | null;
  leader_epoch: number | null;
  created_at: string;
  reason: Decision['reason'];
  body: string;
}

/** A row about to be written, with the decision it records (checked once, when the row was made). */
export type PreparedDecisionRow = DecisionRow & { readonly recorded: Omit<Decision, 'id'> };

export function decisionRow(input: DecisionInput, weightsVersion: number | null, fence: Fence | undefined, now: string): PreparedDecisionRow {
  const d = DecisionInputSchema.parse(input);
  const body = { detail: d.detail, objective: d.objective, inputs: d.inputs, predicted_load_rps: d.predicted_load_rps, overload_rps: d.overload_rps, diff: d.diff };
  const head = { load_balancer_id: d.load_balancer_id, weights_version: weightsVersion, leader_epoch: fence?.epoch ?? null, created_at: now, reason: d.reason };
  return { ...head, body: JSON.stringify(body), recorded: { ...head, ...body } };
}

/**
 * The decision just inserted, from what was checked when its row was made: parsing its JSON body back
 * and validating it again cost ~0.3 s inside the write transaction for a 1M-subnet decision's diff.
 */
export function insertedDecision(id: number, row: PreparedDecisionRow): Decision {
  return { id, ...row.recorded };
}

export function decisionFromRow(id: number, row: DecisionRow, validate = false): Decision {
  const d = {
    id,
    load_balancer_id: row.load_balancer_id,
    weights_version: row.weights_version === null ? null : Number(row.weights_version),
    leader_epoch: row.leader_epoch === null ? null : Number(row.leader_epoch),
    created_at: row.created_at,
    reason: row.reason,
    ...(JSON.parse(row.body) as object),
  } as Decision;
  return validate ? DecisionSchema.parse(d) : d;
}

/** A health observation is checked the same way by both stores before it is written. */
export function checkObservation(o: HealthObservation): void {
  if (o.latency_ms !== null && !(Number.isFinite(o.latency_ms) && o.latency_ms >= 0)) throw new StoreError('invalid', `latency_ms of ${o.vantage} for ${o.origin_id} is not a finite non-negative number`, 'latency_ms');
  if ((o.kind === 'edge') !== (o.edge_id !== null)) throw new StoreError('invalid', `an observation has an edge_id exactly when it comes from an edge (${o.vantage})`, 'edge_id');
}

/** origin_health row -> OriginHealth (votes are stored as JSON text). */
export function originHealthFromRow(r: { origin_id: string; healthy: boolean | number; since: string; detail: string; reason: string; votes: string }): OriginHealth {
  return { origin_id: r.origin_id, healthy: Boolean(r.healthy), since: r.since, detail: r.detail, reason: r.reason, votes: JSON.parse(r.votes) as HealthVote[] };
}

export function edgeHealthFromRow(r: { origin_id: string; edge_id: string; healthy: boolean | number; since: string; reason: string; detail: string }): EdgeOriginHealth {
  return { edge_id: r.edge_id, origin_id: r.origin_id, reachable: Boolean(r.healthy), since: r.since, reason: r.reason, detail: r.detail };
}

/**
 * The decision-log record of a health transition: reason `health`, in the origin's load balancer's log,
 * naming the scope and the votes. Its `leader_epoch` stays null (that column is the scheduler lease's);
 * the health lease epoch it was written under is in inputs.health.lease_epoch.
 */
export function healthDecisionRecord(d: HealthDecisionInput, leaseEpoch: number | null): DecisionInput {
  const what = d.edge_id === null ? `origin ${d.origin_id} ${d.healthy ? 'healthy' : 'unhealthy'}` : `origin ${d.origin_id} ${d.healthy ? 'reachable again' : 'unreachable'} from edge ${d.edge_id}`;
  return {
    load_balancer_id: d.load_balancer_id,
    reason: 'health',
    detail: `${what} (${d.reason}): ${d.detail}`,
    inputs: { health: { scope: d.edge_id === null ? 'global' : 'edge', origin_id: d.origin_id, edge_id: d.edge_id, healthy: d.healthy, reason: d.reason, votes: d.votes, lease_epoch: leaseEpoch } },
  };
}
