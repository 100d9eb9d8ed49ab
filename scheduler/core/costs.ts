// The cost matrix: one row per source, one column per destination origin.
//
// Latency of a pair: the learned RTT when there is one (finite, ≥ 0), else the great-circle estimate
// when both locations are known, else unknown — priced at max_latency_ms (usable, but last choice).
// Pairs above max_latency_ms are excluded (+∞), and so are banned pairs (a source that cannot reach
// that origin: edge-local reachability). A source left with no pair within the ceiling falls back to
// its nearest destination it may use rather than being dropped, and the decision says so; a banned
// pair is never a fallback (decide() lifts a source's bans before they could leave it nothing).
//
// Policy transforms: failover adds rank(priority)·B to every cost, with B larger than any latency
// saving, so a lower priority origin is used only once the higher ones are at target (the above-target
// penalty is larger still, so headroom is used only when every target is full, again by priority);
// latency stays the tie-break within one priority level.
import { DEFAULT_RTT_MODEL, estimateRttMs } from './geo.ts';
import { rttOf, type DenseProblem } from './input.ts';
import { scratch } from './scratch.ts';
import type { OriginState, RttModel } from './types.ts';

export interface CostMatrix {
  rows: number;
  cols: number;
  /** Latency (ms) of (row, column) for the reported objectives; unknown → max_latency_ms. Computed on
   * demand, not stored: rows × columns of it were 206 MB at 1M subnets (128,850 sources × 200 origins),
   * and the objectives read only the few pairs per row that carry a share. */
  latencyAt(i: number, c: number): number;
  /** Solver cost per pair (+∞ excluded). */
  cost: Float64Array;
  /** Sources that fell back to their nearest origin (every pair above the ceiling). */
  fallbacks: string[];
  /** Pairs whose latency was estimated from geography / unknown. */
  estimated: number;
  unknown: number;
}

/** Distinct source locations whose estimates are kept (× columns × 8 bytes: 13 MB at 200). */
const MAX_CACHED_LOCATIONS = 8192;

/**
 * Latency per (source, destination column), computed from the problem on each call — the learned RTT,
 * else the great-circle estimate, else max_latency_ms — so the cost matrix and the objectives read the
 * same number without either storing a sources × columns matrix of them. Estimates are kept per distinct
 * source location (sources located by the same CIDR mapping or city share one: 1M subnets × 200 origins
 * would be ~25M haversines otherwise, 1.3 s), up to MAX_CACHED_LOCATIONS locations.
 */
class PairLatency {
  private readonly declared: number;
  private readonly model: RttModel;
  /** Per source: its location's slot in `estimates`, −1 not kept, −2 not looked up yet. */
  private readonly slotOf: Int32Array;
  private readonly slots = new Map<string, number>();
  /** slots × columns, NaN = not estimated yet. */
  private estimates: Float64Array;
  /** Per column: 1 when the origin has a location. */
  private readonly locatedColumn: Uint8Array;
  /** One source's learned RTTs per declared origin while fillRow reads it; NaN elsewhere. */
  private readonly rowRtt: Float64Array;
  /** Per slot: 1 once every located column of its `estimates` row is filled (fillRow copies the row whole). */
  private readonly slotFull = new Uint8Array(MAX_CACHED_LOCATIONS);
  /** Per declared origin: its column, or −1 (not a destination). */
  private readonly columnOf: Int32Array;
  /** Columns whose origin has no location (their pairs are unknown unless learned). */
  private readonly unlocated: number[];

  constructor(
    private readonly problem: DenseProblem,
    private readonly columns: OriginState[],
    private readonly originOf: ArrayLike<number>,
  ) {
    this.declared = problem.settings.origins.length;
    this.model = problem.settings.rtt_model ?? DEFAULT_RTT_MODEL;
    this.slotOf = new Int32Array(problem.sourceIds.length).fill(-2);
    this.estimates = new Float64Array(0);
    this.locatedColumn = Uint8Array.from(columns, (o) => (o.location ? 1 : 0));
    this.rowRtt = new Float64Array(this.declared).fill(NaN);
    this.columnOf = new Int32Array(this.declared).fill(-1);
    for (let c = 0; c < columns.length; c++) this.columnOf[originOf[c]!] = c;
    this.unlocated = columns.flatMap((o, c) => (o.location ? [] : [c]));
  }

  /** Pairs estimated and pairs unknown, counted by fillRow. */
  estimated = 0;
  unknown = 0;

  at(i: number, c: number): number {
    const { problem } = this;
    const ms = rttOf(problem.rtt, i, this.originOf[c]!);
    if (ms >= 0 && ms !== Infinity) return ms;
    if (!problem.hasLocation[i] || !this.columns[c]!.location) return problem.settings.max_latency_ms;
    return this.estimate(i, c);
  }

  /** Row i's latencies into out[at .. at + columns), the same numbers as at(); counts the kinds. */
  fillRow(i: number, out: Float64Array, at: number): void {
    const { problem, columns, originOf, rowRtt } = this;
    const { rtt } = problem;
    const K = columns.length;
    // The hot path of a 1M-subnet problem (98.5 % of its 25.8M pairs are estimates): a located source
    // whose location is kept gets its location's whole row of estimates copied, then its few learned
    // RTTs written over it — instead of a branch and a lookup per pair (0.49 → 0.2 s at 1M).
    if (problem.hasLocation[i] === 1) {
      const slot = this.slot(i);
      if (slot >= 0) {
        this.fillFromSlot(i, slot, out, at);
        return;
      }
    }
    // The row's learned RTTs spread over the declared origins (later entries win), cleared after.
    for (let e = rtt.start[i]!; e < rtt.start[i + 1]!; e++) rowRtt[rtt.origin[e]!] = rtt.ms[e]!;
    const located = problem.hasLocation[i] === 1;
    const ceiling = problem.settings.max_latency_ms;
    // The row's slot is looked up once, at its first estimate (the hot path of a 1M-subnet problem:
    // 98.5 % of its 25.8M pairs are estimates).
    let slot = -3;
    for (let c = 0; c < K; c++) {
      const ms = rowRtt[originOf[c]!]!;
      if (ms >= 0 && ms !== Infinity) out[at + c] = ms;
      else if (located && this.locatedColumn[c] === 1) {
        if (slot === -3) slot = this.slot(i);
        let est = slot >= 0 ? this.estimates[slot * K + c]! : NaN;
        if (Number.isNaN(est)) {
          est = estimateRttMs({ lat: problem.lat[i]!, lon: problem.lon[i]! }, columns[c]!.location!, this.model);
          if (slot >= 0) this.estimates[slot * K + c] = est;
        }
        out[at + c] = est;
        this.estimated++;
      } else {
        out[at + c] = ceiling;
        this.unknown++;
      }
    }
    for (let e = rtt.start[i]!; e < rtt.start[i + 1]!; e++) rowRtt[rtt.origin[e]!] = NaN;
  }

  /** fillRow for a located source whose location has a slot. */
  private fillFromSlot(i: number, slot: number, out: Float64Array, at: number): void {
    const { problem, columns, rowRtt, columnOf, locatedColumn } = this;
    const { rtt } = problem;
    const K = columns.length;
    const base = slot * K;
    if (this.slotFull[slot] === 0) {
      for (let c = 0; c < K; c++) {
        if (locatedColumn[c] === 1 && Number.isNaN(this.estimates[base + c]!)) {
          this.estimates[base + c] = estimateRttMs({ lat: problem.lat[i]!, lon: problem.lon[i]! }, columns[c]!.location!, this.model);
        }
      }
      this.slotFull[slot] = 1;
    }
    out.set(this.estimates.subarray(base, base + K), at);
    const ceiling = problem.settings.max_latency_ms;
    for (const c of this.unlocated) out[at + c] = ceiling;
    this.estimated += K - this.unlocated.length;
    this.unknown += this.unlocated.length;
    // Learned RTTs over the estimates: later entries for one origin win (spread first, then applied
    // once per origin); one that is not a finite latency ≥ 0 leaves the estimate.
    const first = rtt.start[i]!;
    const end = rtt.start[i + 1]!;
    for (let e = first; e < end; e++) rowRtt[rtt.origin[e]!] = rtt.ms[e]!;
    for (let e = first; e < end; e++) {
      const o = rtt.origin[e]!;
      const ms = rowRtt[o]!;
      rowRtt[o] = NaN;
      const c = columnOf[o]!;
      if (c < 0 || !(ms >= 0 && ms !== Infinity)) continue;
      out[at + c] = ms;
      if (locatedColumn[c] === 1) this.estimated--;
      else this.unknown--;
    }
  }

  /** The great-circle estimate for (i, c), both located. */
  private estimate(i: number, c: number): number {
    const { problem } = this;
    const o = this.columns[c]!;
    const slot = this.slot(i);
    if (slot < 0) return estimateRttMs({ lat: problem.lat[i]!, lon: problem.lon[i]! }, o.location!, this.model);
    const K = this.columns.length;
    let est = this.estimates[slot * K + c]!;
    if (Number.isNaN(est)) est = this.estimates[slot * K + c] = estimateRttMs({ lat: problem.lat[i]!, lon: problem.lon[i]! }, o.location!, this.model);
    return est;
  }

  private slot(i: number): number {
    let slot = this.slotOf[i]!;
    if (slot !== -2) return slot;
    const key = `${this.problem.lat[i]},${this.problem.lon[i]}`;
    slot = this.slots.get(key) ?? -1;
    if (slot < 0 && this.slots.size < MAX_CACHED_LOCATIONS) {
      slot = this.slots.size;
      this.slots.set(key, slot);
      const K = this.columns.length;
      if (this.estimates.length < (slot + 1) * K) {
        // Grown by doubling (NaN-filled), up to MAX_CACHED_LOCATIONS rows.
        const grown = new Float64Array(Math.min(MAX_CACHED_LOCATIONS, Math.max(16, 2 * (slot + 1))) * K).fill(NaN);
        grown.set(this.estimates);
        this.estimates = grown;
      }
    }
    this.slotOf[i] = slot;
    return slot;
  }
}

/**
 * One row per source, one column per destination; `originOf[c]` is column c's index among the declared
 * origins (the dense RTT rows). The cost array is scratch space (see scratch.ts): valid until the next call.
 */
export function buildCosts(problem: DenseProblem, columns: OriginState[], originOf: ArrayLike<number>, banned: Uint8Array | null = null): CostMatrix {
  const n = problem.sourceIds.length;
  const K = columns.length;
  const cost = scratch.f64('costs.cost', n * K);
  const rows = new CostRows(problem, columns, originOf, banned);
  for (let i = 0; i < n; i++) rows.fill(i, cost, i * K);
  if (problem.settings.policy === 'failover') applyPriorityRanks(cost, n, columns);
  return { rows: n, cols: K, latencyAt: (i, c) => rows.latencyAt(i, c), cost, fallbacks: rows.fallbacks, estimated: rows.estimated, unknown: rows.unknown };
}

/**
 * The cost matrix a row at a time (latency costs: no failover ranks, which need every row first):
 * buildCosts writes every row into the matrix; core/merged-costs.ts computes each into a row of scratch
 * and keeps only the merged rows. `fallbacks`, `estimated` and `unknown` count each row once, however
 * often it is filled (rows are first filled in order, 0 to n − 1).
 */
export class CostRows {
  readonly fallbacks: string[] = [];
  private readonly latency: PairLatency;
  private readonly declared: number;
  private readonly ceiling: number;
  private counted = -1;
  private estimatedSoFar = 0;
  private unknownSoFar = 0;

  constructor(
    private readonly problem: DenseProblem,
    private readonly columns: OriginState[],
    private readonly originOf: ArrayLike<number>,
    private readonly banned: Uint8Array | null,
  ) {
    this.latency = new PairLatency(problem, columns, originOf);
    this.declared = problem.settings.origins.length;
    this.ceiling = problem.settings.max_latency_ms;
  }

  get estimated(): number {
    return this.estimatedSoFar;
  }

  get unknown(): number {
    return this.unknownSoFar;
  }

  latencyAt(i: number, c: number): number {
    return this.latency.at(i, c);
  }

  /** Row i's solver costs into out[at .. at + columns): its latencies, +∞ over the ceiling or banned,
   * its nearest usable origin kept when that leaves nothing (a fallback). */
  fill(i: number, out: Float64Array, at: number): void {
    const { latency, banned, originOf, ceiling, declared } = this;
    const K = this.columns.length;
    const estimatedBefore = latency.estimated;
    const unknownBefore = latency.unknown;
    latency.fillRow(i, out, at);
    const first = i > this.counted;
    if (first) {
      this.counted = i;
      this.estimatedSoFar += latency.estimated - estimatedBefore;
      this.unknownSoFar += latency.unknown - unknownBefore;
    }
    let allowed = 0;
    let nearest = -1;
    let nearestMs = Infinity;
    for (let j = 0; j < K; j++) {
      const ban = banned !== null && banned[i * declared + originOf[j]!] === 1;
      const ms = out[at + j]!;
      const ok = ms <= ceiling && !ban;
      out[at + j] = ok ? ms : Infinity;
      if (ok) allowed++;
      if (!ban && (nearest < 0 || ms < nearestMs)) {
        nearest = j;
        nearestMs = ms;
      }
    }
    if (allowed === 0 && nearest >= 0) {
      out[at + nearest] = nearestMs;
      if (first) this.fallbacks.push(this.problem.sourceIds[i]!);
    }
  }
}

function applyPriorityRanks(cost: Float64Array, n: number, columns: OriginState[]): void {
  const K = columns.length;
  const levels = [...new Set(columns.map((o) => o.priority))].sort((a, b) => a - b);
  const rank = columns.map((o) => levels.indexOf(o.priority));
  const { min, max } = finiteRange(cost);
  const step = (max - min + 1) * (K + 1);
  for (let i = 0; i < n; i++) for (let j = 0; j < K; j++) cost[i * K + j]! += rank[j]! * step;
}

export function finiteRange(values: Float64Array): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (let k = 0; k < values.length; k++) {
    const v = values[k]!;
    if (v === Infinity) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return min === Infinity ? { min: 0, max: 0 } : { min, max };
}

/** Above-target penalty: larger than any latency a chain of up to K exchanges can save. */
export function aboveTargetPenalty(cost: Float64Array, cols: number): number {
  const { min, max } = finiteRange(cost);
  return (max - min + 1) * (cols + 1);
}
