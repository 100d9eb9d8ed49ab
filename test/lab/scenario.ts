// The scenario file (test/lab/scenarios/*.yaml): the world (namespaces, RTTs, load balancer, origins,
// edges, DNS, client subnet locations), the loop's timing, and the kind of script to run with its
// parameters. Validated with zod; errors name the file and key (lib/config-file.ts).
import { z } from 'zod';
import { loadConfigFile } from '../../lib/config-file.ts';
import { Cidr, Duration, IpAddress, Location, Name, Port } from '../../model/primitives.ts';

const Label = z.string().regex(/^[a-z0-9]{1,12}$/, 'a namespace label: [a-z0-9]{1,12}');

const HealthCheck = z.strictObject({
  interval_ms: z.number().int().min(100).default(500),
  timeout_ms: z.number().int().min(10).default(400),
  fall: z.number().int().min(1).default(2),
  rise: z.number().int().min(1).default(2),
});

export const ScenarioSpec = z.strictObject({
  name: Name,
  description: z.string().default(''),
  kind: z.enum(['capacity-spill', 'latency-learning', 'dns-failover', 'keepalive-spill', 'health-vantage', 'idle']),
  timing: z
    .strictObject({
      scheduler_interval: Duration.default(1000),
      rate_window: Duration.default(6000).describe('PromQL rate() window'),
      stale: Duration.default(10_000),
      agent_poll: Duration.default(500),
      min_connection_age: Duration.default(500),
      scrape_interval: Duration.default(1000),
    })
    .prefault({}),
  /**
   * label -> first address (the namespace's own) and extra addresses (VIPs, more client subnets);
   * `subnets: N` adds N more client /24s after the first: a.b.c.d → a.b.(c+1).d … a.b.(c+N).d.
   */
  namespaces: z.record(
    Label,
    z
      .strictObject({ address: IpAddress, extra: z.array(IpAddress).default([]), subnets: z.number().int().min(0).max(200).default(0) })
      .transform(({ subnets, ...ns }) => ({ ...ns, extra: [...ns.extra, ...moreSubnets(ns.address, subnets)] })),
  ),
  rtt_ms: z
    .strictObject({
      default: z.number().min(0).max(2000).default(2),
      pairs: z.array(z.tuple([Label, Label, z.number().min(0).max(2000)])).default([]),
    })
    .prefault({}),
  load_balancer: z.strictObject({
    name: Name,
    listeners: z.array(z.strictObject({ vip: IpAddress, port: Port, protocol: z.enum(['tcp', 'http']).default('http') })).default([]),
    dns: z.strictObject({ zone: z.string(), hostname: z.string(), ttl: z.number().int().min(1).default(1) }).optional(),
    policy: z.enum(['latency', 'balance']).default('latency'),
    capacity_unit: z.enum(['requests', 'connections', 'bytes']).default('requests'),
    stickiness_ms: z.number().min(0).optional(),
    max_shift: z.number().positive().max(1).default(0.02),
    deadband: z.number().min(0).max(0.5).default(0.005),
    max_latency_ms: z.number().positive().default(1000),
    min_samples: z.number().int().min(1).default(3),
  }),
  origins: z
    .array(
      z.strictObject({
        name: Name,
        namespace: Label,
        region: z.string(),
        port: Port.default(8080),
        location: Location,
        target_rps: z.number().positive(),
        max_rps: z.number().positive(),
        static_weight: z.number().min(0).default(1),
      }),
    )
    .min(1),
  health_check: HealthCheck.prefault({}),
  /**
   * Health by quorum (the control plane's `health:` block) and the edges as vantage points: HAProxy
   * checks every origin itself (option httpchk, the scenario's health_check) and edge-sync reports
   * what it sees with a report token bound to its edge.
   */
  health: z
    .strictObject({
      stale_after: Duration.default(6000),
      hold_down: Duration.default(3000),
      evaluate_interval: Duration.default(250),
      report_interval: Duration.default(1000),
      edge_checks: z.boolean().default(true).describe('HAProxy health-checks the origins and edge-sync reports its view'),
    })
    .prefault({}),
  edges: z.array(z.strictObject({ name: Name, namespace: Label, region: z.string(), location: Location })).default([]),
  core: Label.default('core'),
  /** Run sluice dns even when the load balancer has no DNS name (a script's own probe load balancer). */
  dns_server: z.boolean().default(false),
  /**
   * The control plane in the core namespace: one replica on SQLite (default), or 2-3 replicas on a
   * PostgreSQL the lab starts there too (issue 12: HA). Data planes then follow every replica.
   */
  control_plane: z
    .strictObject({
      replicas: z.number().int().min(1).max(3).default(1),
      store: z.enum(['sqlite', 'postgres']).default('sqlite'),
      lease_ttl: Duration.optional().describe('scheduler lease; default 3 x scheduler_interval'),
    })
    .prefault({})
    .refine((c) => c.replicas === 1 || c.store === 'postgres', { message: 'several replicas need store: postgres', path: ['store'] }),
  /**
   * Origins export their own request counter (`http_requests_total` on a metrics port, scraped by
   * Prometheus with node=<origin>) and the scheduler reads it as `origin_requests`: load in requests
   * measured at the origin, the way an operator would point it at nginx's, HAProxy's or an app's.
   */
  origin_request_metrics: z.boolean().default(true),
  /**
   * Every link over TLS (issue 18): a lab PKI made with openssl; the control plane, Prometheus, the
   * agents', edge-syncs' and DNS server's metrics served over HTTPS with client certificates; the data
   * planes and the scheduler connect with client certificates. SLUICE_LAB_TLS=1 turns it on for any
   * scenario.
   */
  tls: z.boolean().default(false),
  /** Hosts ACK at once (ip route ... quickack 1): srtt is the path RTT, not RTT + delayed ACK. */
  quickack: z.boolean().default(true),
  /** Where each client subnet is (MaxMind knows no private address): DNS and scheduler geolocation. */
  client_locations: z.array(z.strictObject({ cidr: Cidr, location: Location })).default([]),
  /** Kind-specific parameters; each script validates its own. */
  params: z.record(z.string(), z.unknown()).default({}),
});
export type ScenarioSpec = z.output<typeof ScenarioSpec>;

export function loadScenario(file: string): ScenarioSpec {
  const spec = loadConfigFile(ScenarioSpec, file);
  if (process.env.SLUICE_LAB_TLS === '1') spec.tls = true;
  const labels = new Set(Object.keys(spec.namespaces));
  const need = [spec.core, ...spec.origins.map((o) => o.namespace), ...spec.edges.map((e) => e.namespace), ...spec.rtt_ms.pairs.flatMap(([a, b]) => [a, b])];
  for (const l of need) if (!labels.has(l)) throw new Error(`${file}: namespace "${l}" is used but not declared under namespaces`);
  return spec;
}

/** Round-trip time between two namespaces (ms). */
export function rttBetween(spec: ScenarioSpec, a: string, b: string): number {
  if (a === b) return 0;
  const pair = spec.rtt_ms.pairs.find(([x, y]) => (x === a && y === b) || (x === b && y === a));
  return pair ? pair[2] : spec.rtt_ms.default;
}

/** a.b.c.d -> a.b.(c+1).d … a.b.(c+n).d (IPv4 only). */
function moreSubnets(address: string, n: number): string[] {
  const p = address.split('.').map(Number);
  if (p.length !== 4 || n === 0) return [];
  if (p[2]! + n > 255) throw new Error(`namespaces: ${n} more /24s after ${address} run past x.x.255.x`);
  return Array.from({ length: n }, (_, k) => `${p[0]}.${p[1]}.${p[2]! + k + 1}.${p[3]}`);
}
