// Turns raw series (from PromQL or from the embedded scraper) into one load balancer's inputs: maps
// agent node names and upstream addresses to origins and edges, guards every value.
import type { Origin } from '../../model/index.ts';
import { parseCidr } from '../../model/primitives.ts';
import { acceptRate, acceptRttMs, type RejectionCounter } from './guard.ts';
import type { LbInputs, ReadContext } from './types.ts';
import { emptyInputs } from './types.ts';

export interface Series {
  labels: Record<string, string>;
  value: number;
}

/** The inputs by name; each query (default or override) must return the labels named in QUERY_LABELS. */
export interface RawInputs {
  edge_demand: Series[];
  edge_rtt: Series[];
  subnet_demand: Series[];
  subnet_rtt: Series[];
  subnet_samples: Series[];
  origin_load: Series[];
  origin_health: Series[] | null;
}

export const QUERY_LABELS: Record<keyof RawInputs, string[]> = {
  edge_demand: ['edge'],
  edge_rtt: ['node', 'upstream'],
  subnet_demand: ['subnet'],
  subnet_rtt: ['node', 'subnet'],
  subnet_samples: ['node', 'subnet'],
  origin_load: ['node'],
  origin_health: ['node'],
};

function upstreamIndex(origins: Origin[]): Map<string, string> {
  const byUpstream = new Map<string, string>();
  for (const o of origins) {
    for (const a of o.addresses) {
      byUpstream.set(`${a}:${o.port}`, o.name);
      byUpstream.set(`[${a}]:${o.port}`, o.name);
    }
  }
  return byUpstream;
}

export function assembleInputs(raw: RawInputs, ctx: ReadContext, counter: RejectionCounter): LbInputs {
  const out = emptyInputs();
  const originNames = new Set(ctx.origins.map((o) => o.name));
  const edgeNames = new Set(ctx.edges.map((e) => e.name));
  const upstreams = upstreamIndex(ctx.origins);

  for (const s of raw.edge_demand) {
    const edge = s.labels.edge;
    if (!edge || !edgeNames.has(edge)) { counter.reject('edge_demand', 'unknown_label'); continue; }
    const v = acceptRate(s.value, 'edge_demand', counter);
    if (v !== null) out.edgeDemand.set(edge, (out.edgeDemand.get(edge) ?? 0) + v);
  }
  for (const s of raw.edge_rtt) {
    const edge = s.labels.node;
    const origin = s.labels.upstream ? upstreams.get(s.labels.upstream) : undefined;
    // An edge's agent sees upstreams of every load balancer; ones not in this one are not errors.
    if (!edge || !edgeNames.has(edge) || !origin) continue;
    const ms = acceptRttMs(s.value * 1000, 'edge_rtt', counter);
    if (ms === null) continue;
    const row = out.edgeRtt.get(edge) ?? new Map<string, number>();
    row.set(origin, ms);
    out.edgeRtt.set(edge, row);
  }
  for (const s of raw.subnet_demand) {
    const subnet = s.labels.subnet;
    if (!subnet || !parseCidr(subnet)) { counter.reject('subnet_demand', 'unknown_label'); continue; }
    const v = acceptRate(s.value, 'subnet_demand', counter);
    if (v !== null) out.subnetDemand.set(subnet, (out.subnetDemand.get(subnet) ?? 0) + v);
  }
  const samples = new Map<string, number>();
  for (const s of raw.subnet_samples) {
    if (s.labels.node && s.labels.subnet && Number.isFinite(s.value)) samples.set(`${s.labels.node}|${s.labels.subnet}`, s.value);
  }
  for (const s of raw.subnet_rtt) {
    const { node, subnet } = s.labels;
    if (!node || !subnet || !originNames.has(node)) continue;
    if (!parseCidr(subnet)) { counter.reject('subnet_rtt', 'unknown_label'); continue; }
    const ms = acceptRttMs(s.value * 1000, 'subnet_rtt', counter);
    if (ms === null) continue;
    const n = samples.get(`${node}|${subnet}`) ?? 0;
    if (n < ctx.lb.min_samples) continue;
    const row = out.subnetRtt.get(subnet) ?? new Map();
    row.set(node, { ms, samples: n });
    out.subnetRtt.set(subnet, row);
  }
  for (const s of raw.origin_load) {
    const node = s.labels.node;
    if (!node || !originNames.has(node)) continue;
    const v = acceptRate(s.value, 'origin_load', counter);
    if (v !== null) out.originLoad.set(node, (out.originLoad.get(node) ?? 0) + v);
  }
  for (const s of raw.origin_health ?? []) {
    const node = s.labels.node;
    if (!node || !originNames.has(node)) continue;
    if (!Number.isFinite(s.value)) { counter.reject('origin_health', Number.isNaN(s.value) ? 'nan' : 'infinite'); continue; }
    out.originHealth.set(node, (out.originHealth.get(node) ?? true) && s.value > 0);
  }
  return out;
}
