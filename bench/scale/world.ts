// A synthetic Internet for the scale harness (bench/scale.bench.ts, test/scale.test.ts): cities on
// continents, client networks (ISP blocks) homed in cities, active client subnets (/24 and /48) with
// Zipf-distributed demand, origins with capacities, edges, and an RTT model. Seeded: the same spec
// gives the same world, bit for bit.
//
// Geography. Eight regions (continents by where people are), cities scattered around each region's
// centre with Zipf populations. Client subnets live in networks: an IPv4 /16 (or IPv6 /32) block
// homed in one city; most of its subnets are there, a few (SCATTER) in other cities of the region —
// as real ISPs are: coherent at /16–/20, not perfectly so.
//
// RTT from a subnet to an origin (what the origin's agent would learn):
//   rtt = base + 2·km·inflation/200 + last_mile(subnet)
// where inflation depends on the (network, origin) path — subnets of one network share their
// routes — and last_mile is per subnet (access technology, home network). The scheduler's own
// great-circle estimate (scheduler/core/geo.ts) uses one fixed inflation and no last mile, so a
// learned RTT really is better information than the estimate.
import { estimateRttMs, greatCircleKm } from '../../scheduler/core/geo.ts';
import { seededRandom } from '../../lib/prng.ts';

export interface WorldSpec {
  subnets: number;
  origins: number;
  edges: number;
  seed: number;
  /** Zipf exponent of subnet demand (rank r gets ∝ 1/r^s). */
  zipf: number;
  /** Share of subnets that are IPv6 /48s. */
  v6Share: number;
  /** Total DNS client demand (new connections per second, all subnets). */
  dnsDemand: number;
  /** Demand through the edges (anycast listeners), as a share of the DNS demand. */
  edgeDemandShare: number;
  /** Σ max capacity / total demand. */
  capacityFactor: number;
  cities: number;
}

export const DEFAULT_SPEC: Omit<WorldSpec, 'subnets' | 'origins' | 'edges'> = {
  seed: 15,
  zipf: 0.9,
  v6Share: 0.2,
  dnsDemand: 1_000_000,
  edgeDemandShare: 0.3,
  capacityFactor: 1.25,
  cities: 5000,
};

interface Region {
  name: string;
  lat: number;
  lon: number;
  sdLat: number;
  sdLon: number;
  weight: number;
}

const REGIONS: Region[] = [
  { name: 'na', lat: 39, lon: -95, sdLat: 7, sdLon: 16, weight: 0.22 },
  { name: 'sa', lat: -15, lon: -55, sdLat: 10, sdLon: 8, weight: 0.07 },
  { name: 'eu', lat: 49, lon: 10, sdLat: 6, sdLon: 10, weight: 0.24 },
  { name: 'af', lat: 3, lon: 20, sdLat: 12, sdLon: 12, weight: 0.05 },
  { name: 'me', lat: 28, lon: 47, sdLat: 5, sdLon: 7, weight: 0.04 },
  { name: 'sas', lat: 22, lon: 78, sdLat: 6, sdLon: 6, weight: 0.13 },
  { name: 'eas', lat: 32, lon: 118, sdLat: 8, sdLon: 10, weight: 0.19 },
  { name: 'oc', lat: -29, lon: 145, sdLat: 6, sdLon: 12, weight: 0.06 },
];

/** Share of a network's subnets that live in another city of its region. */
const SCATTER = 0.08;

export interface Place {
  lat: number;
  lon: number;
}

export interface OriginSpec {
  id: string;
  name: string;
  city: number;
  location: Place;
  address: string;
  target: number;
  max: number;
}

export interface EdgeSpec {
  id: string;
  name: string;
  city: number;
  location: Place;
  address: string;
  /** Requests per second through this edge. */
  demand: number;
}

export interface World {
  spec: WorldSpec;
  cityLat: Float64Array;
  cityLon: Float64Array;
  cityRegion: Uint8Array;
  /** Per subnet: 4 or 6. */
  family: Uint8Array;
  /** IPv4: the /24's network address as uint32. IPv6: the /48's first 32 bits. */
  hi: Uint32Array;
  /** IPv6 only: bits 32..47 of the /48. */
  lo: Uint16Array;
  city: Int32Array;
  network: Int32Array;
  demand: Float64Array;
  lastMileMs: Float32Array;
  origins: OriginSpec[];
  edges: EdgeSpec[];
  /** Seed of the per-(network, origin) path inflation. */
  pathSeed: number;
}

/** Zipf rank weights 1/r^s for r = 1..n, shuffled so rank and address are unrelated. */
function zipfWeights(n: number, s: number, r: () => number): Float64Array {
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = 1 / Math.pow(i + 1, s);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    const t = w[i]!;
    w[i] = w[j]!;
    w[j] = t;
  }
  return w;
}

function gaussian(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() || 1e-12)) * Math.cos(2 * Math.PI * r());
}

/** Index drawn from cumulative weights `cum` (last = total). */
export function draw(cum: Float64Array, r: () => number): number {
  const x = r() * cum[cum.length - 1]!;
  let lo = 0;
  let hi = cum.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cum[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function cumulative(w: ArrayLike<number>): Float64Array {
  const c = new Float64Array(w.length);
  let acc = 0;
  for (let i = 0; i < w.length; i++) c[i] = acc += w[i]!;
  return c;
}

/** IPv4 /16 blocks a client network may use: public unicast, not the benchmark range (edges, origins). */
function isClientBlock16(b: number): boolean {
  const a = b >>> 8;
  const second = b & 255;
  if (a === 0 || a === 10 || a === 127 || a >= 224) return false;
  if (a === 100 && second >= 64 && second < 128) return false;
  if (a === 169 && second === 254) return false;
  if (a === 172 && second >= 16 && second < 32) return false;
  if (a === 192 && second === 168) return false;
  if (a === 198 && (second === 18 || second === 19)) return false;
  if (a === 192 && second === 0) return false;
  return true;
}

export function buildWorld(partial: Partial<WorldSpec> & Pick<WorldSpec, 'subnets' | 'origins' | 'edges'>): World {
  const spec: WorldSpec = { ...DEFAULT_SPEC, ...partial };
  const r = seededRandom(spec.seed);

  // Cities: region by weight, place around its centre, Zipf population.
  const C = spec.cities;
  const cityLat = new Float64Array(C);
  const cityLon = new Float64Array(C);
  const cityRegion = new Uint8Array(C);
  const regionCum = cumulative(REGIONS.map((g) => g.weight));
  for (let c = 0; c < C; c++) {
    const g = draw(regionCum, r);
    const reg = REGIONS[g]!;
    cityRegion[c] = g;
    cityLat[c] = Math.max(-60, Math.min(70, reg.lat + gaussian(r) * reg.sdLat));
    cityLon[c] = ((reg.lon + gaussian(r) * reg.sdLon + 540) % 360) - 180;
  }
  // Flatter than Zipf 1 (the largest metro holds ~1–2 % of the clients, as Tokyo or Delhi do).
  const population = zipfWeights(C, 0.6, r);
  const popCum = cumulative(population);
  const citiesByRegion = REGIONS.map((_, g) => [...Array(C).keys()].filter((c) => cityRegion[c] === g));
  const regionPopCum = citiesByRegion.map((list) => cumulative(list.map((c) => population[c]!)));

  // Networks: each homed in a city, with a heavy-tailed number of subnets (a few big ISPs, many
  // small ones). Addresses are handed out as registries do: each region has its own IPv4 /8s and
  // IPv6 /16s, and inside a region networks get consecutive blocks (an IPv4 /16, an IPv6 /32) in
  // order of their city's position, so a /12 holds neighbouring cities and a /8 one region.
  const n = spec.subnets;
  interface Net { home: number; size: number; v6: boolean }
  const nets: Net[] = [];
  for (let placed = 0; placed < n; ) {
    const v6 = r() < spec.v6Share;
    const size = Math.min(n - placed, Math.max(1, Math.floor(Math.exp(2 + 2.2 * r()))));
    nets.push({ home: draw(popCum, r), size, v6 });
    placed += size;
  }
  const free8 = [...Array(224).keys()].filter((a) => [...Array(256).keys()].every((b) => isClientBlock16((a << 8) | b)));
  const order = (a: Net, b: Net) => cityRegion[a.home]! - cityRegion[b.home]! || cityLon[a.home]! - cityLon[b.home]! || cityLat[a.home]! - cityLat[b.home]!;
  nets.sort(order);
  // IPv4: a region's networks fill /16 after /16 inside /8s taken in turn from the free list.
  let next8 = 0;
  const blockOf = new Map<Net, number>();
  for (let g = 0; g < REGIONS.length; g++) {
    let current8 = -1;
    let next16 = 256;
    let v6next = 0;
    for (const net of nets) {
      if (cityRegion[net.home] !== g) continue;
      if (net.v6) {
        // 2400:: + region: one /16 per region, a /32 per network.
        blockOf.set(net, (((0x2400 + g) << 16) | v6next++) >>> 0);
        continue;
      }
      if (next16 === 256) {
        if (next8 >= free8.length) throw new Error(`world: IPv4 space exhausted at ${nets.length} networks`);
        current8 = free8[next8++]!;
        next16 = 0;
      }
      blockOf.set(net, (current8 << 8) | next16++);
    }
  }
  const family = new Uint8Array(n);
  const hi = new Uint32Array(n);
  const lo = new Uint16Array(n);
  const city = new Int32Array(n);
  const network = new Int32Array(n);
  const lastMileMs = new Float32Array(n);
  let i = 0;
  nets.forEach((net, netId) => {
    const base = blockOf.get(net)!;
    const region = cityRegion[net.home]!;
    const space = net.v6 ? 65536 : 256;
    const used = new Set<number>();
    for (let k = 0; k < Math.min(net.size, space) && i < n; k++, i++) {
      let sub = Math.floor(r() * space);
      while (used.has(sub)) sub = (sub + 1) % space;
      used.add(sub);
      family[i] = net.v6 ? 6 : 4;
      if (net.v6) {
        hi[i] = base;
        lo[i] = sub;
      } else {
        hi[i] = ((base << 16) | (sub << 8)) >>> 0;
      }
      const list = citiesByRegion[region]!;
      city[i] = r() < SCATTER && list.length > 0 ? list[draw(regionPopCum[region]!, r)]! : net.home;
      network[i] = netId;
      // Last mile: 1–40 ms, log-normal-ish (fibre to mobile).
      lastMileMs[i] = Math.min(40, Math.exp(1.2 + 0.7 * gaussian(r)));
    }
  });
  if (i < n) throw new Error(`world: placed ${i} of ${n} subnets`);

  const demand = zipfWeights(n, spec.zipf, r);
  let total = 0;
  for (let k = 0; k < n; k++) total += demand[k]!;
  for (let k = 0; k < n; k++) demand[k] = (demand[k]! / total) * spec.dnsDemand;

  // Origins in the most populous cities, one per city.
  const byPop = [...Array(C).keys()].sort((a, b) => population[b]! - population[a]!);
  const origins: OriginSpec[] = byPop.slice(0, spec.origins).map((c, k) => ({
    id: `o${k}`,
    name: `origin-${k}`,
    city: c,
    location: { lat: cityLat[c]!, lon: cityLon[c]! },
    // 198.18.0.0/15 (RFC 2544, benchmarking): never a client subnet of this world.
    address: `198.19.${(k + 1) >> 8}.${(k + 1) & 255}`,
    target: 0,
    max: 0,
  }));

  // Edges: the next cities by population (several per big city once cities run out).
  const edges: EdgeSpec[] = [];
  for (let k = 0; k < spec.edges; k++) {
    const c = byPop[(k + Math.min(spec.origins, C - 1)) % C]!;
    const e = k + 1;
    edges.push({ id: `e${k}`, name: `edge-${k}`, city: c, location: { lat: cityLat[c]!, lon: cityLon[c]! }, address: `198.18.${e >> 8}.${e & 255}`, demand: 0 });
  }
  const edgeWeights = edges.map((e) => population[e.city]! * (0.5 + r()));
  const edgeTotal = edgeWeights.reduce((a, b) => a + b, 0);
  edges.forEach((e, k) => (e.demand = (edgeWeights[k]! / edgeTotal) * spec.dnsDemand * spec.edgeDemandShare));

  const world: World = { spec, cityLat, cityLon, cityRegion, family, hi, lo, city, network, demand, lastMileMs, origins, edges, pathSeed: Math.floor(r() * 2 ** 31) };

  // Capacities: each origin near the demand it is nearest to, unevenly (×0.6..1.6), then scaled so
  // Σ max = capacityFactor × all demand; target = 0.85 × max. Some regions are short and spill.
  const near = new Float64Array(origins.length);
  const nearestOfCity = nearestOriginByCity(world);
  for (let k = 0; k < n; k++) near[nearestOfCity[city[k]!]!]! += demand[k]!;
  for (const e of edges) near[nearestOfCity[e.city]!]! += e.demand;
  const raw = origins.map((_, j) => (near[j]! + 1e-3 * spec.dnsDemand / origins.length) * (0.6 + r()));
  const rawTotal = raw.reduce((a, b) => a + b, 0);
  const allDemand = spec.dnsDemand * (1 + spec.edgeDemandShare);
  origins.forEach((o, j) => {
    o.max = (raw[j]! / rawTotal) * allDemand * spec.capacityFactor;
    o.target = 0.85 * o.max;
  });
  return world;
}

/** Per city, the origin nearest by great-circle distance. */
export function nearestOriginByCity(w: World): Int32Array {
  const out = new Int32Array(w.cityLat.length);
  for (let c = 0; c < out.length; c++) {
    let best = 0;
    let bestKm = Infinity;
    for (let j = 0; j < w.origins.length; j++) {
      const km = greatCircleKm({ lat: w.cityLat[c]!, lon: w.cityLon[c]! }, w.origins[j]!.location);
      if (km < bestKm) {
        bestKm = km;
        best = j;
      }
    }
    out[c] = best;
  }
  return out;
}

/** Deterministic noise in [0, 1) from two integers. */
function hash01(a: number, b: number, seed: number): number {
  let h = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77) ^ seed) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

/** The true RTT (ms) from subnet i to origin j. */
export function trueRttMs(w: World, i: number, j: number): number {
  const c = w.city[i]!;
  const o = w.origins[j]!;
  const km = greatCircleKm({ lat: w.cityLat[c]!, lon: w.cityLon[c]! }, o.location);
  const inflation = 1.2 + 0.6 * hash01(w.network[i]!, j, w.pathSeed);
  return 2 + (2 * km * inflation) / 200 + w.lastMileMs[i]!;
}

/** RTT (ms) from edge e to origin j (backbone: less inflation, no last mile). */
export function edgeRttMs(w: World, e: number, j: number): number {
  const edge = w.edges[e]!;
  const km = greatCircleKm(edge.location, w.origins[j]!.location);
  return 1 + (2 * km * (1.1 + 0.2 * hash01(1_000_000 + e, j, w.pathSeed))) / 200;
}

/** The subnet as CIDR text (/24 or /48). */
export function subnetCidr(w: World, i: number): string {
  if (w.family[i] === 4) {
    const a = w.hi[i]!;
    return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.0/24`;
  }
  const h = w.hi[i]!;
  return `${(h >>> 16).toString(16)}:${(h & 0xffff).toString(16)}:${w.lo[i]!.toString(16)}::/48`;
}

/** The city location of subnet i (what a city-level GeoIP database says). */
export function subnetPlace(w: World, i: number): Place {
  const c = w.city[i]!;
  return { lat: w.cityLat[c]!, lon: w.cityLon[c]! };
}

/**
 * Where each subnet's connections go under the weights in force: `assign[i]` = origin index. For the
 * harness's first cycle that is the cold start: sluice dns answers by geolocation, the nearest origin.
 */
export function coldStartAssignment(w: World): Int32Array {
  const nearest = nearestOriginByCity(w);
  const out = new Int32Array(w.demand.length);
  for (let i = 0; i < out.length; i++) out[i] = nearest[w.city[i]!]!;
  return out;
}

/** The scheduler's own cold-start estimate for subnet i and origin j (for comparison). */
export function estimatedRttMs(w: World, i: number, j: number): number {
  return estimateRttMs(subnetPlace(w, i), w.origins[j]!.location);
}
