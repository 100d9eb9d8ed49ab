// Turns raw series (from PromQL or from the embedded scraper) into one load balancer's measurements:
// maps agent node names and upstream addresses to origins and edges, guards every value, and tags every
// rate with the unit it counts (units.ts). Converting them into the load balancer's capacity unit is
// the next, separate step (convert.ts).
import { capacityUnitOf, type Listener, type Origin } from '../../model/index.ts';
import { parseCidr } from '../../model/primitives.ts';
import { acceptRate, acceptRttMs, type RejectionCounter } from './guard.ts';
import { runToEnd, STEP_ITEMS, type Steps } from '../../lib/steps.ts';
import type { OpenConnections, ReadContext, SubnetRtt } from './types.ts';
import { rate, type CapacityUnit, type CountedUnit, type Rate } from './units.ts';

export interface Series {
  labels: Record<string, string>;
  value: number;
}

/** The inputs by name; each query (default or override) must return the labels named in QUERY_LABELS. */
export interface RawInputs {
  edge_demand: Series[];
  edge_origin_demand: Series[];
  edge_rtt: Series[];
  subnet_demand: Series[];
  subnet_connection_seconds: Series[];
  subnet_closes: Series[];
  subnet_rtt: Series[];
  subnet_samples: Series[];
  origin_requests: Series[];
  origin_connections: Series[];
  origin_bytes: Series[];
  edge_connection_seconds: Series[];
  edge_closes: Series[];
  subnet_open: Series[];
  subnet_surviving: Series[];
  subnet_surviving_mean: Series[];
  edge_open: Series[];
  edge_surviving: Series[];
  edge_surviving_mean: Series[];
  /** When each origin agent's last complete poll finished (Unix seconds): the time its survivors are of. */
  origin_polled: Series[];
  origin_health: Series[] | null;
}

export type QueryName = keyof RawInputs;

/** Labels each input's series must carry (others, such as `node` on subnet_demand, are used when present). */
export const QUERY_LABELS: Record<QueryName, string[]> = {
  edge_demand: ['edge'],
  edge_origin_demand: ['edge', 'origin'],
  edge_rtt: ['node', 'upstream'],
  subnet_demand: ['subnet'],
  subnet_connection_seconds: ['subnet'],
  subnet_closes: ['subnet'],
  subnet_rtt: ['node', 'subnet'],
  subnet_samples: ['node', 'subnet'],
  origin_requests: ['node'],
  origin_connections: ['node'],
  origin_bytes: ['node'],
  edge_connection_seconds: ['node'],
  edge_closes: ['node'],
  subnet_open: ['node', 'subnet'],
  subnet_surviving: ['node', 'subnet'],
  subnet_surviving_mean: ['node', 'subnet'],
  edge_open: ['node'],
  edge_surviving: ['node'],
  edge_surviving_mean: ['node'],
  origin_polled: ['node'],
  origin_health: ['node'],
};


/** Per origin name (`node`), or '' for a series without a node label (an override that summed it away). */
export type ByOrigin<U extends CountedUnit> = Map<string, Rate<U>>;

export interface Measurements {
  unit: CapacityUnit;
  /** edge name -> listener ("vip:port"; '' without the label) -> rate, in the unit the listener counts. */
  edgeDemand: Map<string, Map<string, Rate<CountedUnit>>>;
  /** edge name -> origin name -> what the edge's data plane sent there (unit of the listeners, see edgeOriginUnit). */
  edgeOrigin: Map<string, Map<string, Rate<CountedUnit>>>;
  /** The unit of edgeOrigin: requests (HTTP listeners), connections (TCP/UDP), null (mixed: not used). */
  edgeOriginUnit: CountedUnit | null;
  edgeRtt: Map<string, Map<string, number>>;
  /** subnet -> origin -> new connections per second. */
  subnetConnections: Map<string, ByOrigin<'connections'>>;
  /** subnet -> origin -> connection-seconds per second (the mean number of its connections open there). */
  subnetConnectionSeconds: Map<string, ByOrigin<'connection_seconds'>>;
  /** subnet -> origin -> connections that closed, per second. */
  subnetCloses: Map<string, ByOrigin<'connections'>>;
  subnetRtt: Map<string, Map<string, SubnetRtt>>;
  originRequests: Map<string, Rate<'requests'>>;
  originConnections: Map<string, Rate<'connections'>>;
  originBytes: Map<string, Rate<'bytes'>>;
  /** edge name -> connection-seconds per second of client connections on this load balancer's listener ports. */
  edgeConnectionSeconds: Map<string, Rate<'connection_seconds'>>;
  edgeCloses: Map<string, Rate<'connections'>>;
  /** subnet -> origin -> its open connections there and their expected survivors (the origin agent's gauges). */
  subnetSurvivors: Map<string, Map<string, OpenConnections>>;
  /** edge name -> client connections open on this load balancer's listener ports, and their survivors. */
  edgeSurvivors: Map<string, OpenConnections>;
  /** origin name -> Unix seconds of the agent poll its survivors are from. */
  originPolledAt: Map<string, number>;
  originHealth: Map<string, boolean>;
}

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

/** What a listener's data-plane counter counts: HTTP modes count requests, TCP/UDP connections (sessions). */
export function listenerUnit(l: Pick<Listener, 'protocol'>): 'requests' | 'connections' {
  return l.protocol === 'http' || l.protocol === 'https' ? 'requests' : 'connections';
}

function listenerKey(l: Pick<Listener, 'vip' | 'port'>): string {
  return l.vip.includes(':') ? `[${l.vip}]:${l.port}` : `${l.vip}:${l.port}`;
}

/**
 * The unit of edge demand series. In the requests unit the default query reads the data plane's counters,
 * which count requests on HTTP listeners and connections on TCP ones (the `listener` label says which);
 * a series without it, and every series in the other units, is taken to be in the capacity unit.
 */
function edgeDemandUnit(unit: CapacityUnit, listener: string | undefined, byListener: Map<string, Listener>): CountedUnit {
  if (unit !== 'requests' || !listener) return unit;
  const l = byListener.get(listener);
  return l ? listenerUnit(l) : unit;
}

/** The unit of the edges' per-origin counters for this load balancer; null when its listeners disagree. */
export function edgeOriginUnitOf(listeners: readonly Listener[]): CountedUnit | null {
  const units = new Set(listeners.map(listenerUnit));
  return units.size === 1 ? [...units][0]! : null;
}

function byTwoKeys<U extends CountedUnit>(target: Map<string, Map<string, Rate<U>>>, a: string, b: string, r: Rate<U>): void {
  const row = target.get(a) ?? new Map<string, Rate<U>>();
  const before = row.get(b);
  row.set(b, before ? rate(r.unit, before.perSecond + r.perSecond) : r);
  target.set(a, row);
}

function byKey<U extends CountedUnit>(target: Map<string, Rate<U>>, key: string, r: Rate<U>): void {
  const before = target.get(key);
  target.set(key, before ? rate(r.unit, before.perSecond + r.perSecond) : r);
}

export function assembleInputs(raw: RawInputs, ctx: ReadContext, counter: RejectionCounter): Measurements {
  return runToEnd(assembleInputsSteps(raw, ctx, counter));
}

/** assembleInputs in steps (lib/steps.ts): at 1M subnets ~800k series, seconds of the reader's thread. */
export function* assembleInputsSteps(raw: RawInputs, ctx: ReadContext, counter: RejectionCounter): Steps<Measurements> {
  const unit = capacityUnitOf(ctx.lb);
  const originNames = new Set(ctx.origins.map((o) => o.name));
  const edgeNames = new Set(ctx.edges.map((e) => e.name));
  const upstreams = upstreamIndex(ctx.origins);
  const byListener = new Map(ctx.lb.listeners.map((l) => [listenerKey(l), l]));
  const out: Measurements = {
    unit,
    edgeDemand: new Map(),
    edgeOrigin: new Map(),
    edgeOriginUnit: edgeOriginUnitOf(ctx.lb.listeners),
    edgeRtt: new Map(),
    subnetConnections: new Map(),
    subnetConnectionSeconds: new Map(),
    subnetCloses: new Map(),
    subnetRtt: new Map(),
    originRequests: new Map(),
    originConnections: new Map(),
    originBytes: new Map(),
    edgeConnectionSeconds: new Map(),
    edgeCloses: new Map(),
    subnetSurvivors: new Map(),
    edgeSurvivors: new Map(),
    originPolledAt: new Map(),
    originHealth: new Map(),
  };
  let step = 0;

  for (const s of raw.edge_demand) {
    // Up to edges × origins series (200k at 1,000 × 200): paced like the per-subnet inputs.
    if (++step % STEP_ITEMS === 0) yield;
    const edge = s.labels.edge;
    if (!edge || !edgeNames.has(edge)) { counter.reject('edge_demand', 'unknown_label'); continue; }
    const v = acceptRate(s.value, 'edge_demand', counter);
    if (v !== null) byTwoKeys(out.edgeDemand, edge, s.labels.listener ?? '', rate(edgeDemandUnit(unit, s.labels.listener, byListener), v));
  }
  for (const s of raw.edge_origin_demand) {
    if (++step % STEP_ITEMS === 0) yield;
    const { edge, origin } = s.labels;
    // Other load balancers' origins share the metric: not errors.
    if (!edge || !origin || !edgeNames.has(edge) || !originNames.has(origin) || !out.edgeOriginUnit) continue;
    const v = acceptRate(s.value, 'edge_origin_demand', counter);
    if (v !== null) byTwoKeys(out.edgeOrigin, edge, origin, rate(out.edgeOriginUnit, v));
  }
  for (const s of raw.edge_rtt) {
    if (++step % STEP_ITEMS === 0) yield;
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
  const perSubnet = function* <U extends CountedUnit>(series: Series[], input: QueryName, u: U, target: Map<string, ByOrigin<U>>): Steps<void> {
    for (const s of series) {
      if (++step % STEP_ITEMS === 0) yield;
      const subnet = s.labels.subnet;
      if (!subnet || !parseCidr(subnet)) { counter.reject(input, 'unknown_label'); continue; }
      const node = s.labels.node ?? '';
      if (node !== '' && !originNames.has(node)) continue; // another load balancer's origin
      const v = acceptRate(s.value, input, counter);
      if (v !== null) byTwoKeys(target, subnet, node, rate(u, v));
    }
  };
  yield* perSubnet(raw.subnet_demand, 'subnet_demand', 'connections', out.subnetConnections);
  yield* perSubnet(raw.subnet_connection_seconds, 'subnet_connection_seconds', 'connection_seconds', out.subnetConnectionSeconds);
  yield* perSubnet(raw.subnet_closes, 'subnet_closes', 'connections', out.subnetCloses);
  const samples = new Map<string, number>();
  for (const s of raw.subnet_samples) {
    if (++step % STEP_ITEMS === 0) yield;
    if (s.labels.node && s.labels.subnet && Number.isFinite(s.value)) samples.set(`${s.labels.node}|${s.labels.subnet}`, s.value);
  }
  for (const s of raw.subnet_rtt) {
    if (++step % STEP_ITEMS === 0) yield;
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
  const perNode = <U extends CountedUnit>(series: Series[], input: QueryName, u: U, names: Set<string>, target: Map<string, Rate<U>>): void => {
    for (const s of series) {
      const node = s.labels.node;
      if (!node || !names.has(node)) continue;
      const v = acceptRate(s.value, input, counter);
      if (v !== null) byKey(target, node, rate(u, v));
    }
  };
  perNode(raw.origin_requests, 'origin_requests', 'requests', originNames, out.originRequests);
  perNode(raw.origin_connections, 'origin_connections', 'connections', originNames, out.originConnections);
  perNode(raw.origin_bytes, 'origin_bytes', 'bytes', originNames, out.originBytes);
  perNode(raw.edge_connection_seconds, 'edge_connection_seconds', 'connection_seconds', edgeNames, out.edgeConnectionSeconds);
  perNode(raw.edge_closes, 'edge_closes', 'connections', edgeNames, out.edgeCloses);
  const survivorsOf = function* (series: Series[], input: QueryName, field: keyof OpenConnections, key: (s: Series) => string | null, get: (k: string) => OpenConnections): Steps<void> {
    for (const s of series) {
      if (++step % STEP_ITEMS === 0) yield;
      const k = key(s);
      if (k === null) continue;
      const v = acceptRate(s.value, input, counter);
      if (v !== null) get(k)[field] += v;
    }
  };
  const subnetKey = (input: QueryName) => (s: Series): string | null => {
    const { subnet, node } = s.labels;
    if (!node || !originNames.has(node)) return null;
    if (!subnet || !parseCidr(subnet)) return counter.reject(input, 'unknown_label'), null;
    return `${subnet}|${node}`;
  };
  const subnetEntry = (k: string): OpenConnections => {
    const [subnet, node] = k.split('|') as [string, string];
    const row = out.subnetSurvivors.get(subnet) ?? new Map<string, OpenConnections>();
    out.subnetSurvivors.set(subnet, row);
    let e = row.get(node);
    if (!e) row.set(node, (e = { open: 0, surviving: 0, survivingMean: 0 }));
    return e;
  };
  yield* survivorsOf(raw.subnet_open, 'subnet_open', 'open', subnetKey('subnet_open'), subnetEntry);
  yield* survivorsOf(raw.subnet_surviving, 'subnet_surviving', 'surviving', subnetKey('subnet_surviving'), subnetEntry);
  yield* survivorsOf(raw.subnet_surviving_mean, 'subnet_surviving_mean', 'survivingMean', subnetKey('subnet_surviving_mean'), subnetEntry);
  const edgeKey = (s: Series): string | null => (s.labels.node && edgeNames.has(s.labels.node) ? s.labels.node : null);
  const edgeEntry = (k: string): OpenConnections => {
    let e = out.edgeSurvivors.get(k);
    if (!e) out.edgeSurvivors.set(k, (e = { open: 0, surviving: 0, survivingMean: 0 }));
    return e;
  };
  yield* survivorsOf(raw.edge_open, 'edge_open', 'open', edgeKey, edgeEntry);
  yield* survivorsOf(raw.edge_surviving, 'edge_surviving', 'surviving', edgeKey, edgeEntry);
  yield* survivorsOf(raw.edge_surviving_mean, 'edge_surviving_mean', 'survivingMean', edgeKey, edgeEntry);
  for (const s of raw.origin_polled) {
    const node = s.labels.node;
    if (!node || !originNames.has(node)) continue;
    if (!(Number.isFinite(s.value) && s.value > 0)) { counter.reject('origin_polled', Number.isNaN(s.value) ? 'nan' : 'infinite'); continue; }
    out.originPolledAt.set(node, Math.max(out.originPolledAt.get(node) ?? 0, s.value));
  }
  for (const s of raw.origin_health ?? []) {
    const node = s.labels.node;
    if (!node || !originNames.has(node)) continue;
    if (!Number.isFinite(s.value)) { counter.reject('origin_health', Number.isNaN(s.value) ? 'nan' : 'infinite'); continue; }
    out.originHealth.set(node, (out.originHealth.get(node) ?? true) && s.value > 0);
  }
  return out;
}
