// What both stores (SQLite, PostgreSQL) check and how they shape rows, written once so the two cannot
// drift: weights validation, decision records, latency rows, lease rows. Pure; no database here.
import {
  Decision as DecisionSchema,
  DecisionInput as DecisionInputSchema,
  WeightsInput as WeightsInputSchema,
  type Decision,
  type DecisionInput,
  type LatencyEntry,
  type WeightsInput,
} from '../../model/index.ts';
import type { Fence } from '../../scheduler/loop/store.ts';
import { StoreError } from './store.ts';

type ParsedWeights = { edges: Record<string, Record<string, number>>; subnets: Record<string, Record<string, number>> };

/** Weights as the schema allows them (shares 0..1, CIDR subnets), or `invalid` naming the first bad field. */
export function checkWeights(weights: WeightsInput): ParsedWeights {
  const checked = WeightsInputSchema.safeParse(weights);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    throw new StoreError('invalid', `weights rejected: ${issue.path.join('.')}: ${issue.message}`, issue.path.join('.'));
  }
  return checked.data;
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

export function decisionRow(input: DecisionInput, weightsVersion: number | null, fence: Fence | undefined, now: string): DecisionRow {
  const d = DecisionInputSchema.parse(input);
  const body = { detail: d.detail, objective: d.objective, inputs: d.inputs, predicted_load_rps: d.predicted_load_rps, overload_rps: d.overload_rps, diff: d.diff };
  return { load_balancer_id: d.load_balancer_id, weights_version: weightsVersion, leader_epoch: fence?.epoch ?? null, created_at: now, reason: d.reason, body: JSON.stringify(body) };
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
