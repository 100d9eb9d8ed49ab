// Operator overrides of one load balancer (AWS Global Accelerator's traffic dials, GCP's capacity
// scaler, Cloudflare's drain, the Global Capacity Orchestrator's per-region overrides):
//
//   dial   — per origin, the percentage (0–100) of its capacity (target and max) offered to the scheduler;
//   share  — min and/or max share of an origin: of one edge's traffic (edge_id), or of the whole load
//            balancer's demand (no edge_id);
//   force  — exact weights for one edge (all its listeners of this load balancer) or for every DNS
//            client subnet inside a range, e.g. during an incident.
//
// Every override is audited: who (the token's fingerprint or the certificate's subject), when, why, an optional expiry, and who
// cancelled it. The scheduler honours active ones as exact bounds of the LP (scheduler/core/
// bounded-plan.ts); damping still applies unless `now` is set (then the first cycle that sees it moves
// the sources it touches straight to the plan).
//
// The rules here are the ones a set of overrides must satisfy to be honoured exactly whatever the
// demand; the API refuses a set that breaks them (409 with the other override's id, or 422) so nothing
// infeasible is ever discovered at solve time. What depends on demand or health (a minimum share above
// an origin's capacity, a bound on an origin that is down) is resolved by the core with a stated
// precedence — health, then capacity, then the override — and said in the decision.
import { z } from 'zod';
import { Cidr, ipToBytes, maskBytes, parseCidr, parseDuration, Share } from './primitives.ts';

export const OverrideKind = z.enum(['dial', 'share', 'force']).describe('dial: % of an origin\'s capacity offered; share: min/max share of an origin (one edge\'s traffic, or the whole load balancer\'s); force: exact weights for an edge or a DNS subnet range');
export type OverrideKind = z.infer<typeof OverrideKind>;

const overrideFields = {
  kind: OverrideKind,
  origin_id: z.string().min(1).max(64).optional().describe('dial, share: the origin'),
  percent: z.number().min(0).max(100).optional().describe('dial: percentage of the origin\'s target_rps and max_rps offered to the scheduler'),
  edge_id: z.string().min(1).max(64).optional().describe('share: bound this edge\'s traffic only (absent: the whole load balancer); force: the edge whose weights are forced'),
  subnet: Cidr.optional().describe('force: every DNS client subnet inside this range gets the forced weights'),
  min_share: Share.optional().describe('share: at least this share goes to the origin'),
  max_share: Share.optional().describe('share: at most this share goes to the origin'),
  weights: z.record(z.string(), Share).optional().describe('force: origin id -> share, summing to 1'),
  reason: z.string().min(1).max(500).describe('why (kept in the audit log)'),
  expires_at: z.iso.datetime({ offset: true }).optional().describe('the override stops applying at this time (absent: until cancelled)'),
  now: z.boolean().default(false).describe('apply at once: the first cycle that sees it moves the sources it touches straight to the plan (undamped)'),
};

const FIELDS_OF: Record<OverrideKind, { required: (keyof typeof overrideFields)[]; allowed: (keyof typeof overrideFields)[] }> = {
  dial: { required: ['origin_id', 'percent'], allowed: ['origin_id', 'percent'] },
  share: { required: ['origin_id'], allowed: ['origin_id', 'edge_id', 'min_share', 'max_share'] },
  force: { required: ['weights'], allowed: ['edge_id', 'subnet', 'weights'] },
};
const KIND_FIELDS = ['origin_id', 'percent', 'edge_id', 'subnet', 'min_share', 'max_share', 'weights'] as const;

/** Tolerance on "weights sum to 1" (what a client computing shares in floating point gets). */
export const WEIGHT_SUM_TOLERANCE = 1e-6;

function kindRules(o: { kind: OverrideKind } & Partial<Record<(typeof KIND_FIELDS)[number], unknown>>, ctx: z.RefinementCtx): void {
  const rule = FIELDS_OF[o.kind];
  for (const f of rule.required) if (o[f as (typeof KIND_FIELDS)[number]] === undefined) ctx.addIssue({ code: 'custom', path: [f], message: `required for kind "${o.kind}"` });
  for (const f of KIND_FIELDS) if (o[f] !== undefined && !rule.allowed.includes(f)) ctx.addIssue({ code: 'custom', path: [f], message: `not used by kind "${o.kind}"` });
  if (o.kind === 'share' && o.min_share === undefined && o.max_share === undefined) ctx.addIssue({ code: 'custom', path: ['max_share'], message: 'give min_share and/or max_share' });
  if (o.kind === 'share' && typeof o.min_share === 'number' && typeof o.max_share === 'number' && o.min_share > o.max_share) {
    ctx.addIssue({ code: 'custom', path: ['min_share'], message: `min_share (${o.min_share}) must not exceed max_share (${o.max_share})` });
  }
  if (o.kind === 'force') {
    if ((o.edge_id === undefined) === (o.subnet === undefined)) ctx.addIssue({ code: 'custom', path: ['edge_id'], message: 'give exactly one of edge_id or subnet' });
    const w = o.weights as Record<string, number> | undefined;
    if (w) {
      const sum = Object.values(w).reduce((a, b) => a + b, 0);
      if (Object.keys(w).length === 0 || Math.abs(sum - 1) > WEIGHT_SUM_TOLERANCE) ctx.addIssue({ code: 'custom', path: ['weights'], message: `shares must sum to 1 (they sum to ${Math.round(sum * 1e6) / 1e6})` });
    }
  }
}

/** What a client sends (POST /api/v1/load-balancers/{id}/overrides). */
export const OverrideInput = z
  .strictObject({ ...overrideFields, expires_in: z.string().optional().describe('instead of expires_at: a duration from now, e.g. "30m" or "2h"') })
  .superRefine((o, ctx) => {
    kindRules(o, ctx);
    if (o.expires_in !== undefined) {
      if (o.expires_at !== undefined) ctx.addIssue({ code: 'custom', path: ['expires_in'], message: 'give expires_at or expires_in, not both' });
      const ms = parseDuration(o.expires_in);
      if (ms === null || ms <= 0) ctx.addIssue({ code: 'custom', path: ['expires_in'], message: 'expected a duration such as "30m", "2h" or "1d"' });
    }
  })
  .meta({ id: 'OverrideSpec' });
export type OverrideInput = z.input<typeof OverrideInput>;
export type OverrideSpecInput = z.output<typeof OverrideInput>;

/** The spec as stored: expires_in resolved to expires_at. */
export type OverrideSpec = Omit<OverrideSpecInput, 'expires_in'>;

export const OverrideState = z.enum(['active', 'expired', 'cancelled']);
export type OverrideState = z.infer<typeof OverrideState>;

export const Override = z
  .strictObject({
    id: z.string(),
    load_balancer_id: z.string(),
    ...overrideFields,
    created_at: z.string(),
    created_by: z.string().describe("who: the role and the bearer token's fingerprint or the client certificate's subject; 'anonymous' on an open API"),
    cancelled_at: z.string().nullable(),
    cancelled_by: z.string().nullable(),
    state: OverrideState.describe('as of the answer: active, expired (past expires_at) or cancelled'),
  })
  .meta({ id: 'Override' });
export type Override = z.output<typeof Override>;

/** Resolves expires_in against `now` (ms). */
export function toSpec(input: OverrideSpecInput, now: number): OverrideSpec {
  const { expires_in, ...rest } = input;
  if (expires_in === undefined) return rest;
  return { ...rest, expires_at: new Date(now + parseDuration(expires_in)!).toISOString() };
}

export function overrideState(o: { cancelled_at: string | null; expires_at?: string | undefined }, at: number): OverrideState {
  if (o.cancelled_at !== null) return 'cancelled';
  if (o.expires_at !== undefined && Date.parse(o.expires_at) <= at) return 'expired';
  return 'active';
}

// ---- exact row splits (used by the API's checks and by the core's bounded plan) ----

/** One part of a bounded source: `frac` of its demand, which may use every origin but `excluded`. */
export interface SplitSegment {
  frac: number;
  excluded: string[];
}

/**
 * The exact LP reformulation of one source's share bounds: mins are assigned up front (`pre`), and the
 * rest r = 1 − Σmin is cut into segments with excluded origins so that a flow respects every max M_o
 * exactly iff it is a sum of the segments' flows. With u_o = M_o − m_o for the binding maxes (u_o < r):
 *   A. Σu ≤ r: a segment of u_o that may use o (and the unbounded origins), and a rest of r − Σu that
 *      may not use any bounded origin — o gets at most u_o from it;
 *   B. Σ(r − u_o) ≤ r: a segment of r − u_o that may not use o, and a free rest — o gets at most
 *      r − (r − u_o) = u_o.
 * Both are exact (a Hall-condition argument: tests/bounded-plan tests check against HiGHS). When
 * neither holds (e.g. three origins each at most 60 %) the bound set has no such decomposition and is
 * refused; `unbounded` are the origins without a max (a rest needs somewhere to go).
 */
export function splitBounds(mins: ReadonlyMap<string, number>, maxes: ReadonlyMap<string, number>, origins: readonly string[]): { pre: Map<string, number>; segments: SplitSegment[] } | { unsatisfiable: string } {
  const pre = new Map([...mins].filter(([, m]) => m > 0));
  const totalMin = [...pre.values()].reduce((a, b) => a + b, 0);
  if (totalMin > 1 + WEIGHT_SUM_TOLERANCE) return { unsatisfiable: `the minimum shares add up to ${round(totalMin)} > 1` };
  const r = Math.max(0, 1 - totalMin);
  const binding = [...maxes].map(([o, M]) => [o, Math.max(0, M - (pre.get(o) ?? 0))] as const).filter(([, u]) => u < r - 1e-12);
  const free = origins.filter((o) => !binding.some(([b]) => b === o));
  const capacity = binding.reduce((a, [, u]) => a + u, 0);
  if (r <= 1e-12) return { pre, segments: [] };
  if (binding.length === 0) return { pre, segments: [{ frac: r, excluded: [] }] };
  if (free.length === 0 && capacity < r - WEIGHT_SUM_TOLERANCE) return { unsatisfiable: `the maximum shares add up to ${round(capacity + totalMin)} < 1 with no other origin to take the rest` };
  if (capacity <= r + 1e-12) {
    const all = binding.map(([o]) => o);
    const segments = binding.filter(([, u]) => u > 0).map(([o, u]) => ({ frac: u, excluded: all.filter((x) => x !== o) }));
    if (r - capacity > 1e-12) segments.push({ frac: r - capacity, excluded: all });
    return { pre, segments };
  }
  const kept = binding.reduce((a, [, u]) => a + (r - u), 0);
  if (kept <= r + 1e-12) {
    const segments = binding.map(([o, u]) => ({ frac: r - u, excluded: [o] }));
    if (r - kept > 1e-12) segments.push({ frac: r - kept, excluded: [] });
    return { pre, segments };
  }
  return {
    unsatisfiable: `maximum shares on ${binding.map(([o]) => o).join(', ')} cannot be honoured exactly together: sluice splits a source exactly only when they (beyond the minimums) add up to at most ${round(r)}, or their complements do`,
  };
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

// ---- the API's checks ----

export interface OverrideContext {
  policy: string;
  /** Origin ids of the load balancer. */
  origins: readonly string[];
  /** Edge ids. */
  edges: readonly string[];
  now: number;
}

export interface OverrideProblem {
  /** 409: conflicts with an override in force (named in `with`); 422: cannot be honoured by itself. */
  status: 409 | 422;
  /** Fields of the request that conflict. */
  fields: string[];
  detail: string;
  /** Ids of the active overrides it conflicts with. */
  with: string[];
}

type Candidate = OverrideSpec & { id?: string };

/**
 * What is wrong with adding `candidate` to the `active` overrides of a load balancer: every problem,
 * each naming the request's fields and the other overrides involved. Empty = it can be honoured.
 */
export function checkOverride(candidate: Candidate, active: readonly Override[], ctx: OverrideContext): OverrideProblem[] {
  const out: OverrideProblem[] = [];
  const bad = (fields: string[], detail: string) => out.push({ status: 422, fields, detail, with: [] });
  const clash = (fields: string[], detail: string, others: Override[]) => out.push({ status: 409, fields, detail, with: others.map((o) => o.id) });
  const origins = new Set(ctx.origins);
  if (candidate.origin_id !== undefined && !origins.has(candidate.origin_id)) bad(['origin_id'], `no origin ${candidate.origin_id} in this load balancer`);
  if (candidate.edge_id !== undefined && !ctx.edges.includes(candidate.edge_id)) bad(['edge_id'], `no edge ${candidate.edge_id}`);
  for (const id of Object.keys(candidate.weights ?? {})) if (!origins.has(id)) bad([`weights.${id}`], `no origin ${id} in this load balancer`);
  if (candidate.expires_at !== undefined && Date.parse(candidate.expires_at) <= ctx.now) bad(['expires_at'], `${candidate.expires_at} is not in the future`);
  if (candidate.kind === 'share' && ctx.policy === 'weighted') bad(['kind'], 'share bounds need an optimising policy (latency, balance, failover); the weighted policy publishes static weights: set static_weight, or force weights');
  if (out.length > 0) return out;

  const others = active.filter((o) => o.id !== candidate.id);
  if (candidate.kind === 'dial') {
    const same = others.filter((o) => o.kind === 'dial' && o.origin_id === candidate.origin_id);
    if (same.length > 0) clash(['origin_id'], `origin ${candidate.origin_id} already has a dial (${same[0]!.id}, ${same[0]!.percent} %); cancel it first`, same);
    if (candidate.percent === 0) {
      const forcing = others.filter((o) => o.kind === 'force' && (o.weights?.[candidate.origin_id!] ?? 0) > 0);
      if (forcing.length > 0) clash(['percent'], `a dial of 0 % takes origin ${candidate.origin_id} out, but ${forcing.map((o) => o.id).join(', ')} force weight onto it`, forcing);
    }
  }
  if (candidate.kind === 'force') {
    const dialledOut = others.filter((o) => o.kind === 'dial' && o.percent === 0 && (candidate.weights?.[o.origin_id!] ?? 0) > 0);
    for (const d of dialledOut) clash([`weights.${d.origin_id}`], `origin ${d.origin_id} is dialled to 0 % (${d.id})`, [d]);
    const sameTarget = others.filter((o) => o.kind === 'force' && (candidate.edge_id !== undefined ? o.edge_id === candidate.edge_id : o.subnet !== undefined && cidrsOverlap(o.subnet, candidate.subnet!)));
    if (sameTarget.length > 0) clash([candidate.edge_id !== undefined ? 'edge_id' : 'subnet'], `already forced by ${sameTarget.map((o) => `${o.id} (${o.edge_id ?? o.subnet})`).join(', ')}; cancel it first`, sameTarget);
    if (candidate.edge_id !== undefined) {
      for (const b of others.filter((o) => o.kind === 'share' && o.edge_id === candidate.edge_id)) {
        const w = candidate.weights?.[b.origin_id!] ?? 0;
        if ((b.min_share !== undefined && w < b.min_share - WEIGHT_SUM_TOLERANCE) || (b.max_share !== undefined && w > b.max_share + WEIGHT_SUM_TOLERANCE)) {
          clash([`weights.${b.origin_id}`], `edge ${candidate.edge_id} must send ${describeBound(b)} to ${b.origin_id} (${b.id}); the forced ${w} breaks it`, [b]);
        }
      }
    }
  }
  if (candidate.kind === 'share') {
    const scope = others.filter((o) => o.kind === 'share' && o.edge_id === candidate.edge_id);
    const same = scope.filter((o) => o.origin_id === candidate.origin_id);
    if (same.length > 0) clash(['origin_id'], `origin ${candidate.origin_id} already has share bounds ${candidate.edge_id ? `on edge ${candidate.edge_id}` : 'on this load balancer'} (${same[0]!.id}); cancel it first`, same);
    const set = [...scope.filter((o) => o.origin_id !== candidate.origin_id), candidate];
    const mins = new Map(set.filter((o) => o.min_share !== undefined).map((o) => [o.origin_id!, o.min_share!]));
    const maxes = new Map(set.filter((o) => o.max_share !== undefined).map((o) => [o.origin_id!, o.max_share!]));
    // One edge's bounds become a row split (exact only in the shapes splitBounds allows); the load
    // balancer's become column bounds, which only need room: Σmin ≤ 1, and Σmax ≥ 1 when every origin has one.
    const split = candidate.edge_id !== undefined ? splitBounds(mins, maxes, ctx.origins) : columnBounds(mins, maxes, ctx.origins);
    if ('unsatisfiable' in split) {
      const fields = [candidate.min_share !== undefined && /minimum/.test(split.unsatisfiable) ? 'min_share' : 'max_share'];
      clash(fields, `${candidate.edge_id ? `on edge ${candidate.edge_id}` : 'on this load balancer'}: ${split.unsatisfiable}`, scope.filter((o) => o.origin_id !== candidate.origin_id));
    }
    if (candidate.edge_id !== undefined) {
      const forced = others.filter((o) => o.kind === 'force' && o.edge_id === candidate.edge_id);
      for (const f of forced) {
        const w = f.weights?.[candidate.origin_id!] ?? 0;
        if ((candidate.min_share !== undefined && w < candidate.min_share - WEIGHT_SUM_TOLERANCE) || (candidate.max_share !== undefined && w > candidate.max_share + WEIGHT_SUM_TOLERANCE)) {
          clash([candidate.max_share !== undefined && w > candidate.max_share ? 'max_share' : 'min_share'], `edge ${candidate.edge_id} is forced to ${w} on ${candidate.origin_id} (${f.id})`, [f]);
        }
      }
    }
  }
  return out;
}

function columnBounds(mins: ReadonlyMap<string, number>, maxes: ReadonlyMap<string, number>, origins: readonly string[]): { ok: true } | { unsatisfiable: string } {
  const totalMin = [...mins.values()].reduce((a, b) => a + b, 0);
  if (totalMin > 1 + WEIGHT_SUM_TOLERANCE) return { unsatisfiable: `the minimum shares add up to ${round(totalMin)} > 1` };
  if (origins.every((o) => maxes.has(o))) {
    const totalMax = [...maxes.values()].reduce((a, b) => a + b, 0);
    if (totalMax < 1 - WEIGHT_SUM_TOLERANCE) return { unsatisfiable: `the maximum shares add up to ${round(totalMax)} < 1 with no other origin to take the rest` };
  }
  return { ok: true };
}

function describeBound(b: { min_share?: number | undefined; max_share?: number | undefined }): string {
  if (b.min_share !== undefined && b.max_share !== undefined) return `between ${b.min_share} and ${b.max_share}`;
  return b.min_share !== undefined ? `at least ${b.min_share}` : `at most ${b.max_share}`;
}

/** Whether two CIDRs share any address. */
export function cidrsOverlap(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  if (!x || !y || x.family !== y.family) return false;
  const prefix = Math.min(x.prefix, y.prefix);
  const mx = maskBytes(x.bytes, prefix);
  const my = maskBytes(y.bytes, prefix);
  return mx.every((v, i) => v === my[i]);
}

/** Whether `subnet` (a client subnet) lies inside `range`. */
export function cidrContains(range: string, subnet: string): boolean {
  const r = parseCidr(range);
  const s = parseCidr(subnet);
  if (!r || !s || r.family !== s.family || s.prefix < r.prefix) return false;
  const m = maskBytes(s.bytes, r.prefix);
  return m.every((v, i) => v === r.bytes[i]);
}

/** Whether an address lies inside `range`. */
export function addressIn(range: string, address: string): boolean {
  const r = parseCidr(range);
  const bytes = ipToBytes(address);
  if (!r || !bytes || bytes.length !== r.bytes.length) return false;
  return maskBytes(bytes, r.prefix).every((v, i) => v === r.bytes[i]);
}
