// `sluice agent` configuration (YAML, validated with zod). Every key is used; unknown keys are errors.
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { z } from 'zod';
import { AgeDuration, Cidr, Duration, HostPort, Name, Port } from '../model/primitives.ts';
import { loadConfigFile } from '../lib/config-file.ts';
import { TlsServerConfig } from '../lib/tls-config.ts';

const Upstream = HostPort.refine((hp) => isIP(hp.host) !== 0, {
  message: 'an upstream must be an IP address and port (the kernel reports addresses, not names), e.g. 192.0.2.10:443 or [2001:db8::10]:443',
});

const positiveDuration = (min: number, what: string) => Duration.refine((ms) => ms >= min, { message: `must be at least ${what}` });

export const AgentConfig = z
  .strictObject({
    /** Value of the `node` label on every series: the scheduler maps it to an origin or edge name. */
    node: Name.default(() => hostname().toLowerCase().replace(/[^a-z0-9._-]/g, '-').slice(0, 63) || 'agent'),
    /** Where /metrics, /metrics/subnets, /api/v1/latency and /healthz are served. */
    listen: HostPort.default({ host: '0.0.0.0', port: 9465 }),
    /** Serve them over HTTPS (Prometheus scrape tls_config); with client_ca_file, client certificates only. */
    tls: TlsServerConfig.optional(),
    /** Local ports of the service this host runs: connections to them are clients (inbound). */
    service_ports: z.array(Port).default([]),
    /** Addresses this host connects to whose RTT is wanted (e.g. origins seen from an edge). */
    upstreams: z.array(Upstream).default([]),
    /**
     * Peers on a service port that are not clients — health checkers, monitoring — whose connections
     * would otherwise count as demand of their subnet: ignored entirely (no demand, no RTT, no turnover).
     */
    ignore_peers: z.array(Cidr).default([]),
    /** Learn from loopback peers too (127.0.0.0/8, ::1). Off in production; tests on one host turn it on. */
    include_loopback: z.boolean().default(false),
    poll_interval: positiveDuration(50, '50ms').default(10_000),
    /** Connections younger than this give no RTT sample (their srtt is still the handshake's). */
    min_connection_age: Duration.default(5_000),
    ipv4_prefix: z.number().int().min(1).max(32).default(24),
    ipv6_prefix: z.number().int().min(1).max(128).default(48),
    ewma_alpha: z.number().gt(0, 'must be > 0').max(1, 'must be <= 1').default(0.3),
    max_subnets: z.number().int().min(1).max(10_000_000).default(100_000),
    /** Compared with last-seen times, never scheduled: may exceed a timer's 24.8 days. */
    subnet_ttl: AgeDuration.refine((ms) => ms >= 1000, { message: 'must be at least 1s' }).default(168 * 3_600_000),
    min_samples: z.number().int().min(1).default(5),
    /** At most this many entries get series on /metrics/subnets (subnets, and prefixes aggregating the rest). */
    subnet_series_budget: z.number().int().min(0).max(1_000_000).default(1000),
    /**
     * How the budget covers a table larger than it (learning/export-plan.ts): the busiest `exact_share`
     * of it as single subnets, the rest of the table in coarser prefixes of these lengths (coarse to
     * fine), refined where their subnets' RTTs disagree. Empty lists: only the busiest subnets, as before.
     */
    subnet_aggregation: z
      .strictObject({
        ipv4_prefixes: z.array(z.number().int().min(1).max(31)).default([16, 20]),
        ipv6_prefixes: z.array(z.number().int().min(1).max(127)).default([32, 40]),
        exact_share: z.number().min(0).max(1).default(0.5),
      })
      .default({ ipv4_prefixes: [16, 20], ipv6_prefixes: [32, 40], exact_share: 0.5 }),
    /**
     * The horizon open connections' survivors are expected over (sluice_agent_*_surviving): set it to
     * the scheduler's cycle (scheduler.interval), which is what it predicts for.
     */
    survival_horizon: positiveDuration(100, '100ms').default(15_000),
    /**
     * …starting this long after the poll: how old the agent's numbers are when the scheduler reads them
     * (about half the poll interval plus half the scrape interval). Default: the poll interval.
     */
    survival_offset: Duration.optional(),
    /** Which OS interface reads the TCP table; auto picks by platform. */
    collector: z.enum(['auto', 'linux', 'windows']).default('auto'),
  })
  .refine((c) => c.service_ports.length > 0 || c.upstreams.length > 0, {
    message: 'nothing to learn: set service_ports (client RTT and demand) and/or upstreams (upstream RTT)',
    path: ['service_ports'],
  })
  .refine((c) => ascendingBelow(c.subnet_aggregation.ipv4_prefixes, c.ipv4_prefix), {
    message: 'aggregation prefixes must be ascending (coarse to fine) and shorter than ipv4_prefix',
    path: ['subnet_aggregation', 'ipv4_prefixes'],
  })
  .refine((c) => ascendingBelow(c.subnet_aggregation.ipv6_prefixes, c.ipv6_prefix), {
    message: 'aggregation prefixes must be ascending (coarse to fine) and shorter than ipv6_prefix',
    path: ['subnet_aggregation', 'ipv6_prefixes'],
  });

function ascendingBelow(prefixes: number[], subnetPrefix: number): boolean {
  return prefixes.every((p, i) => p < subnetPrefix && (i === 0 || p > prefixes[i - 1]!));
}

export type AgentConfig = z.output<typeof AgentConfig>;

export function loadAgentConfig(file: string): AgentConfig {
  return loadConfigFile(AgentConfig, file);
}
