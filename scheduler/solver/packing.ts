// Compact, transferable forms of a problem and a decision for the worker thread. Structured-cloning a
// 100k-source problem (2M RTT properties) and its decision (weights, plan and diff: ~400k objects)
// costs ~1 s of the *caller's* event loop each way on this machine; typed arrays are transferred
// without copying and the object graphs are rebuilt on the side that can afford it (the problem in the
// worker; only the decision's records on the caller's side).
import type { SchedulingDecision, SchedulingProblem, Weights } from '../core/types.ts';

export interface PackedProblem {
  settings: Omit<SchedulingProblem, 'sources' | 'current'>;
  sourceIds: string[];
  demand: Float64Array;
  /** sources × origins; NaN = not learned. RTTs to undeclared origins are dropped (the core ignores them). */
  rtt: Float64Array;
  /** NaN when the source has no location. */
  lat: Float64Array;
  lon: Float64Array;
  /** 1 when the source has weights in force. */
  hasCurrent: Uint8Array;
  /** sources × origins shares in force (0 when absent). */
  current: Float64Array;
  /** Shares in force on origins that are not declared (rare; they are freed by the core). */
  currentExtra: Record<string, Record<string, number>>;
}

export function packProblem(p: SchedulingProblem): { packed: PackedProblem; transfer: ArrayBuffer[] } {
  const { sources, current, ...settings } = p;
  const n = sources.length;
  const K = p.origins.length;
  const ids = p.origins.map((o) => o.id);
  const index = new Map(ids.map((id, j) => [id, j]));
  const rtt = new Float64Array(n * K).fill(NaN);
  const lat = new Float64Array(n).fill(NaN);
  const lon = new Float64Array(n).fill(NaN);
  const demand = new Float64Array(n);
  const hasCurrent = new Uint8Array(n);
  const cur = new Float64Array(n * K);
  const currentExtra: Record<string, Record<string, number>> = {};
  const sourceIds = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const s = sources[i]!;
    sourceIds[i] = s.id;
    demand[i] = s.demand_rps;
    for (let j = 0; j < K; j++) {
      const v = s.rtt_ms[ids[j]!];
      if (v !== undefined) rtt[i * K + j] = v;
    }
    if (s.location) {
      lat[i] = s.location.lat;
      lon[i] = s.location.lon;
    }
    const c = current[s.id];
    if (c) {
      hasCurrent[i] = 1;
      for (const id in c) {
        const j = index.get(id);
        if (j !== undefined) cur[i * K + j] = c[id]!;
        else (currentExtra[s.id] ??= {})[id] = c[id]!;
      }
    }
  }
  const packed: PackedProblem = { settings, sourceIds, demand, rtt, lat, lon, hasCurrent, current: cur, currentExtra };
  return { packed, transfer: [demand.buffer, rtt.buffer, lat.buffer, lon.buffer, hasCurrent.buffer, cur.buffer] as ArrayBuffer[] };
}

export function unpackProblem(pp: PackedProblem): SchedulingProblem {
  const K = pp.settings.origins.length;
  const ids = pp.settings.origins.map((o) => o.id);
  const n = pp.sourceIds.length;
  const sources: SchedulingProblem['sources'] = new Array(n);
  const current: Weights = {};
  for (let i = 0; i < n; i++) {
    const rtt_ms: Record<string, number> = {};
    for (let j = 0; j < K; j++) {
      const v = pp.rtt[i * K + j]!;
      if (!Number.isNaN(v)) rtt_ms[ids[j]!] = v;
    }
    const id = pp.sourceIds[i]!;
    sources[i] = { id, demand_rps: pp.demand[i]!, rtt_ms, location: Number.isNaN(pp.lat[i]!) ? undefined : { lat: pp.lat[i]!, lon: pp.lon[i]! } };
    if (pp.hasCurrent[i]) {
      const c: Record<string, number> = { ...(pp.currentExtra[id] ?? {}) };
      for (let j = 0; j < K; j++) {
        const v = pp.current[i * K + j]!;
        if (v !== 0) c[ids[j]!] = v;
      }
      current[id] = c;
    }
  }
  return { ...pp.settings, sources, current };
}

export interface PackedDecision {
  rest: Omit<SchedulingDecision, 'weights' | 'plan' | 'diff'>;
  originIds: string[];
  sourceIds: string[];
  weights: Float64Array;
  plan: Float64Array;
  diffSource: Int32Array;
  /** Index into originIds, or −(1 + index into diffExtraOrigins) for an undeclared origin. */
  diffOrigin: Int32Array;
  diffExtraOrigins: string[];
  diffFrom: Float64Array;
  diffTo: Float64Array;
}

export function packDecision(d: SchedulingDecision, p: SchedulingProblem): { packed: PackedDecision; transfer: ArrayBuffer[] } {
  const { weights, plan, diff, ...rest } = d;
  const originIds = p.origins.map((o) => o.id);
  const sourceIds = p.sources.map((s) => s.id);
  const K = originIds.length;
  const oIndex = new Map(originIds.map((id, j) => [id, j]));
  const sIndex = new Map(sourceIds.map((id, i) => [id, i]));
  const denseOf = (w: Weights): Float64Array => {
    const out = new Float64Array(sourceIds.length * K);
    sourceIds.forEach((id, i) => {
      const rec = w[id];
      if (rec) for (const o in rec) out[i * K + oIndex.get(o)!] = rec[o]!;
    });
    return out;
  };
  const extra: string[] = [];
  const diffSource = new Int32Array(diff.length);
  const diffOrigin = new Int32Array(diff.length);
  const diffFrom = new Float64Array(diff.length);
  const diffTo = new Float64Array(diff.length);
  diff.forEach((c, k) => {
    diffSource[k] = sIndex.get(c.source)!;
    const j = oIndex.get(c.origin_id);
    if (j !== undefined) diffOrigin[k] = j;
    else {
      let e = extra.indexOf(c.origin_id);
      if (e < 0) e = extra.push(c.origin_id) - 1;
      diffOrigin[k] = -(1 + e);
    }
    diffFrom[k] = c.from;
    diffTo[k] = c.to;
  });
  const w = denseOf(weights);
  const pl = denseOf(plan);
  const packed: PackedDecision = { rest, originIds, sourceIds, weights: w, plan: pl, diffSource, diffOrigin, diffExtraOrigins: extra, diffFrom, diffTo };
  return { packed, transfer: [w.buffer, pl.buffer, diffSource.buffer, diffOrigin.buffer, diffFrom.buffer, diffTo.buffer] as ArrayBuffer[] };
}

export function unpackDecision(pd: PackedDecision): SchedulingDecision {
  const K = pd.originIds.length;
  const recordsOf = (dense: Float64Array): Weights => {
    const out: Weights = {};
    pd.sourceIds.forEach((id, i) => {
      if (pd.rest.status !== 'ok') return;
      const rec: Record<string, number> = {};
      for (let j = 0; j < K; j++) {
        const v = dense[i * K + j]!;
        if (v > 0) rec[pd.originIds[j]!] = v;
      }
      out[id] = rec;
    });
    return out;
  };
  const diff: SchedulingDecision['diff'] = new Array(pd.diffSource.length);
  for (let k = 0; k < diff.length; k++) {
    const o = pd.diffOrigin[k]!;
    diff[k] = { source: pd.sourceIds[pd.diffSource[k]!]!, origin_id: o >= 0 ? pd.originIds[o]! : pd.diffExtraOrigins[-o - 1]!, from: pd.diffFrom[k]!, to: pd.diffTo[k]! };
  }
  return { ...pd.rest, weights: recordsOf(pd.weights), plan: recordsOf(pd.plan), diff };
}
