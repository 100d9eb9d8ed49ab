// The one step from measurements in their own units (assemble.ts) to the load balancer's capacity
// unit. Every demand and load the scheduler plans with passes through here, and `conversions` records
// which unit each input was counted in and how it was converted (it goes into the decision record).
//
// requests (default)
//   edge demand     the edge data plane's request counter (HTTP listeners: HAProxy req_tot); TCP
//                   listeners count connections: × the requests per connection this edge's connections
//                   carry at the origins (below), else the load balancer's, else 1 (assumed, and said).
//   origin load     the origin's own request counter (`origin_requests`: nginx, HAProxy, Envoy, an app's
//                   http_requests_total); else the edges' per-origin counters plus DNS clients'
//                   connections × 1 (assumed, and said); else the agent's connections × 1 (assumed).
//   subnet demand   connections × that origin's measured requests per connection, per origin. An origin
//                   with a request counter shares out the requests its subnets (DNS clients, TCP edges)
//                   sent, D_o = R_o − what HTTP edges sent it (their own counters): every new connection
//                   carries one request, the rest is spread over the connections in proportion to the
//                   time they were open (connection-seconds),
//                      requests_so = n_so + (D_o − N_o) · x_so / X_o        (D_o ≥ N_o, X_o > 0)
//                      requests_so = n_so · D_o / N_o                        (otherwise)
//                   so one-request connections count one each, and a long-lived keep-alive connection
//                   counts for the requests it carries while open, not only when it opened. Σ_s
//                   requests_so = D_o: the subnets' demand adds up to what the origin counted.
// connections      everything from the agents' new-connection counters (edges: the edge agent's, on
//                   this load balancer's listener ports).
// bytes            origin load and edge demand from the agents' byte counters; subnet demand shares an
//                   origin's bytes out over its subnets by connection-seconds (new connections without).
import { runToEnd, STEP_ITEMS, type Steps } from '../../lib/steps.ts';
import type { Measurements } from './assemble.ts';
import { EdgeSubnets } from './edge-subnets.ts';
import { emptyInputs, type ConnectionInputs, type LbInputs, type ReadContext } from './types.ts';
import { convert, expectUnit, plus, ratio, sum, zero, type CapacityUnit, type Rate, type Ratio } from './units.ts';

/** How an origin's connections convert into the capacity unit: per new connection and per connection-second. */
interface PerConnection<U extends CapacityUnit> {
  perConnection: Ratio<U, 'connections'>;
  perOpenSecond: Ratio<U, 'connection_seconds'>;
}

/** What the per-origin shares of one origin were computed from. */
interface OriginShare<U extends CapacityUnit> {
  by: PerConnection<U>;
  /** Subnet -> what it sent to this origin, in the unit. */
  alloc: Map<string, Rate<U>>;
}

export function toCapacityUnit(m: Measurements, ctx: ReadContext): LbInputs {
  return runToEnd(toCapacityUnitSteps(m, ctx));
}

/** toCapacityUnit in steps (lib/steps.ts): its per-subnet passes are ~0.4 s of the reader's thread at 1M subnets. */
export function* toCapacityUnitSteps(m: Measurements, ctx: ReadContext): Steps<LbInputs> {
  const unit = m.unit;
  const out = emptyInputs(unit);
  out.edgeRtt = m.edgeRtt;
  out.subnetRtt = m.subnetRtt;
  out.originHealth = m.originHealth;
  let step = 0;
  const subnets = new Set<string>();
  for (const table of [m.subnetConnections, m.subnetConnectionSeconds]) {
    for (const s of table.keys()) {
      subnets.add(s);
      if (++step % STEP_ITEMS === 0) yield;
    }
  }
  const edgeSubnet = new Map<string, string>();
  const edgeIndex = new EdgeSubnets(ctx.edges);
  for (const s of subnets) {
    if (++step % STEP_ITEMS === 0) yield;
    const e = edgeIndex.edgeOf(s);
    if (e) edgeSubnet.set(s, e);
  }
  // HTTP edges pool their connections to the origins: their traffic there is counted by the edges' own
  // per-origin request counters, not by connections. TCP edges open one origin connection per client.
  const httpEdges = m.edgeOriginUnit === 'requests';
  // Per origin, in steps: at 1M subnets × 200 origins the shares are ~400k rows, 0.1-0.3 s in one piece.
  yield* indexSubnetsByOrigin(m);
  const shares = unit === 'requests' ? yield* requestShares(m, ctx, edgeSubnet, httpEdges) : unit === 'bytes' ? yield* byteShares(m, ctx) : yield* connectionShares(m, ctx);

  // Subnet (DNS) demand: what each subnet sent to each origin, summed over the origins. Gathered
  // origin by origin (each alloc holds only that origin's subnets): asking every origin about every
  // subnet was subnets × origins lookups, most of the inputs' time at 200 origins.
  const bySubnet = new Map<string, Rate<CapacityUnit>[]>();
  for (const sh of shares.values()) {
    yield;
    for (const [s, a] of sh.alloc) {
      const list = bySubnet.get(s);
      if (list) list.push(a);
      else bySubnet.set(s, [a]);
    }
  }
  for (const s of subnets) {
    if (++step % STEP_ITEMS === 0) yield;
    if (edgeSubnet.has(s)) continue;
    const parts: Rate<CapacityUnit>[] = bySubnet.get(s) ?? [];
    // A series without a node label (an override that summed it away): the load balancer's ratio.
    const unlabelled = m.subnetConnections.get(s)?.get('');
    if (unlabelled) parts.push(convert(unlabelled, lbPerConnection(shares, m, unit)));
    if (parts.length > 0) out.subnetDemand.set(s, sum(unit, parts).perSecond);
  }
  out.conversions.subnet_demand = describeSubnetConversion(unit, shares);

  for (const [edge, byListener] of m.edgeDemand) {
    const parts: Rate<CapacityUnit>[] = [];
    const how = new Set<string>();
    for (const r of byListener.values()) {
      if (r.unit === unit) {
        parts.push(expectUnit(r, unit, 'edge demand'));
        how.add(`${unit} (edge counter)`);
      } else if (r.unit === 'connections' && unit === 'requests') {
        const by = edgePerConnection(edge, m, shares as Map<string, OriginShare<'requests'>>, edgeSubnet);
        parts.push(expectUnit(convert(expectUnit(r, 'connections', 'edge demand'), by), unit, 'edge demand'));
        how.add(`connections × ${fmt(by.value)} requests per connection (${by.basis})`);
      }
    }
    if (parts.length > 0) {
      out.edgeDemand.set(edge, sum(unit, parts).perSecond);
      out.conversions.edge_demand[edge] = [...how].join(' + ');
    }
  }

  for (const o of ctx.origins) {
    const load = originLoad(o.name, unit, m, shares, edgeSubnet);
    if (!load) continue;
    out.originLoad.set(o.name, load.rate.perSecond);
    out.conversions.origin_load[o.name] = load.how;
  }
  for (const [o, sh] of shares) {
    const r: Record<string, number> = {};
    if (sh.by.perConnection.value > 0) r[`${unit}_per_connection`] = round(sh.by.perConnection.value);
    if (sh.by.perOpenSecond.value > 0) r[`${unit}_per_connection_second`] = round(sh.by.perOpenSecond.value);
    out.conversions.ratios[o] = r;
  }
  yield;
  out.connections = yield* connectionTurnover(m, edgeSubnet, subnets);
  return out;
}

/** requests: per origin, the shares of D_o = R_o − (HTTP edges' requests) among its subnets. */
function* requestShares(m: Measurements, ctx: ReadContext, edgeSubnet: Map<string, string>, httpEdges: boolean): Steps<Map<string, OriginShare<'requests'>>> {
  const out = new Map<string, OriginShare<'requests'>>();
  for (const o of ctx.origins) {
    yield;
    const { n, x } = originSubnets(m, o.name, (s) => !(httpEdges && edgeSubnet.has(s)));
    if (n.size === 0 && x.size === 0) continue;
    const R = m.originRequests.get(o.name);
    let by: PerConnection<'requests'>;
    if (!R) {
      by = { perConnection: ratio('requests', 'connections', 1, `assumed 1: no request counter for ${o.name} (set origin_requests)`, true), perOpenSecond: ratio('requests', 'connection_seconds', 0, 'none') };
    } else {
      const fromEdges = httpEdges ? sum('requests', [...m.edgeOrigin.values()].flatMap((row) => { const r = row.get(o.name); return r ? [expectUnit(r, 'requests', 'edge origin counter')] : []; })) : zero('requests');
      const D = Math.max(0, R.perSecond - fromEdges.perSecond);
      const N = sum('connections', n.values()).perSecond;
      const X = sum('connection_seconds', x.values()).perSecond;
      if (X > 0 && D >= N) {
        by = {
          perConnection: ratio('requests', 'connections', N > 0 ? 1 : 0, `measured at ${o.name}: one request per new connection`),
          perOpenSecond: ratio('requests', 'connection_seconds', (D - N) / X, `measured at ${o.name}: the rest of its ${fmt(D)} req/s per connection-second`),
        };
      } else if (N > 0) {
        by = { perConnection: ratio('requests', 'connections', D / N, `measured at ${o.name}: ${fmt(D)} req/s over ${fmt(N)} new connections/s`), perOpenSecond: ratio('requests', 'connection_seconds', 0, 'none') };
      } else {
        by = { perConnection: ratio('requests', 'connections', 0, 'none'), perOpenSecond: ratio('requests', 'connection_seconds', X > 0 ? D / X : 0, `measured at ${o.name}`) };
      }
    }
    out.set(o.name, { by, alloc: allocate('requests', n, x, by) });
  }
  return out;
}

/** connections: each subnet's new connections, as they are. */
function* connectionShares(m: Measurements, ctx: ReadContext): Steps<Map<string, OriginShare<'connections'>>> {
  const out = new Map<string, OriginShare<'connections'>>();
  const by: PerConnection<'connections'> = { perConnection: ratio('connections', 'connections', 1, 'counted'), perOpenSecond: ratio('connections', 'connection_seconds', 0, 'none') };
  for (const o of ctx.origins) {
    yield;
    const { n, x } = originSubnets(m, o.name, () => true);
    if (n.size > 0) out.set(o.name, { by, alloc: allocate('connections', n, x, by) });
  }
  return out;
}

/** bytes: an origin's bytes shared out over its subnets by connection-seconds (new connections without). */
function* byteShares(m: Measurements, ctx: ReadContext): Steps<Map<string, OriginShare<'bytes'>>> {
  const out = new Map<string, OriginShare<'bytes'>>();
  for (const o of ctx.origins) {
    yield;
    const B = m.originBytes.get(o.name);
    const { n, x } = originSubnets(m, o.name, () => true);
    if (!B || (n.size === 0 && x.size === 0)) continue;
    const N = sum('connections', n.values()).perSecond;
    const X = sum('connection_seconds', x.values()).perSecond;
    const by: PerConnection<'bytes'> =
      X > 0
        ? { perConnection: ratio('bytes', 'connections', 0, 'none'), perOpenSecond: ratio('bytes', 'connection_seconds', B.perSecond / X, `measured at ${o.name}: bytes per connection-second`) }
        : { perConnection: ratio('bytes', 'connections', N > 0 ? B.perSecond / N : 0, `measured at ${o.name}: bytes per new connection`), perOpenSecond: ratio('bytes', 'connection_seconds', 0, 'none') };
    out.set(o.name, { by, alloc: allocate('bytes', n, x, by) });
  }
  return out;
}

/** The origin's subnets (with a node label) that `keep` admits: new connections and connection-seconds. */
/** Per origin, its subnets' rows: built once per Measurements (asked once per origin). */
const byOriginCache = new WeakMap<Measurements, Map<string, { n: Map<string, Rate<'connections'>>; x: Map<string, Rate<'connection_seconds'>> }>>();

function subnetsByOrigin(m: Measurements) {
  if (!byOriginCache.has(m)) runToEnd(indexSubnetsByOrigin(m));
  return byOriginCache.get(m)!;
}

/** Builds subnetsByOrigin's index in steps (lib/steps.ts): every subnet × origin row, once. */
function* indexSubnetsByOrigin(m: Measurements): Steps<void> {
  if (byOriginCache.has(m)) return;
  const index: NonNullable<ReturnType<typeof byOriginCache.get>> = new Map();
  const at = (origin: string) => {
    let e = index.get(origin);
    if (!e) index.set(origin, (e = { n: new Map(), x: new Map() }));
    return e;
  };
  let step = 0;
  for (const [s, row] of m.subnetConnections) {
    for (const [origin, r] of row) at(origin).n.set(s, r);
    if (++step % STEP_ITEMS === 0) yield;
  }
  for (const [s, row] of m.subnetConnectionSeconds) {
    for (const [origin, r] of row) at(origin).x.set(s, r);
    if (++step % STEP_ITEMS === 0) yield;
  }
  byOriginCache.set(m, index);
}

/** The subnets an origin saw (new connections, connection-seconds), those `keep` accepts. */
function originSubnets(m: Measurements, origin: string, keep: (subnet: string) => boolean) {
  const n = new Map<string, Rate<'connections'>>();
  const x = new Map<string, Rate<'connection_seconds'>>();
  const rows = subnetsByOrigin(m).get(origin);
  if (rows) {
    for (const [s, r] of rows.n) if (keep(s)) n.set(s, r);
    for (const [s, r] of rows.x) if (keep(s)) x.set(s, r);
  }
  return { n, x };
}

function allocate<U extends CapacityUnit>(unit: U, n: Map<string, Rate<'connections'>>, x: Map<string, Rate<'connection_seconds'>>, by: PerConnection<U>): Map<string, Rate<U>> {
  const alloc = new Map<string, Rate<U>>();
  for (const s of new Set([...n.keys(), ...x.keys()])) {
    const a = convert(n.get(s) ?? zero('connections'), by.perConnection);
    const b = convert(x.get(s) ?? zero('connection_seconds'), by.perOpenSecond);
    alloc.set(s, plus(a, b));
  }
  return alloc;
}

/** The load balancer's units per new connection (measured origins only), for series that name no origin. */
function lbPerConnection<U extends CapacityUnit>(shares: Map<string, OriginShare<U>>, m: Measurements, unit: U): Ratio<U, 'connections'> {
  if (unit === 'connections') return ratio(unit, 'connections', 1, 'counted');
  let units = 0;
  let connections = 0;
  for (const [o, sh] of shares) {
    if (sh.by.perConnection.assumed) continue;
    for (const [s, a] of sh.alloc) {
      units += a.perSecond;
      connections += m.subnetConnections.get(s)?.get(o)?.perSecond ?? 0;
    }
  }
  if (connections > 0 && units > 0) return ratio(unit, 'connections', units / connections, 'measured: the load balancer’s average per connection');
  return ratio(unit, 'connections', 1, `assumed 1: no ${unit} counter at the origins`, true);
}

/** TCP edges: the requests per connection its own connections carry at the origins; else the load balancer's. */
function edgePerConnection(edge: string, m: Measurements, shares: Map<string, OriginShare<'requests'>>, edgeSubnet: Map<string, string>): Ratio<'requests', 'connections'> {
  let requests = 0;
  let connections = 0;
  for (const [s, e] of edgeSubnet) {
    if (e !== edge) continue;
    for (const [o, sh] of shares) {
      const a = sh.alloc.get(s);
      const n = m.subnetConnections.get(s)?.get(o);
      if (!a || !n || sh.by.perConnection.assumed) continue;
      requests += a.perSecond;
      connections += n.perSecond;
    }
  }
  if (connections > 0) return ratio('requests', 'connections', requests / connections, `measured: ${edge}'s connections at the origins`);
  return lbPerConnection(shares, m, 'requests');
}

function originLoad(origin: string, unit: CapacityUnit, m: Measurements, shares: Map<string, OriginShare<CapacityUnit>>, edgeSubnet: Map<string, string>): { rate: Rate<CapacityUnit>; how: string } | null {
  if (unit === 'requests') {
    const R = m.originRequests.get(origin);
    if (R) return { rate: R, how: 'requests (origin counter: origin_requests)' };
    const parts: Rate<'requests'>[] = [];
    const how: string[] = [];
    for (const [edge, row] of m.edgeOrigin) {
      const r = row.get(origin);
      if (!r) continue;
      if (r.unit === 'requests') parts.push(expectUnit(r, 'requests', 'edge origin counter'));
      else parts.push(convert(expectUnit(r, 'connections', 'edge origin counter'), edgePerConnection(edge, m, shares as Map<string, OriginShare<'requests'>>, edgeSubnet)));
      how.push(`${edge}'s counter`);
    }
    const sh = shares.get(origin);
    if (sh) {
      // TCP edges' connections are counted above, by the edges' own counters.
      const dns = [...sh.alloc].filter(([s]) => !edgeSubnet.has(s)).map(([, a]) => expectUnit(a, 'requests', 'subnet share'));
      if (dns.length > 0) {
        parts.push(sum('requests', dns));
        how.push(`DNS clients' connections × ${fmt(sh.by.perConnection.value)} (${sh.by.perConnection.basis})`);
      }
    }
    if (parts.length > 0) return { rate: sum('requests', parts), how: `requests (${how.join(' + ')})` };
    const c = m.originConnections.get(origin);
    if (c) return { rate: convert(c, ratio('requests', 'connections', 1, 'assumed')), how: 'agent connections × 1 (assumed: no request counter; set origin_requests)' };
    return null;
  }
  if (unit === 'connections') {
    const c = m.originConnections.get(origin);
    if (c) return { rate: c, how: 'connections (agent counter)' };
    const sh = shares.get(origin);
    return sh ? { rate: sum(unit, [...sh.alloc.values()].map((a) => expectUnit(a, unit, 'subnet share'))), how: 'connections (agent subnet counters)' } : null;
  }
  const b = m.originBytes.get(origin);
  return b ? { rate: b, how: 'bytes (agent counter)' } : null;
}

function describeSubnetConversion(unit: CapacityUnit, shares: Map<string, OriginShare<CapacityUnit>>): string {
  if (shares.size === 0) return '';
  if (unit === 'connections') return 'connections (agent counter)';
  const per = [...shares].map(([o, sh]) => {
    const parts = [];
    if (sh.by.perConnection.value > 0) parts.push(`${fmt(sh.by.perConnection.value)}/connection`);
    if (sh.by.perOpenSecond.value > 0) parts.push(`${fmt(sh.by.perOpenSecond.value)}/connection-second`);
    return `${o} ${parts.join(' + ') || '0'} (${sh.by.perConnection.assumed ? sh.by.perConnection.basis : 'measured'})`;
  });
  return `connections × ${unit} per connection at each origin: ${per.join('; ')}`;
}

/**
 * Connection turnover: the mean lifetime of DNS clients' connections at each origin and of client
 * connections at TCP edges (maximum likelihood for an exponential lifetime with the still-open ones
 * censored: connection-seconds observed / connections closed), and where each subnet's connections are.
 */
function* connectionTurnover(m: Measurements, edgeSubnet: Map<string, string>, subnets: Set<string>): Steps<ConnectionInputs> {
  const out: ConnectionInputs = { originLifetimeS: new Map(), edgeLifetimeS: new Map(), subnetPlacement: new Map(), subnetSurvivors: new Map(), edgeSurvivors: new Map(), originPolledAt: m.originPolledAt };
  let step = 0;
  for (const [s, row] of m.subnetSurvivors) {
    if (!edgeSubnet.has(s)) out.subnetSurvivors.set(s, row);
    if (++step % STEP_ITEMS === 0) yield;
  }
  if (m.edgeOriginUnit === 'connections') out.edgeSurvivors = m.edgeSurvivors;
  const open = new Map<string, number>();
  const closes = new Map<string, number>();
  for (const s of subnets) {
    if (++step % STEP_ITEMS === 0) yield;
    if (edgeSubnet.has(s)) continue;
    const xs = m.subnetConnectionSeconds.get(s);
    let total = 0;
    for (const [o, r] of xs ?? []) {
      if (o === '') continue;
      open.set(o, (open.get(o) ?? 0) + r.perSecond);
      total += r.perSecond;
    }
    for (const [o, r] of m.subnetCloses.get(s) ?? []) if (o !== '') closes.set(o, (closes.get(o) ?? 0) + r.perSecond);
    if (total > 0) out.subnetPlacement.set(s, new Map([...xs!].filter(([o]) => o !== '').map(([o, r]) => [o, r.perSecond / total])));
  }
  for (const [o, x] of open) {
    if (x <= 0) continue;
    const c = closes.get(o) ?? 0;
    // No connection closed within the window: longer-lived than it shows; Infinity = pinned throughout.
    out.originLifetimeS.set(o, c > 0 ? x / c : Infinity);
  }
  if (m.edgeOriginUnit === 'connections') {
    for (const [e, x] of m.edgeConnectionSeconds) {
      const c = m.edgeCloses.get(e)?.perSecond ?? 0;
      if (x.perSecond > 0) out.edgeLifetimeS.set(e, c > 0 ? x.perSecond / c : Infinity);
    }
  }
  return out;
}

function fmt(x: number): string {
  return (Math.round(x * 100) / 100).toString();
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
