// The problem's per-source data as flat typed arrays, read from the source objects in one pass.
//
// Why: at 100k sources × 20 origins the problem holds 2M RTTs in 100k small records. Everything after
// this point (costs, damping, objectives, diff) runs over typed arrays indexed by source (the learned
// RTTs and the weights in force as sparse rows, the work arrays by (source, origin)), and
// this is also the form the worker thread receives (solver/packing.ts): its buffers are transferred
// without copying, and the worker never rebuilds the source objects it would only read back.
import { runToEnd, STEP_ITEMS, type Steps } from '../../lib/steps.ts';
import type { Scratch } from './scratch.ts';
import type { SchedulingProblem, SourceState } from './types.ts';

/** Weights in force, per source, in the order the source's record lists them (CSR rows). */
export interface CurrentShares {
  /** 1 when the source has a record in `current` (possibly empty); 0 = a new source. */
  has: Uint8Array;
  /** Source i's entries are start[i] .. start[i+1] − 1. Length sources + 1. */
  start: Int32Array;
  /** Declared origin index (≥ 0), or −(1 + e) for `extraIds[e]`, an origin that is not declared. */
  origin: Int32Array;
  /** The share as given (not validated: the core decides what a NaN or negative share means). */
  share: Float64Array;
  extraIds: string[];
}

/** Connection state per (source, declared origin); present only when some source has any. */
export interface DenseConnections {
  /** Effective shares now; a row of NaN = none given (the weights in force). */
  effective: Float64Array;
  /** S(Δ) and S̄ (0 where not given; S̄ NaN = as S). */
  survival: Float64Array;
  meanSurvival: Float64Array;
  /** Measured pinned shares (end of the next cycle, mean over it); a row of NaN = not measured. */
  pinnedEnd: Float64Array;
  pinnedMean: Float64Array;
  /** Per source: SourceConnections.answer_survival (NaN = 1, not given). */
  answerSurvival: Float64Array;
}

/**
 * Learned RTTs per source (CSR): source i's entries are start[i] .. start[i+1] − 1, each a declared
 * origin's index and the RTT as given; where a source lists one origin twice, the later entry counts.
 * Sparse because few pairs are learned: at 1M subnets 1.5 % of 128,850 × 200 (a dense matrix of them
 * was 206 MB, NaN nearly everywhere, sent to the decision worker every cycle).
 */
export interface SourceRtts {
  start: Int32Array;
  origin: Int32Array;
  ms: Float64Array;
}

/** Source i's learned RTT to declared origin j as given, or NaN (none). */
export function rttOf(rtts: SourceRtts, i: number, j: number): number {
  for (let e = rtts.start[i + 1]! - 1; e >= rtts.start[i]!; e--) if (rtts.origin[e] === j) return rtts.ms[e]!;
  return NaN;
}

export interface DenseProblem {
  settings: Omit<SchedulingProblem, 'sources' | 'current'>;
  sourceIds: string[];
  /** Demand per source; non-finite or negative demand is 0. */
  demand: Float64Array;
  /** Learned RTTs to declared origins (those to undeclared origins are ignored). */
  rtt: SourceRtts;
  /** 1 when the source has a location (then lat/lon hold it). */
  hasLocation: Uint8Array;
  lat: Float64Array;
  lon: Float64Array;
  current: CurrentShares;
  connections?: DenseConnections | undefined;
  /** Sticky point per source (NaN = not answered whole); present only when some source has one. */
  pick?: Float64Array | undefined;
  /** Pairs a source must not use (SourceState.excluded), as i * origins + j, ascending; usually empty. */
  excluded: Int32Array;
}

/** Index of an origin id among the declared origins. */
export type OriginIndex = Map<string, number>;

/**
 * The flat form of a problem. With `space`, the learned RTTs are scratch space (valid until the next
 * call: decide() in-process); without, every array is the result's own (it is transferred to the worker).
 */
export function densify(problem: SchedulingProblem, space?: Scratch): DenseProblem {
  return runToEnd(densifySteps(problem, space));
}

/**
 * densify in steps (lib/steps.ts): the decision worker's client packs on the scheduler's own thread,
 * and at 1M subnets (130k sources × 200 origins) that was ~0.6 s in one piece.
 */
export function* densifySteps(problem: SchedulingProblem, space?: Scratch): Steps<DenseProblem> {
  const { sources, current, ...settings } = problem;
  const n = sources.length;
  const K = settings.origins.length;
  const index: OriginIndex = new Map(settings.origins.map((o, j) => [o.id, j]));
  const sourceIds = new Array<string>(n);
  const demand = new Float64Array(n);
  const rtt = new RttBuilder(n, space);
  const hasLocation = new Uint8Array(n);
  const lat = new Float64Array(n);
  const lon = new Float64Array(n);
  const reader = new KeyColumnCache(index);
  const excluded: number[] = [];
  for (let i = 0; i < n; i++) {
    if ((i + 1) % STEP_ITEMS === 0) yield;
    const s = sources[i]!;
    if (s.excluded) {
      const js = s.excluded.map((id) => index.get(id) ?? -1).filter((j) => j >= 0).sort((a, b) => a - b);
      for (let k = 0; k < js.length; k++) if (k === 0 || js[k] !== js[k - 1]) excluded.push(i * K + js[k]!);
    }
    sourceIds[i] = s.id;
    const d = s.demand_rps;
    demand[i] = Number.isFinite(d) && d > 0 ? d : 0;
    rtt.row(i);
    readRtts(s, rtt, reader);
    if (s.location) {
      hasLocation[i] = 1;
      lat[i] = s.location.lat;
      lon[i] = s.location.lon;
    }
  }
  const currentShares = yield* readCurrentSteps(current, sourceIds, index);
  yield;
  const connections = yield* readConnectionsSteps(sources, index, K);
  return { settings, sourceIds, demand, rtt: rtt.done(n), hasLocation, lat, lon, current: currentShares, excluded: Int32Array.from(excluded), ...connections };
}

/**
 * The sources' connection state and sticky points, when any source has them (else nothing is
 * allocated). In steps, row by row: at 1M the four NaN-filled sources × origins arrays are ~0.8 GB of
 * fresh pages, and filling each in one call stalled the scheduler's thread 56–361 ms.
 */
function* readConnectionsSteps(sources: SourceState[], index: OriginIndex, K: number): Steps<Pick<DenseProblem, 'connections' | 'pick'>> {
  const n = sources.length;
  const any = sources.some((s) => s.connections);
  const anyPick = sources.some((s) => s.pick !== undefined);
  const out: Pick<DenseProblem, 'connections' | 'pick'> = {};
  if (any) {
    const c: DenseConnections = { effective: new Float64Array(n * K), survival: new Float64Array(n * K), meanSurvival: new Float64Array(n * K), pinnedEnd: new Float64Array(n * K), pinnedMean: new Float64Array(n * K), answerSurvival: new Float64Array(n).fill(NaN) };
    // One key cache per field: each field's records list their origins in the same order source after source.
    const caches = Array.from({ length: 5 }, () => new KeyColumnCache(index));
    // A row with a record reads 0 where the record names no origin; a row without one reads `absent`.
    const put = (target: Float64Array, base: number, rec: Record<string, number> | undefined, cache: KeyColumnCache, absent: number): void => {
      if (!rec) {
        if (absent !== 0) target.fill(absent, base, base + K);
        return;
      }
      let position = 0;
      for (const key in rec) {
        const j = cache.column(position++, key);
        if (j >= 0) target[base + j] = rec[key]!;
      }
    };
    for (let i = 0; i < n; i++) {
      if ((i + 1) % STEP_ITEMS === 0) yield;
      const conn = sources[i]!.connections;
      const base = i * K;
      put(c.effective, base, conn?.effective, caches[0]!, NaN);
      put(c.pinnedEnd, base, conn?.pinned?.end, caches[1]!, NaN);
      put(c.pinnedMean, base, conn?.pinned?.mean, caches[2]!, NaN);
      put(c.survival, base, conn?.survival, caches[3]!, 0);
      put(c.meanSurvival, base, conn?.mean_survival, caches[4]!, NaN);
      if (conn?.answer_survival !== undefined) c.answerSurvival[i] = conn.answer_survival;
    }
    out.connections = c;
  }
  if (anyPick) {
    const pick = new Float64Array(n).fill(NaN);
    for (let i = 0; i < n; i++) {
      const u = sources[i]!.pick;
      if (u !== undefined) pick[i] = u;
    }
    out.pick = pick;
  }
  return out;
}

/**
 * Maps the keys of successive records to origin indexes. Records built the same way list the same keys
 * in the same order, so comparing a key with the one seen at that position last time (interned strings:
 * a pointer compare) replaces a hash lookup per RTT; a differing key falls back to the Map.
 */
class KeyColumnCache {
  private readonly keys: string[] = [];
  private readonly columns: number[] = [];

  constructor(private readonly index: OriginIndex) {}

  column(position: number, key: string): number {
    if (this.keys[position] === key) return this.columns[position]!;
    const j = this.index.get(key) ?? -1;
    this.keys[position] = key;
    this.columns[position] = j;
    return j;
  }
}

/** Copies a source's RTTs into its row (for-in: no per-source key/value arrays are allocated). */
function readRtts(s: SourceState, rtt: RttBuilder, cache: KeyColumnCache): void {
  const record = s.rtt_ms;
  let position = 0;
  for (const key in record) {
    const j = cache.column(position++, key);
    if (j >= 0) rtt.push(j, record[key]!);
  }
}

/** SourceRtts row by row, the arrays grown by doubling (in scratch space when given: see densify). */
export class RttBuilder {
  private readonly start: Int32Array;
  private origin: Int32Array;
  private ms: Float64Array;
  private count = 0;

  constructor(
    rows: number,
    private readonly space?: Scratch,
  ) {
    this.start = space ? space.i32('input.rtt.start', rows + 1) : new Int32Array(rows + 1);
    this.origin = space ? space.i32('input.rtt.origin', 1024) : new Int32Array(1024);
    this.ms = space ? space.f64Raw('input.rtt.ms', 1024) : new Float64Array(1024);
  }

  /** Starts source i's row (rows in order; a row not started is empty). */
  row(i: number): void {
    this.start[i] = this.count;
  }

  push(j: number, ms: number): void {
    if (this.count === this.origin.length || this.count === this.ms.length) {
      const size = 2 * this.count;
      this.origin = grown(this.origin.subarray(0, this.count), this.space ? this.space.i32('input.rtt.origin', size) : new Int32Array(size));
      this.ms = grown(this.ms.subarray(0, this.count), this.space ? this.space.f64Raw('input.rtt.ms', size) : new Float64Array(size));
    }
    this.origin[this.count] = j;
    this.ms[this.count++] = ms;
  }

  done(rows: number): SourceRtts {
    this.start[rows] = this.count;
    const start = this.start.subarray(0, rows + 1);
    if (this.space) return { start, origin: this.origin.subarray(0, this.count), ms: this.ms.subarray(0, this.count) };
    return { start, origin: this.origin.slice(0, this.count), ms: this.ms.slice(0, this.count) };
  }
}

export function readCurrent(current: SchedulingProblem['current'], sourceIds: string[], index: OriginIndex): CurrentShares {
  return runToEnd(readCurrentSteps(current, sourceIds, index));
}

function* readCurrentSteps(current: SchedulingProblem['current'], sourceIds: string[], index: OriginIndex): Steps<CurrentShares> {
  const n = sourceIds.length;
  const has = new Uint8Array(n);
  const start = new Int32Array(n + 1);
  // Grown by doubling: JS arrays of numbers and TypedArray.from() cost ~2× more at 100k entries.
  let origin = new Int32Array(Math.max(16, n));
  let share = new Float64Array(origin.length);
  let count = 0;
  const extraIds: string[] = [];
  const extraIndex = new Map<string, number>();
  // No "is `current` empty" test first: for-in on a 100k-key object lists every key before the first
  // one (~50 ms), the lookups themselves cost less. (An inherited name such as "constructor" finds no
  // shares either way: the source counts as new.)
  const inForce: SchedulingProblem['current'] = current ?? {}; // absent: every source is new
  for (let i = 0; i < n; i++) {
    if ((i + 1) % STEP_ITEMS === 0) yield;
    start[i] = count;
    const record = inForce[sourceIds[i]!];
    if (!record) continue;
    has[i] = 1;
    for (const key in record) {
      if (count === origin.length) {
        origin = grown(origin, new Int32Array(2 * count));
        share = grown(share, new Float64Array(2 * count));
      }
      // Records in force list one to three origins in varying order: a lookup per entry, no cache.
      let j = index.get(key);
      if (j === undefined) {
        let e = extraIndex.get(key);
        if (e === undefined) extraIndex.set(key, (e = extraIds.push(key) - 1));
        j = -(1 + e);
      }
      origin[count] = j;
      share[count++] = record[key]!;
    }
  }
  start[n] = count;
  return { has, start, origin: origin.slice(0, count), share: share.slice(0, count), extraIds };
}

function grown<T extends Int32Array | Float64Array>(from: T, to: T): T {
  to.set(from);
  return to;
}

/** The buffers of a dense problem, for a transfer list. */
export function denseBuffers(p: DenseProblem): ArrayBuffer[] {
  const c = p.current;
  const k = p.connections;
  const extra = [...(k ? [k.effective, k.survival, k.meanSurvival, k.pinnedEnd, k.pinnedMean, k.answerSurvival] : []), ...(p.pick ? [p.pick] : [])];
  return [p.demand, p.rtt.start, p.rtt.origin, p.rtt.ms, p.hasLocation, p.lat, p.lon, c.has, c.start, c.origin, c.share, p.excluded, ...extra].map((a) => a.buffer as ArrayBuffer);
}
