// `sluice dns` configuration (YAML, validated with zod). Relative paths (view_file, geoip.database,
// the token and TLS files) are resolved against the config file's directory, so an example config
// works from any cwd.
import { isIP } from 'node:net';
import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { loadConfigFile, ConfigError } from '../lib/config-file.ts';
import { resolveTlsPaths } from '../lib/tls.ts';
import { TlsClientConfig, TlsServerConfig } from '../lib/tls-config.ts';
import { notHttps } from '../lib/tls-client.ts';
import { AgeDuration, Cidr, DnsName, Duration, HostPort, IpAddress, Location, Region } from '../model/primitives.ts';

const Listen = z
  .array(HostPort.refine((h) => isIP(h.host) !== 0, 'expected an IP address and port such as 127.0.0.1:53 or [::1]:53 (not a host name)'))
  .min(1)
  .max(16)
  .describe('each address is served over both UDP and TCP');

export const CidrMapping = z.union([
  z.strictObject({ cidr: Cidr, location: Location }),
  z.strictObject({ cidr: Cidr, region: Region.describe('origins in this region are preferred (nearest first among them)') }),
]);
export type CidrMapping = z.infer<typeof CidrMapping>;

export const NameServer = z.strictObject({
  name: DnsName,
  addresses: z.array(IpAddress).max(8).default([]).describe('glue: answered as A/AAAA when the name is inside a served zone'),
});

/** A bounded duration in ms ("10s", "500ms"); the bounds keep Node's timers meaningful. */
function boundedDuration(minMs: number, maxMs: number) {
  return Duration.refine((ms) => ms >= minMs && ms <= maxMs, `expected a duration between ${minMs} ms and ${maxMs / 1000} s`);
}

/** RFC 7766 §6.2.3 resource limits for DNS over TCP, per serving process (defaults: knot's where it has one). */
export const TcpLimits = z
  .strictObject({
    max_connections: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(2_000)
      .describe('open connections per worker; at the limit a new client closes the least recently active idle one'),
    idle_timeout: boundedDuration(100, 3_600_000).default(10_000).describe('close a connection with no query in progress after this long (knot tcp-idle-timeout)'),
    message_timeout: boundedDuration(100, 600_000)
      .default(500)
      .describe('time allowed to receive the rest of a started query, or to take an answer the server is waiting to send (knot tcp-io-timeout)'),
    max_unsent: z
      .number()
      .int()
      .min(512)
      .max(16 << 20)
      .default(16_384)
      .describe('bytes of answers queued for one connection before the server stops reading its queries (backpressure)'),
  })
  .prefault({});
export type TcpLimits = z.output<typeof TcpLimits>;

/** A TSIG key (RFC 8945): signed queries with it are verified and their answers signed. */
export const TsigKeyConfig = z.strictObject({
  name: DnsName.describe('key name as clients send it, e.g. transfer.example.com'),
  algorithm: z.literal('hmac-sha256').default('hmac-sha256').describe('the one algorithm implemented (RFC 8945 §6: mandatory to implement)'),
  secret: z
    .string()
    .regex(/^[A-Za-z0-9+/]+={0,2}$/, 'expected the secret in base64, as tsig-keygen or keymgr -t prints it')
    .refine((v) => Buffer.from(v, 'base64').length >= 16, 'expected at least 16 bytes of secret (32 recommended for hmac-sha256)'),
});

export const DnsConfig = z
  .strictObject({
    listen: Listen.default([{ host: '127.0.0.1', port: 5353 }]),
    api: z
      .strictObject({
        url: z.url().optional().describe('control-plane base URL, e.g. http://127.0.0.1:8080'),
        urls: z.array(z.url()).min(1).max(16).optional().describe('every control-plane replica, nearest first; on failure the next is tried at once (instead of url)'),
        token: z.string().min(1).optional().describe('bearer token (a read-only token is enough)'),
        token_file: z.string().min(1).optional().describe('file holding the bearer token (instead of token); refused when group- or world-readable'),
        tls: TlsClientConfig.optional().describe('for https:// URLs: CA bundle, server-name pin, client certificate (mTLS)'),
        wait: Duration.default(30_000).describe('long-poll wait sent as ?wait=SECONDS'),
        retry: Duration.default(2_000).describe('pause after every replica failed (doubles up to 30s, jittered)'),
        timeout: Duration.default(10_000).describe('extra time allowed beyond `wait` before a poll is abandoned'),
        first_view_wait: Duration.default(10_000).describe('how long a starting server waits for a view from a replica before it listens anyway: from view_cache if set, else answering SERVFAIL until one arrives'),
      })
      .optional(),
    view_file: z.string().min(1).optional().describe('a static DnsView (JSON or YAML) instead of the API'),
    view_cache: z
      .strictObject({
        file: z.string().min(1).describe('where the last good view from the control plane is kept (its directory must exist and be writable); read at start when no replica answers within api.first_view_wait'),
        min_interval: Duration.default(30_000).describe('the view in force is written at most this often (a 1M-subnet view is ~25 MB and seconds of paced work)'),
      })
      .optional()
      .describe('serve-stale across restarts: a server restarted during a control-plane outage answers from its last good view instead of SERVFAIL'),
    authority: z
      .strictObject({
        primary_ns: DnsName.optional().describe('SOA MNAME; default ns1.<zone>'),
        hostmaster: z.string().min(1).optional().describe('SOA RNAME as a mailbox (hostmaster@example.com) or a name; default hostmaster.<zone>'),
        nameservers: z.array(NameServer).max(13).default([]).describe('NS set at every apex; default [primary_ns]'),
        soa_ttl: z.number().int().min(0).max(86_400).default(3600),
        ns_ttl: z.number().int().min(0).max(604_800).default(3600),
        negative_ttl: z.number().int().min(0).max(86_400).default(30).describe('SOA MINIMUM: how long resolvers cache NXDOMAIN/NODATA'),
        refresh: z.number().int().min(1).default(3600),
        retry: z.number().int().min(1).default(600),
        expire: z.number().int().min(1).default(1_209_600),
      })
      .prefault({}),
    geoip: z
      .strictObject({
        database: z.string().min(1).optional().describe('MaxMind City database (.mmdb)'),
        cidr_mappings: z.array(CidrMapping).max(100_000).default([]).describe('used when the database has no location for the client'),
        cache_size: z.number().int().min(0).max(10_000_000).default(100_000).describe('located subnets kept in memory'),
      })
      .prefault({}),
    ecs: z
      .strictObject({
        ipv4_scope_max: z.number().int().min(0).max(32).default(24).describe('finest granularity answers are tailored to (and hashed at)'),
        ipv6_scope_max: z.number().int().min(0).max(128).default(56),
      })
      .prefault({}),
    dnssec: z
      .strictObject({
        key_directory: z.string().min(1).describe('K<zone>.+013+<tag>.key/.private files (BIND format), made by `sluice dns keygen`; a zone is signed when it has keys here'),
        signature_validity: AgeDuration.default(7 * 86_400_000).describe('how long a signature is valid after it is made'),
        refresh_before: AgeDuration.default(2 * 86_400_000).describe('re-sign when less than this validity remains; must be shorter than signature_validity'),
        inception_offset: AgeDuration.default(3_600_000).describe('signatures start this long before they are made (validators whose clocks run behind)'),
        dnskey_ttl: z.number().int().min(0).max(86_400).default(3600).describe('TTL of DNSKEY, CDS and CDNSKEY'),
        cache_size: z.number().int().min(16).max(10_000_000).default(100_000).describe('distinct RRsets whose signatures are kept per serving process'),
        key_check_interval: Duration.refine((ms) => ms === 0 || ms >= 100, 'must be at least 100ms, or 0 (re-read the keys on SIGHUP only)')
          .default(30_000)
          .describe('how often the key directory is checked for changes (a key made or rescheduled, by the CLI or the control plane); a change re-reads the keys as SIGHUP does; 0: SIGHUP only'),
      })
      .optional(),
    udp_payload_size: z.number().int().min(512).max(4096).default(1232).describe('our EDNS UDP size (DNS flag day 2020: 1232)'),
    tcp: TcpLimits,
    tsig_keys: z.array(TsigKeyConfig).max(1000).default([]).describe('without keys a TSIG-signed query gets NOTAUTH/BADKEY'),
    udp_io: z
      .enum(['auto', 'recvmmsg', 'dgram'])
      .default('auto')
      .describe('UDP path: recvmmsg = batched recvmmsg/sendmmsg in a thread per worker (Linux x64/arm64); dgram = node:dgram; auto = recvmmsg where available'),
    workers: z.union([z.number().int().min(1).max(256), z.literal('auto')]).default(1).describe('processes serving DNS; "auto" = one per CPU'),
    metrics: z
      .strictObject({
        listen: HostPort,
        tls: TlsServerConfig.optional().describe('serve /metrics over HTTPS (Prometheus scrape tls_config); with client_ca_file, client certificates'),
      })
      .optional(),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  })
  .superRefine((c, ctx) => {
    if (!c.api === !c.view_file) {
      ctx.addIssue({ code: 'custom', path: c.api ? ['view_file'] : ['api'], message: 'set exactly one of `api` (control plane) or `view_file` (static view)' });
    }
    if (c.view_cache && !c.api) ctx.addIssue({ code: 'custom', path: ['view_cache'], message: 'view_cache keeps views from the control plane: it needs `api` (a view_file is its own cache)' });
    if (c.api && !c.api.url === !c.api.urls) ctx.addIssue({ code: 'custom', path: ['api', 'url'], message: 'set api.url (one control plane) or api.urls (its replicas), not both' });
    if (c.api && c.api.token && c.api.token_file) ctx.addIssue({ code: 'custom', path: ['api', 'token_file'], message: 'set token or token_file, not both' });
    if (c.api?.tls) notHttps(c.api.url ? [c.api.url] : (c.api.urls ?? [])).forEach((i) => ctx.addIssue({ code: 'custom', path: ['api', ...(c.api!.url ? ['url'] : ['urls', i])], message: 'api.tls is set, so the control plane must be reached over https://' }));
    const seen = new Set<string>();
    c.tsig_keys.forEach((k, i) => {
      const name = k.name.toLowerCase().replace(/\.$/, '');
      if (seen.has(name)) ctx.addIssue({ code: 'custom', path: ['tsig_keys', i, 'name'], message: `key "${k.name}" is defined twice` });
      seen.add(name);
    });
    if (c.dnssec && c.dnssec.refresh_before >= c.dnssec.signature_validity) {
      ctx.addIssue({ code: 'custom', path: ['dnssec', 'refresh_before'], message: 'must be shorter than dnssec.signature_validity (signatures would be re-made on every use)' });
    }
    const longestTtl = c.dnssec ? Math.max(c.dnssec.dnskey_ttl, c.authority.soa_ttl, c.authority.ns_ttl) : 0;
    if (c.dnssec && c.dnssec.refresh_before < 1000 * longestTtl) {
      ctx.addIssue({ code: 'custom', path: ['dnssec', 'refresh_before'], message: `must be at least the longest TTL (${longestTtl}s): a resolver keeps a signature that long after fetching it` });
    }
  });
export type DnsConfig = z.output<typeof DnsConfig>;

/** Loads and validates the config; relative paths become absolute (relative to the file). */
export function loadDnsConfig(file: string): DnsConfig {
  const config = loadConfigFile(DnsConfig, file);
  return resolvePaths(config, dirname(resolve(file)));
}

export function resolvePaths(config: DnsConfig, baseDir: string): DnsConfig {
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  const api = config.api && { ...config.api, ...(config.api.token_file ? { token_file: abs(config.api.token_file) } : {}), ...(config.api.tls ? { tls: resolveTlsPaths(config.api.tls, baseDir) } : {}) };
  return {
    ...config,
    ...(config.view_file ? { view_file: abs(config.view_file) } : {}),
    ...(config.view_cache ? { view_cache: { ...config.view_cache, file: abs(config.view_cache.file) } } : {}),
    ...(api ? { api } : {}),
    ...(config.metrics?.tls ? { metrics: { ...config.metrics, tls: resolveTlsPaths(config.metrics.tls, baseDir) } } : {}),
    geoip: { ...config.geoip, ...(config.geoip.database ? { database: abs(config.geoip.database) } : {}) },
    ...(config.dnssec ? { dnssec: { ...config.dnssec, key_directory: abs(config.dnssec.key_directory) } } : {}),
  };
}

export { ConfigError };
