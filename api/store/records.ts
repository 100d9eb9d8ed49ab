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
import { STEP_ITEMS, type Steps } from '../../lib/steps.ts';
import { arrayJsonSteps, keysOnce, objectJsonWhileSteps, textSink } from '../../lib/json-steps.ts';
import { own, sameWeights, type SubnetsChange } from '../../model/view-codec.ts';
import type { Fence, StoredPrices } from '../../scheduler/loop/store.ts';
import { StoreError, type HealthDecisionInput, type HealthObservation } from './store.ts';

type ParsedWeights = { edges: Record<string, Record<string, number>>; subnets: Record<string, Record<string, number>> };

/** Weights as the schema allows them (shares 0..1, CIDR subnets), or `invalid` naming the first bad field. */
/**
 * The WeightsInput schema's verdict, naming the bad field. Publishes reach it only when the hand check
 * in prepareWeightsSteps' one pass doubts (zod's record parse copies every map: ~0.3 s of the writer's
 * thread per publish at 1M subnets), so the schema, not the hand check, has the last word.
 */
export function checkWeights(weights: WeightsInput): ParsedWeights {
  const checked = WeightsInputSchema.safeParse(weights);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    throw new StoreError('invalid', `weights rejected: ${issue.path.join('.')}: ${issue.message}`, issue.path.join('.'));
  }
  return checked.data;
}

export const isPlain = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);

/** Weights checked and serialised for a publish, before its write transaction. */
export interface PreparedWeights {
  parsed: ParsedWeights;
  /** JSON.stringify(parsed), built in pieces; null when not asked for (a change row will do: weightsBodySteps if not). */
  body: string | null;
  /**
   * Every origin id a share names: checked against the load balancer's inside the write
   * (assertKnownOrigins). A superset when `namedExact` is false: entries handed over as the very
   * objects of the previous publish were not walked, and its names stand in for theirs.
   */
  named: Set<string>;
  namedExact: boolean;
  /** The subnet keys that differ from `since` (prepareWeightsSteps'), or null without one. */
  changed: SubnetsChange | null;
}

/**
 * checkWeights, the serialised body (unless `serialise` is false: a change row needs only the changed
 * keys, weights-chain.ts), the origin ids named and (with `since`, the subnet table this process
 * published before) the subnet keys added, removed or re-weighted since, in steps. With `sinceNamed`
 * (the origin ids `since` named), entries that are the very map objects of `since` are not walked. One pass
 * over each table does all of it per entry (at 1M subnets the separate walks were 0.15-0.6 s each of
 * the publishing thread, the scheduler's, which also serves the API). The hand check is never more
 * permissive than the schema: when it doubts, the schema decides (and names the bad field), and the
 * pass runs again, unchecked, over the schema's copy.
 */
export function* prepareWeightsSteps(weights: WeightsInput, since?: Record<string, Record<string, number>>, serialise = true, sinceNamed?: ReadonlySet<string>): Steps<PreparedWeights> {
  return (yield* onePassSteps(weights, since, true, serialise, sinceNamed)) ?? (yield* onePassSteps(checkWeights(weights), since, false, serialise, sinceNamed))!;
}

/** Exactly the origin ids `parsed` names (when a superset named one the load balancer no longer has). */
export function* namedSteps(parsed: ParsedWeights): Steps<Set<string>> {
  const named = new Set<string>();
  for (const table of [parsed.edges, parsed.subnets]) {
    const keys = keysOnce(table);
    for (let i = 0; i < keys.length; i++) {
      for (const origin in table[keys[i]!]) named.add(origin);
      if (i % STEP_ITEMS === STEP_ITEMS - 1) yield;
    }
  }
  return named;
}

/** The body of weights prepared without it (a change row was refused: a base is written). */
export function* weightsBodySteps(parsed: ParsedWeights): Steps<string> {
  const body = textSink();
  body.add('{"edges":');
  yield* objectJsonWhileSteps(parsed.edges, body.add, undefined, keysOnce(parsed.edges));
  body.add(',"subnets":');
  yield* objectJsonWhileSteps(parsed.subnets, body.add, undefined, keysOnce(parsed.subnets));
  body.add('}');
  return body.text();
}

/** The subnet keys compared with the previous publish so far. */
interface Comparison {
  since: Record<string, Record<string, number>>;
  changed: string[];
  /** Keys of `since` seen again (all of them: nothing removed). */
  kept: number;
  /** The origin ids `since` named (with it, entries that are the very objects of `since` are not walked). */
  sinceNamed: ReadonlySet<string> | undefined;
  /** Entries not walked for that reason. */
  reused: number;
}

/** prepareWeightsSteps over `w`, checking it by hand when `check` (null as soon as a check fails). */
function* onePassSteps(w: WeightsInput, since: Record<string, Record<string, number>> | undefined, check: boolean, serialise: boolean, sinceNamed: ReadonlySet<string> | undefined): Steps<PreparedWeights | null> {
  if (check && (!isPlain(w) || Object.keys(w).some((k) => k !== 'edges' && k !== 'subnets'))) return null;
  // Absent is empty; anything else (null too) must pass the table's check, as the schema requires.
  const { edges, subnets } = w as Partial<ParsedWeights>;
  const parsed = { edges: edges === undefined ? {} : edges, subnets: subnets === undefined ? {} : subnets };
  const named = new Set<string>();
  const body = serialise ? textSink() : null;
  const add = body ? body.add : null;
  const cmp: Comparison | null = since ? { since, changed: [], kept: 0, sinceNamed, reused: 0 } : null;
  // CIDRs already in the last publish passed this check then: not parsed again (~2 s of 1M).
  const cidrOk = since ? (k: string) => Object.hasOwn(since, k) || parseCidr(k) !== null : (k: string) => parseCidr(k) !== null;
  add?.('{"edges":');
  if (!(yield* tablePassSteps(parsed.edges, add, check ? () => true : null, named, null))) return null;
  add?.(',"subnets":');
  if (!(yield* tablePassSteps(parsed.subnets, add, check ? cidrOk : null, named, cmp))) return null;
  add?.('}');
  if (cmp) {
    const before = keysOnce(cmp.since);
    // Every key of `since` still present was counted: a walk for removals only when some are gone.
    if (cmp.kept < before.length) {
      for (let i = 0; i < before.length; i++) {
        if (!Object.hasOwn(parsed.subnets, before[i]!)) cmp.changed.push(before[i]!);
        if (i % STEP_ITEMS === STEP_ITEMS - 1) yield;
      }
    }
  }
  if (cmp?.reused) for (const id of cmp.sinceNamed!) named.add(id);
  return { parsed, body: body ? body.text() : null, named, namedExact: !cmp?.reused, changed: cmp ? { from: cmp.since, keys: cmp.changed } : null };
}

/**
 * One weight map's origins named into `named`, its shares checked (`check`: each a number in [0, 1]);
 * its entry count, or -1 at the first share that is not one. for..in, not Object.keys: no array per map
 * (1M of them); the caller's isPlain leaves no inherited keys to see.
 */
export function sharesPass(shares: Record<string, number>, named: Set<string>, check: boolean): number {
  let n = 0;
  for (const origin in shares) {
    const v = shares[origin];
    if (check && (typeof v !== 'number' || !(v >= 0 && v <= 1))) return -1;
    named.add(origin);
    n++;
  }
  return n;
}

/**
 * One table (edges or subnets) in one pass, per entry: its key and shares checked (`keyOk`; null: not
 * checked), its origins named, compared with the previous publish (`cmp`), its JSON written (exactly
 * JSON.stringify(table)'s, STEP_ITEMS entries per piece). false when a check fails.
 */
export function* tablePassSteps(table: Record<string, Record<string, number>>, sink: ((piece: string) => void) | null, keyOk: ((k: string) => boolean) | null, named: Set<string>, cmp: Comparison | null): Steps<boolean> {
  if (keyOk && !isPlain(table)) return false;
  const entry = (key: string, shares: Record<string, number>): boolean => {
    // The previous publish's entry, looked up once (a 1M-key table: each lookup a cache miss): a key
    // it had passed this check then, so only new keys are checked again.
    const was = cmp ? own(cmp.since, key) : undefined;
    // The very map the previous publish had (the scheduler hands over the maps it did not change):
    // checked then, never changed since (publishWeights' callers must not), its origins named then.
    if (was !== undefined && was === shares && cmp!.sinceNamed) {
      cmp!.kept++;
      cmp!.reused++;
      return true;
    }
    if (keyOk && ((was === undefined && !keyOk(key)) || !isPlain(shares))) return false;
    const n = sharesPass(shares, named, keyOk !== null);
    if (n < 0) return false;
    if (cmp) {
      if (was === undefined) cmp.changed.push(key);
      else {
        cmp.kept++;
        if (!sameWeights(was, shares, n)) cmp.changed.push(key);
      }
    }
    return true;
  };
  // keysOnce: the key list stays cached with the table, so the next publish's removals walk needs no Object.keys of it.
  const keys = keysOnce(table);
  if (sink) return yield* objectJsonWhileSteps(table, sink, entry, keys);
  // No body: the same walk without writing JSON (a change row serialises the changed keys only).
  for (let i = 0; i < keys.length; i++) {
    if (!entry(keys[i]!, table[keys[i]!]!)) return false;
    if (i % STEP_ITEMS === STEP_ITEMS - 1) yield;
  }
  return true;
}

/**
 * A share for an origin that does not exist would be published to DNS and edges: refuse it. Run inside
 * the write transaction (the origins as of the write), so it checks the few ids `named` first and walks
 * the weights only to name the bad field.
 */
export function assertKnownOrigins(lbId: string, known: ReadonlySet<string>, weights: ParsedWeights, named?: ReadonlySet<string>): void {
  if (named && [...named].every((id) => known.has(id))) return;
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

/**
 * A decision as stored: indexed columns plus a JSON body of the rest. The capacity prices are columns
 * of their own, not in the body: a new leader reads the latest priced decision's prices (an index
 * where priced_demand_rps is set) without parsing a body that is megabytes at 1M subnets.
 */
export interface DecisionRow {
  load_balancer_id: string;
  weights_version: number | null;
  leader_epoch: number | null;
  created_at: string;
  reason: Decision['reason'];
  body: string;
  /** JSON of origin id -> price; null when the decision has none ({}). */
  capacity_prices: string | null;
  priced_demand_rps: number | null;
}

/** The SELECT list that reads a DecisionRow and its id, in both stores. */
export const DECISION_COLUMNS = 'id, load_balancer_id, weights_version, leader_epoch, created_at, reason, body, capacity_prices, priced_demand_rps';

/** The INSERT of a DecisionRow, in both stores: `VALUES (<placeholders>)` with decisionValues(row), in this order. */
export const DECISION_INSERT = 'INSERT INTO decisions (load_balancer_id, weights_version, leader_epoch, created_at, reason, body, capacity_prices, priced_demand_rps)';

/** A row's values for DECISION_INSERT (the weights version given when the publish took it). */
export function decisionValues(row: DecisionRow, weightsVersion = row.weights_version): unknown[] {
  return [row.load_balancer_id, weightsVersion, row.leader_epoch, row.created_at, row.reason, row.body, row.capacity_prices, row.priced_demand_rps];
}

/** The priced columns of a checked decision. */
function pricedColumns(d: { capacity_prices: Record<string, number>; priced_demand_rps: number | null }): Pick<DecisionRow, 'capacity_prices' | 'priced_demand_rps'> {
  return d.priced_demand_rps === null ? { capacity_prices: null, priced_demand_rps: null } : { capacity_prices: JSON.stringify(d.capacity_prices), priced_demand_rps: d.priced_demand_rps };
}

/** A row about to be written, with the decision it records (checked once, when the row was made). */
export type PreparedDecisionRow = DecisionRow & { readonly recorded: Omit<Decision, 'id'> };

export function decisionRow(input: DecisionInput, weightsVersion: number | null, fence: Fence | undefined, now: string): PreparedDecisionRow {
  const d = DecisionInputSchema.parse(input);
  const body = { detail: d.detail, objective: d.objective, inputs: d.inputs, predicted_load_rps: d.predicted_load_rps, overload_rps: d.overload_rps, diff: d.diff };
  const head = { load_balancer_id: d.load_balancer_id, weights_version: weightsVersion, leader_epoch: fence?.epoch ?? null, created_at: now, reason: d.reason };
  const priced = { capacity_prices: d.capacity_prices, priced_demand_rps: d.priced_demand_rps };
  return { ...head, body: JSON.stringify(body), ...pricedColumns(priced), recorded: { ...head, ...body, ...priced } };
}

/** Never more permissive than WeightChange: exactly its four fields, finite numbers. */
function plainChange(c: unknown): boolean {
  if (!isPlain(c)) return false;
  let keys = 0;
  for (const _ in c) keys++;
  return keys === 4 && typeof c.source === 'string' && typeof c.origin_id === 'string' && Number.isFinite(c.from) && Number.isFinite(c.to);
}

/**
 * decisionRow in steps: at 1M subnets a decision's diff is up to ~130k changes, and the schema's parse
 * (a copy of every change) and one JSON.stringify of them were ~0.3 s of the writer's thread in one
 * piece. The diff is checked by hand and serialised in slices; anything the hand check doubts goes to
 * the schema, which names the bad field. The body is the same text decisionRow writes.
 */
export function* decisionRowSteps(input: DecisionInput, weightsVersion: number | null, fence: Fence | undefined, now: string): Steps<PreparedDecisionRow> {
  const diff = input.diff ?? [];
  if (!Array.isArray(diff)) return decisionRow(input, weightsVersion, fence, now);
  for (let i = 0; i < diff.length; i++) {
    if (!plainChange(diff[i])) return decisionRow(input, weightsVersion, fence, now);
    if (i % STEP_ITEMS === STEP_ITEMS - 1) yield;
  }
  const d = DecisionInputSchema.parse({ ...input, diff: [] });
  const rest = { detail: d.detail, objective: d.objective, inputs: d.inputs, predicted_load_rps: d.predicted_load_rps, overload_rps: d.overload_rps };
  const text = textSink();
  text.add(`${JSON.stringify(rest).slice(0, -1)},"diff":`);
  yield* arrayJsonSteps(diff, text.add);
  text.add('}');
  const body = text.text();
  const head = { load_balancer_id: d.load_balancer_id, weights_version: weightsVersion, leader_epoch: fence?.epoch ?? null, created_at: now, reason: d.reason };
  const priced = { capacity_prices: d.capacity_prices, priced_demand_rps: d.priced_demand_rps };
  return { ...head, body, ...pricedColumns(priced), recorded: { ...head, ...rest, diff, ...priced } };
}

/** A publish's weights and decision row, checked and serialised in steps before its write transaction. */
export function* preparePublishSteps(lbId: string, weights: WeightsInput, decision: DecisionInput, fence: Fence | undefined, since?: Record<string, Record<string, number>>, sinceNamed?: ReadonlySet<string>, hinted?: PreparedWeights): Steps<{ weights: PreparedWeights; decision: PreparedDecisionRow }> {
  // With `since` (this process's last publish) a change row is tried first: no body unless refused.
  // `hinted`: the weights already prepared from the caller's change hint (hinted-weights.ts).
  const ready = hinted ?? (yield* prepareWeightsSteps(weights, since, since === undefined, sinceNamed));
  const row = yield* decisionRowSteps({ ...decision, load_balancer_id: lbId }, null, fence, new Date().toISOString());
  return { weights: ready, decision: row };
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
    capacity_prices: row.capacity_prices === null ? {} : (JSON.parse(row.capacity_prices) as Record<string, number>),
    priced_demand_rps: row.priced_demand_rps === null ? null : Number(row.priced_demand_rps),
  } as Decision;
  return validate ? DecisionSchema.parse(d) : d;
}

/** The SQL both stores read a load balancer's latest priced decision with (decisions_priced_by_lb). */
export const LATEST_PRICES_SQL = (param: string) =>
  `SELECT id, created_at, capacity_prices, priced_demand_rps FROM decisions WHERE load_balancer_id = ${param} AND priced_demand_rps IS NOT NULL ORDER BY id DESC LIMIT 1`;

/** A row LATEST_PRICES_SQL read, as the scheduler takes it. */
export function storedPricesFromRow(row: { id: number | string; created_at: string; capacity_prices: string | null; priced_demand_rps: number | string }): StoredPrices {
  return { decision_id: Number(row.id), created_at: row.created_at, prices: row.capacity_prices === null ? {} : (JSON.parse(row.capacity_prices) as Record<string, number>), demand_rps: Number(row.priced_demand_rps) };
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
