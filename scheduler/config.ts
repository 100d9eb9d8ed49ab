// The scheduler's part of the control plane config (`scheduler:`).
import { z } from 'zod';
import { TlsClientConfig } from '../lib/tls-config.ts';
import { notHttps } from '../lib/tls-client.ts';
import { AgeDuration, Cidr, Duration, Location } from '../model/primitives.ts';
import { DEFAULT_MERGE_RESOLUTION_MS } from './solver/merge.ts';

const query = z.string().min(1).nullable().optional();

// One key per scheduler input (scheduler/inputs/assemble.ts QUERY_LABELS); README "Inputs" says what
// each must count.
const QueryOverrides = z
  .strictObject({
    edge_demand: query,
    edge_origin_demand: query,
    edge_rtt: query,
    subnet_demand: query,
    subnet_connection_seconds: query,
    subnet_closes: query,
    subnet_rtt: query,
    subnet_samples: query,
    origin_requests: query.describe("requests per second per origin from the origin's own server metrics (label node = origin name)"),
    origin_connections: query,
    origin_bytes: query,
    edge_connection_seconds: query,
    edge_closes: query,
    subnet_open: query,
    subnet_surviving: query,
    subnet_surviving_mean: query,
    edge_open: query,
    edge_surviving: query,
    edge_surviving_mean: query,
    origin_polled: query,
    origin_load: query.describe('old name of origin_connections'),
    origin_health: query,
  })
  .default({});

export const SchedulerConfig = z
  .strictObject({
    enabled: z.boolean().default(true),
    interval: Duration.default(15_000).refine((ms) => ms >= 200, 'must be at least 200ms'),
    input_timeout: Duration.default(5_000).describe('a read slower than this holds the weights for the cycle'),
    lease_ttl: Duration.optional().describe('scheduler lease; default 3 x interval'),
    hold_cycles: z.number().int().min(0).max(1000).default(8).describe('cycles a source missing from the inputs keeps its weights'),
    merge_resolution_ms: z
      .number({ error: 'expected a number of ms in [0, 50]' })
      .min(0, { error: 'expected a number of ms in [0, 50]' })
      .max(50, { error: 'expected a number of ms in [0, 50]' })
      .default(DEFAULT_MERGE_RESOLUTION_MS)
      .describe('sources whose RTT to every origin agrees within this many ms (and with the same usable origins) are one row to the solver; the plan is at most this much worse in demand-weighted latency (solver/merge.ts); 0: only identical rows'),
    latency_ttl: AgeDuration.default(168 * 3_600_000).describe('learned latency rows older than this are dropped'),
    decision_retention: AgeDuration.default(30 * 86_400_000).describe('decision records older than this are pruned'),
    prometheus: z
      .strictObject({
        url: z.url().optional().describe('the Prometheus (or any PromQL API) to read; or shards'),
        shards: z
          .array(
            z.strictObject({
              name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, "_", "." or "-" (it names the shard in logs and metrics)'),
              url: z.url(),
              headers: z.record(z.string(), z.string()).default({}).describe("on top of prometheus.headers (the shard's own win)"),
            }),
          )
          .min(1)
          .optional()
          .describe('several Prometheus servers (e.g. one per region), queried at once and their answers merged; listed in order of preference for a series two of them return'),
        shard_hold: Duration.default(0).describe("how long a failed shard's last good answers stand in for it; past that the cycle holds (0: holds at once)"),
        recording_rules: z.boolean().default(false).describe('read the series recorded by the rules `sluice prometheus-rules` prints (generated for this window and stale)'),
        timeout: Duration.default(5_000),
        window: Duration.default(60_000).describe('rate() window'),
        stale: Duration.default(120_000).describe('gauges older than this count as absent'),
        headers: z.record(z.string(), z.string()).default({}),
        tls: TlsClientConfig.optional().describe('for an https:// url: CA bundle, server-name pin, client certificate (Prometheus web.config)'),
        queries: QueryOverrides,
        load_balancers: z.record(z.string(), z.strictObject({ queries: QueryOverrides })).default({}),
      })
      .optional(),
    scrape: z
      .strictObject({
        targets: z.array(z.url()).default([]).describe('agent and edge-sync base URLs, scraped when no Prometheus is configured'),
        timeout: Duration.default(2_000),
        tls: TlsClientConfig.optional().describe("for https:// targets: CA bundle, server-name pin, client certificate (as Prometheus' scrape tls_config)"),
      })
      .prefault({}),
    geoip: z
      .strictObject({
        database: z.string().optional().describe('MaxMind City .mmdb for client subnet locations'),
        cidr_mappings: z.array(z.strictObject({ cidr: Cidr, location: Location })).default([]),
      })
      .default({ cidr_mappings: [] }),
  })
  .superRefine((c, ctx) => {
    if (c.prometheus && c.scrape.targets.length > 0) ctx.addIssue({ code: 'custom', path: ['scrape', 'targets'], message: 'set either prometheus.url or scrape.targets, not both' });
    const p = c.prometheus;
    if (p && (p.url === undefined) === (p.shards === undefined)) ctx.addIssue({ code: 'custom', path: ['prometheus', p.url === undefined ? 'url' : 'shards'], message: 'set exactly one of prometheus.url (one server) and prometheus.shards (several)' });
    for (const [i, s] of (p?.shards ?? []).entries()) {
      if (p!.shards!.findIndex((o) => o.name === s.name) !== i) ctx.addIssue({ code: 'custom', path: ['prometheus', 'shards', i, 'name'], message: `shard name "${s.name}" is used twice` });
    }
    if (p?.tls && p.url !== undefined && notHttps([p.url]).length > 0) ctx.addIssue({ code: 'custom', path: ['prometheus', 'url'], message: 'prometheus.tls is set, so Prometheus must be reached over https://' });
    if (p?.tls) for (const i of notHttps((p.shards ?? []).map((s) => s.url))) ctx.addIssue({ code: 'custom', path: ['prometheus', 'shards', i, 'url'], message: 'prometheus.tls is set, so every shard must be reached over https://' });
    if (c.scrape.tls) for (const i of notHttps(c.scrape.targets)) ctx.addIssue({ code: 'custom', path: ['scrape', 'targets', i], message: 'scrape.tls is set, so every target must be https://' });
  });
export type SchedulerConfig = z.output<typeof SchedulerConfig>;
