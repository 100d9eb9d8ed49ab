// The scale harness's control-plane side of the world: the load balancer, origins and edges written
// into a real store, and the scheduler's raw inputs as the default PromQL queries would return them
// (the same Series shape PromqlInputReader hands to assembleInputs), for runs without Prometheus.
import type { ExportedEntry } from '../../agent/learning/export-ledger.ts';
import type { LoadBalancer } from '../../model/index.ts';
import type { RawInputs, Series } from '../../scheduler/inputs/assemble.ts';
import type { SimulatedAgent } from './agents.ts';
import { edgeRttMs, type World } from './world.ts';

/** The store methods seeding needs (SqliteStore and PostgresStore both have them). */
export interface SeedStore {
  createLoadBalancer(spec: Parameters<import('../../api/store/store.ts').Store['createLoadBalancer']>[0]): Promise<LoadBalancer>;
  createOrigin(lbId: string, spec: Parameters<import('../../api/store/store.ts').Store['createOrigin']>[1]): Promise<{ id: string; name: string }>;
  createEdge(spec: Parameters<import('../../api/store/store.ts').Store['createEdge']>[0]): Promise<{ id: string; name: string }>;
}

export const ZONE = 'scale.example';
export const HOSTNAME = 'app.scale.example';
export const ORIGIN_PORT = 443;

export interface Seeded {
  lb: LoadBalancer;
  /** World origin index -> store id. */
  originIds: string[];
  edgeIds: string[];
}

export async function seedStore(store: SeedStore, w: World): Promise<Seeded> {
  const lb = await store.createLoadBalancer({
    name: 'app',
    dns: { zone: ZONE, hostname: HOSTNAME, ttl: 30, answers: 1 },
    listeners: [{ vip: '198.18.255.1', port: 443, protocol: 'https' }],
    policy: 'latency',
    max_latency_ms: 400,
    min_samples: 5,
    max_shift: 0.02,
    deadband: 0.005,
    gain: 0.5,
    enabled: true,
  });
  const originIds: string[] = [];
  for (const o of w.origins) {
    const created = await store.createOrigin(lb.id, {
      name: o.name,
      region: `r${w.cityRegion[o.city]}`,
      addresses: [o.address],
      port: ORIGIN_PORT,
      location: o.location,
      target_rps: Math.round(o.target),
      max_rps: Math.round(o.max),
      admin_state: 'active',
      static_weight: 1,
      priority: 0,
    });
    originIds.push(created.id);
  }
  const edgeIds: string[] = [];
  for (const e of w.edges) edgeIds.push((await store.createEdge({ name: e.name, region: `r${w.cityRegion[e.city]}`, address: e.address, location: e.location })).id);
  return { lb, originIds, edgeIds };
}

/** Demand per second behind an exported entry, from its members (what rate() of its counter reads). */
export function entryDemand(w: World, agent: SimulatedAgent): Map<string, number> {
  const out = new Map<string, number>();
  for (const i of agent.subnets) {
    const p = agent.entryOf.get(i);
    if (p !== undefined) out.set(p, (out.get(p) ?? 0) + w.demand[i]!);
  }
  return out;
}

/**
 * What the default queries return for this world (agents' subnet series, edge demand and edge→origin
 * RTT, origin connections), without Prometheus in between: rates are the true demand.
 */
export function rawInputsFromAgents(w: World, agents: SimulatedAgent[]): RawInputs {
  const subnet_demand: Series[] = [];
  const subnet_rtt: Series[] = [];
  const subnet_samples: Series[] = [];
  const origin_connections: Series[] = [];
  for (const a of agents) {
    const node = w.origins[a.origin]!.name;
    const demand = entryDemand(w, a);
    let total = 0;
    for (const e of a.exported as ExportedEntry[]) {
      const d = demand.get(e.subnet) ?? 0;
      total += d;
      subnet_demand.push({ labels: { subnet: e.subnet, node }, value: d });
      if (e.rttSeconds === undefined) continue;
      subnet_rtt.push({ labels: { subnet: e.subnet, node }, value: e.rttSeconds });
      subnet_samples.push({ labels: { subnet: e.subnet, node }, value: e.samples ?? 0 });
    }
    origin_connections.push({ labels: { node }, value: total });
  }
  const edge_demand: Series[] = w.edges.map((e) => ({ labels: { edge: e.name, listener: '198.18.255.1:443' }, value: e.demand }));
  const edge_rtt: Series[] = [];
  w.edges.forEach((e, k) => w.origins.forEach((o, j) => edge_rtt.push({ labels: { node: e.name, upstream: `${o.address}:${ORIGIN_PORT}` }, value: edgeRttMs(w, k, j) / 1000 })));
  return {
    edge_demand,
    edge_origin_demand: [],
    edge_rtt,
    subnet_demand,
    subnet_connection_seconds: [],
    subnet_closes: [],
    subnet_rtt,
    subnet_samples,
    origin_requests: [],
    origin_connections,
    origin_bytes: [],
    edge_connection_seconds: [],
    edge_closes: [],
    subnet_open: [],
    subnet_surviving: [],
    subnet_surviving_mean: [],
    edge_open: [],
    edge_surviving: [],
    edge_surviving_mean: [],
    origin_polled: [],
    origin_health: null,
  };
}

/** GeoIP for the world as CIDR mappings: each network's block at its home city (scattered subnets are mislocated, as in a real database). */
export function geoMappings(w: World): { cidr: string; location: { lat: number; lon: number } }[] {
  const seen = new Map<number, { cidr: string; location: { lat: number; lon: number } }>();
  for (let i = 0; i < w.demand.length; i++) {
    const net = w.network[i]!;
    if (seen.has(net)) continue;
    // The first subnet of a network is at its home city (scatter applies to later ones too, so take the
    // majority city: good enough to use the network's first subnet's city 92 % of the time).
    const c = w.city[i]!;
    const cidr = w.family[i] === 4 ? `${w.hi[i]! >>> 24}.${(w.hi[i]! >>> 16) & 255}.0.0/16` : `${(w.hi[i]! >>> 16).toString(16)}:${(w.hi[i]! & 0xffff).toString(16)}::/32`;
    seen.set(net, { cidr, location: { lat: Math.round(w.cityLat[c]! * 1e4) / 1e4, lon: Math.round(w.cityLon[c]! * 1e4) / 1e4 } });
  }
  return [...seen.values()];
}
