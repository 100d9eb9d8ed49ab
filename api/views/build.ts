// Pure builders for the views data planes poll: an edge's config and the DNS view. Both carry a content
// hash as their version, so an unchanged view keeps its ETag and long-polls stay asleep, and the
// store's change sequence they were read at (`seq`, outside the hash), so a data plane following
// several replicas can refuse to go back to an older view.
//
// The DNS view's version hashes each record's subnet table through its multiset digest
// (model/subnet-digest.ts), kept per table object and updated in O(changes) from the table it replaced
// when the publisher named the changed keys (WorldSnapshot.changes); the rest of the view (zones,
// records' other fields, origins: small) is hashed as JSON. Still a function of content only, so every
// replica gives the same version for the same view. (Until 2026-11-29 the version was the sha256 of
// the whole view's JSON, ~1 s per publish at 1M subnets; a DNS server holding an old-format version
// resyncs in full once.)
import { createHash } from 'node:crypto';
import { digestSteps, digestText, movedDigestSteps, type SubnetDigest } from '../../model/subnet-digest.ts';
import { resolvedChangeSteps, type SubnetsChange, type SubnetsChanges } from '../../model/view-codec.ts';
import type { DnsView, Edge, EdgeConfig, EdgeOriginHealth, LoadBalancer, LoadBalancerWeights, Origin, OriginHealth, OriginView, WeightMap } from '../../model/index.ts';
import { effectiveShares } from '../../model/shares.ts';
import { arrayOfJsonSteps, keyJsonSteps, keysOnce, objectJsonSteps } from '../../lib/json-steps.ts';
import { runToEnd, type Steps } from '../../lib/steps.ts';

export interface WorldSnapshot {
  /** The store's change_seq of the snapshot; null for a world not read from a store. */
  seq: number | null;
  loadBalancers: LoadBalancer[];
  origins: Origin[];
  health: OriginHealth[];
  /** Edge-local exclusions: an origin one edge cannot reach while the quorum can. */
  edgeHealth: EdgeOriginHealth[];
  weights: Map<string, LoadBalancerWeights>;
  /**
   * What the publisher knew about how a subnet table moved (keyed by the table object in `weights`):
   * lets the DNS view's version and diff look at the changed keys only. Absent: compare in full.
   */
  changes?: SubnetsChanges;
}

export function contentVersion(body: unknown): string {
  return createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 20);
}

type DnsViewBody = Omit<DnsView, 'version' | 'seq'>;

/** JSON.stringify(body) of a DNS view in steps: each record's subnet table (up to 1M entries) in slices, the rest in one piece each. */
// A view's subnet tables are the store snapshot's weights, never changed once read: their keys are
// listed once per table (keysOnce) and shared by the diffs and the encodings of that view.
export function* dnsViewJsonSteps(body: DnsViewBody | DnsView, sink: (piece: string) => void): Steps<void> {
  yield* keyJsonSteps(body, 'zones', sink, (zones) =>
    arrayOfJsonSteps(zones, sink, (zone) => keyJsonSteps(zone, 'records', sink, (records) => arrayOfJsonSteps(records, sink, (r) => keyJsonSteps(r, 'subnets', sink, (subnets) => objectJsonSteps(subnets, sink, undefined, keysOnce(subnets)))))),
  );
}

/** Digests per subnet table object (tables are never changed once published or read). */
const digests = new WeakMap<object, SubnetDigest>();

/** The digest of `table`: cached, else from the digest of the table it replaced (`change`) in O(changes), else in full. */
function* tableDigestSteps(table: Record<string, WeightMap>, change: SubnetsChange | undefined): Steps<SubnetDigest> {
  let d = digests.get(table);
  if (d) return d;
  const from = change && digests.get(change.from);
  // The change resolved here is the one the history's diff uses next (one lookup of each key).
  d = from ? yield* movedDigestSteps(from, yield* resolvedChangeSteps(change, table)) : yield* digestSteps(table, keysOnce(table));
  digests.set(table, d);
  return d;
}

/**
 * The DNS view's version: sha256 over its JSON with each record's subnet table replaced by the
 * table's digest text, in steps. A function of content only (model/subnet-digest.ts).
 */
export function* dnsViewVersionSteps(body: DnsViewBody, changes?: SubnetsChanges): Steps<string> {
  const zones = [];
  for (const z of body.zones) {
    const records = [];
    for (const r of z.records) records.push({ ...r, subnets: digestText(yield* tableDigestSteps(r.subnets, changes?.get(r.subnets))) });
    zones.push({ zone: z.zone, records });
  }
  return contentVersion({ ...body, zones });
}

function originView(o: Origin, health: Map<string, OriginHealth>): OriginView {
  // Health comes from the control plane's active checks or from the scheduler's Prometheus health
  // input; an origin nobody has judged yet is healthy.
  const h = health.get(o.id);
  return {
    id: o.id,
    name: o.name,
    region: o.region,
    addresses: o.addresses,
    port: o.port,
    location: o.location,
    admin_state: o.admin_state,
    healthy: h?.healthy ?? true,
    static_weight: o.static_weight,
    priority: o.priority,
    health_check: o.health_check ?? null,
  };
}

function originsByLb(world: WorldSnapshot): Map<string, OriginView[]> {
  const health = new Map(world.health.map((h) => [h.origin_id, h]));
  const out = new Map<string, OriginView[]>();
  for (const o of world.origins) {
    const list = out.get(o.load_balancer_id) ?? [];
    list.push(originView(o, health));
    out.set(o.load_balancer_id, list);
  }
  return out;
}

function maxWeightsVersion(world: WorldSnapshot): number | null {
  let v: number | null = null;
  for (const w of world.weights.values()) v = Math.max(v ?? 0, w.version);
  return v;
}

/**
 * Every enabled load balancer with listeners is served by every edge (anycast VIPs). An origin this edge
 * cannot reach (edge-local exclusion) is out of this edge's shares at once, the rest renormalised,
 * before the scheduler re-plans; if that would leave this edge nothing usable, its exclusions are
 * ignored for that load balancer (global health still applies): better an origin the edge doubts than
 * failing open onto origins everyone knows are down.
 */
export function buildEdgeConfig(edge: Edge, world: WorldSnapshot): EdgeConfig {
  const byLb = originsByLb(world);
  const unreachable = new Set(world.edgeHealth.filter((h) => h.edge_id === edge.id && !h.reachable).map((h) => h.origin_id));
  const listeners = world.loadBalancers
    .filter((lb) => lb.enabled && lb.listeners.length > 0)
    .flatMap((lb) => {
      const origins = byLb.get(lb.id) ?? [];
      const published = world.weights.get(lb.id)?.edges[edge.id];
      let excluded = (o: OriginView) => unreachable.has(o.id);
      let { shares, basis } = effectiveShares(published, origins.map((o) => ({ ...o, healthy: o.healthy && !excluded(o) })));
      if ((basis === 'fail_open' || basis === 'none') && origins.some(excluded)) {
        excluded = () => false;
        ({ shares } = effectiveShares(published, origins));
      }
      const withWeights = origins.map((o) => ({ ...o, weight: shares[o.id] ?? 0, reachable: !excluded(o) }));
      return lb.listeners.map((l) => ({ load_balancer_id: lb.id, load_balancer: lb.name, vip: l.vip, port: l.port, protocol: l.protocol, policy: lb.policy, origins: withWeights }));
    });
  const body = {
    edge: { id: edge.id, name: edge.name, region: edge.region, address: edge.address },
    weights_version: maxWeightsVersion(world),
    listeners,
  };
  return { ...body, version: contentVersion(body), seq: world.seq };
}

export function buildDnsView(world: WorldSnapshot): DnsView {
  return runToEnd(buildDnsViewSteps(world));
}

/** buildDnsView in steps (lib/steps.ts): a subnet table's digest is the long part when no change from a known table is given. */
export function* buildDnsViewSteps(world: WorldSnapshot): Steps<DnsView> {
  const byLb = originsByLb(world);
  const zones = new Map<string, DnsView['zones'][number]>();
  for (const lb of world.loadBalancers) {
    if (!lb.enabled || !lb.dns) continue;
    const zone = zones.get(lb.dns.zone) ?? { zone: lb.dns.zone, records: [] };
    zone.records.push({
      load_balancer_id: lb.id,
      hostname: lb.dns.hostname,
      ttl: lb.dns.ttl,
      answers: lb.dns.answers,
      policy: lb.policy,
      max_latency_ms: lb.max_latency_ms,
      origins: byLb.get(lb.id) ?? [],
      subnets: world.weights.get(lb.id)?.subnets ?? {},
    });
    zones.set(lb.dns.zone, zone);
  }
  const body = { weights_version: maxWeightsVersion(world), zones: [...zones.values()] };
  return { ...body, version: yield* dnsViewVersionSteps(body, world.changes), seq: world.seq };
}
