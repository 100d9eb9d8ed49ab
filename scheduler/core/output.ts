// A decision in flat form, and its conversion to the SchedulingDecision records callers read.
//
// Why a flat form: at 100k sources the weights, plan and diff are ~350k small objects. The decision core
// produces them as typed arrays (cheap to build, transferable to another thread without copying), and
// the records are built once, by whoever needs them: decide() at once, the worker client on the
// caller's side (solver/client.ts) — never twice, never in the worker only to be flattened again.
import { runToEnd, STEP_ITEMS, type Steps } from '../../lib/steps.ts';
import type { WeightChange } from '../../model/views.ts';
import type { RowColumns } from './damping.ts';
import type { SchedulingDecision, Weights } from './types.ts';

/** Non-zero shares per source (CSR): row i is entries start[i] .. start[i+1] − 1. */
export interface SparseShares {
  /** Sources with a row (0 when the decision has no weights, e.g. no usable origin). */
  rows: number;
  start: Int32Array;
  /** Declared origin index. */
  origin: Int32Array;
  share: Float64Array;
}

export interface FlatDiff {
  source: Int32Array;
  /** Declared origin index (≥ 0), or −(1 + e) for `extraIds[e]` (an origin only `current` names). */
  origin: Int32Array;
  from: Float64Array;
  to: Float64Array;
  extraIds: string[];
}

export interface DenseDecision {
  rest: Omit<SchedulingDecision, 'weights' | 'plan' | 'diff' | 'connections'>;
  originIds: string[];
  sourceIds: string[];
  weights: SparseShares;
  plan: SparseShares;
  diff: FlatDiff;
  /** Connection state at the end of the next cycle (only when the problem had some). */
  connections?: { effective: SparseShares } | undefined;
}

/** Rows of a dense sources × origins matrix, keeping the entries > 0 (in origin order). */
export function sparseRows(dense: Float64Array, rows: number, K: number, support?: RowColumns): SparseShares {
  // One pass over the dense rows (at 1M subnets 206 MB each, read up to four times a decision), into
  // arrays sized for a few shares a row and doubled when a decision has more; trimmed at the end. With
  // `support` (damping.ts: the only columns a row can have anything on, ascending) only those are read.
  let capacity = Math.max(16, rows * 2);
  const start = new Int32Array(rows + 1);
  let origin = new Int32Array(capacity);
  let share = new Float64Array(capacity);
  let e = 0;
  const every = support === undefined;
  for (let i = 0; i < rows; i++) {
    start[i] = e;
    const first = every ? 0 : support.start[i]!;
    const end = every ? K : support.start[i + 1]!;
    for (let k = first; k < end; k++) {
      const j = every ? k : support.col[k]!;
      const v = dense[i * K + j]!;
      if (v > 0) {
        if (e === capacity) {
          capacity *= 2;
          const o = new Int32Array(capacity);
          o.set(origin);
          origin = o;
          const sh = new Float64Array(capacity);
          sh.set(share);
          share = sh;
        }
        origin[e] = j;
        share[e++] = v;
      }
    }
  }
  start[rows] = e;
  return { rows, start, origin: origin.slice(0, e), share: share.slice(0, e) };
}

export function emptyShares(): SparseShares {
  return { rows: 0, start: new Int32Array(1), origin: new Int32Array(0), share: new Float64Array(0) };
}

export function emptyDiff(): FlatDiff {
  return { source: new Int32Array(0), origin: new Int32Array(0), from: new Float64Array(0), to: new Float64Array(0), extraIds: [] };
}

export function toDecision(d: DenseDecision): SchedulingDecision {
  return runToEnd(toDecisionSteps(d));
}

/** toDecision in steps (lib/steps.ts): the worker's client builds the records on the caller's thread. */
export function* toDecisionSteps(d: DenseDecision): Steps<SchedulingDecision> {
  const { rest } = d;
  const weights = yield* toWeights(d.weights, d.sourceIds, d.originIds);
  const plan = yield* toWeights(d.plan, d.sourceIds, d.originIds);
  const diff = yield* toChanges(d.diff, d.sourceIds, d.originIds);
  const effective = d.connections ? yield* toWeights(d.connections.effective, d.sourceIds, d.originIds) : undefined;
  // The key order of the original object literal, so JSON output reads the same.
  return {
    status: rest.status,
    reason: rest.reason,
    weights,
    plan,
    objective: rest.objective,
    plan_objective: rest.plan_objective,
    origin_load_rps: rest.origin_load_rps,
    overload_rps: rest.overload_rps,
    plan_overload_rps: rest.plan_overload_rps,
    origins: rest.origins,
    notes: rest.notes,
    diff,
    step: rest.step,
    solver: rest.solver,
    ...(effective ? { connections: { effective } } : {}),
    ...(rest.overrides ? { overrides: rest.overrides } : {}),
  };
}

function* toWeights(s: SparseShares, sourceIds: string[], originIds: string[]): Steps<Weights> {
  const out: Weights = {};
  for (let i = 0; i < s.rows; i++) {
    if ((i + 1) % STEP_ITEMS === 0) yield;
    const rec: Record<string, number> = {};
    for (let e = s.start[i]!; e < s.start[i + 1]!; e++) rec[originIds[s.origin[e]!]!] = s.share[e]!;
    out[sourceIds[i]!] = rec;
  }
  return out;
}

function* toChanges(diff: FlatDiff, sourceIds: string[], originIds: string[]): Steps<WeightChange[]> {
  const out = new Array<WeightChange>(diff.source.length);
  for (let k = 0; k < out.length; k++) {
    if ((k + 1) % STEP_ITEMS === 0) yield;
    const o = diff.origin[k]!;
    out[k] = { source: sourceIds[diff.source[k]!]!, origin_id: o >= 0 ? originIds[o]! : diff.extraIds[-o - 1]!, from: diff.from[k]!, to: diff.to[k]! };
  }
  return out;
}

/** The buffers of a dense decision, for a transfer list. */
export function decisionBuffers(d: DenseDecision): ArrayBuffer[] {
  const { weights: w, plan: p, diff } = d;
  const c = d.connections ? [d.connections.effective.start, d.connections.effective.origin, d.connections.effective.share] : [];
  return [w.start, w.origin, w.share, p.start, p.origin, p.share, diff.source, diff.origin, diff.from, diff.to, ...c].map((a) => a.buffer as ArrayBuffer);
}
