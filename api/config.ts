// The control plane's YAML config. Command-line --listen and --data-dir override the file. With a
// `postgres:` block the store is PostgreSQL (any number of replicas on one database); without it,
// SQLite in data_dir (one machine).
import { z } from 'zod';
import { TlsServerConfig } from '../lib/tls-config.ts';
import { AgeDuration, Duration, HostPort } from '../model/primitives.ts';
import { SchedulerConfig } from '../scheduler/config.ts';
import { SERVER_DEFAULTS } from './server.ts';
import { PostgresConfig } from './store/pg-connection.ts';

const Token = z
  .string()
  .min(16, 'tokens must be at least 16 characters (or "sha256:" and 64 hex digits)')
  .refine((t) => !t.startsWith('sha256:') || /^sha256:[0-9a-f]{64}$/.test(t), 'expected "sha256:" followed by 64 lower-case hex digits');

/**
 * Health by quorum (api/health/quorum.ts): how the votes of every vantage point (each replica's checks,
 * each edge's reports) make one decision per origin, and how often this replica reports its own.
 */
export const HealthConfig = z
  .strictObject({
    quorum: z
      .union([z.literal('majority'), z.number().int().min(1).max(1000)])
      .default('majority')
      .describe('down votes that make an origin unhealthy: a majority of the vantage points that reported recently, or a fixed count'),
    min_down: z.number().int().min(1).max(1000).default(2).describe('and never fewer than this many down votes (while that many vantages report)'),
    stale_after: Duration.default(20_000).describe('a vantage that has not reported for this long counts neither way'),
    forget_after: AgeDuration.default(600_000).describe('a vantage silent for this long no longer keeps the bar up (its vote was already stale): decommissioned replicas and edges'),
    hold_down: Duration.default(10_000).describe('an unhealthy origin comes back only after this long without a down quorum'),
    evaluate_interval: Duration.refine((ms) => ms >= 50, 'must be at least 50ms').default(1000).describe('how often the health leader re-judges (also at once on a report it receives)'),
    lease_ttl: Duration.optional().describe('the health lease; default 3 x evaluate_interval, at least 3s'),
    report_interval: Duration.refine((ms) => ms >= 100, 'must be at least 100ms').default(5000).describe("this replica's checks: an unchanged verdict is reported again after this long (heartbeat)"),
    observation_retention: AgeDuration.default(24 * 3600_000).describe('observations not renewed for this long are deleted (retired replicas and edges)'),
  })
  .refine((h) => 2 * h.report_interval <= h.stale_after, { path: ['report_interval'], message: 'must be at most half of health.stale_after, or a vantage goes stale between two heartbeats' })
  .refine((h) => h.forget_after >= h.stale_after, { path: ['forget_after'], message: 'must be at least health.stale_after' });
export type HealthConfig = z.output<typeof HealthConfig>;

const OuList = z.array(z.string().min(1).max(64)).max(100).default([]);

export const ControlPlaneConfig = z
  .strictObject({
    listen: HostPort.default({ host: '127.0.0.1', port: 8080 }),
    tls: TlsServerConfig.optional().describe('serve HTTPS (and, with client_ca_file, verify client certificates); the files are reloaded when they change'),
    insecure: z.boolean().default(false).describe('allow plain HTTP on a non-loopback address (tokens in clear); logged loudly at start'),
    data_dir: z.string().min(1).default('./data'),
    replica_id: z
      .string()
      .regex(/^[A-Za-z0-9._:-]{1,64}$/, 'letters, digits and . _ : - (at most 64)')
      .optional()
      .describe("this replica's name in /api/v1/health, the scheduler lease and health observations; default host:port"),
    postgres: PostgresConfig.optional().describe('the store of several replicas; absent: SQLite in data_dir'),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    auth: z
      .strictObject({
        admin_tokens: z.array(Token).default([]).describe('bearer tokens allowed to write; plain or "sha256:<hex>"'),
        read_tokens: z.array(Token).default([]).describe('bearer tokens allowed to read only'),
        report_tokens: z
          .array(z.union([Token, z.strictObject({ token: Token, edge: z.string().min(1).describe('the edge (by name) this token may report as') })]))
          .default([])
          .describe('edge-sync tokens: read, and send health reports (bound to one edge with {token, edge}); nothing else'),
        client_certificates: z
          .strictObject({
            admin_ous: OuList.describe('a verified client certificate with one of these subject OUs is admin'),
            report_ous: OuList.describe('... with one of these, a report credential bound to the edge its CN names (edge-syncs)'),
            read_ous: OuList.describe('... with one of these, read-only (DNS servers, Prometheus)'),
          })
          .optional()
          .describe('mTLS roles: needs tls.client_ca_file and a verifying tls.client_auth_type'),
      })
      .prefault({}),
    api: z
      .strictObject({
        body_limit_bytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(SERVER_DEFAULTS.bodyLimitBytes),
        long_poll_max: Duration.default(SERVER_DEFAULTS.longPollMaxMs).describe('longest ?wait= a client may ask for'),
        long_poll_per_client: z.number().int().min(1).max(100_000).default(SERVER_DEFAULTS.longPollsPerClient).describe('long-polls one client address may hold at once; beyond it, 429'),
        header_timeout: Duration.refine((ms) => ms >= 100, 'must be at least 100ms').default(SERVER_DEFAULTS.headerTimeoutMs).describe('request line and headers must arrive within this (slowloris)'),
        request_timeout: Duration.refine((ms) => ms >= 100, 'must be at least 100ms').default(SERVER_DEFAULTS.requestTimeoutMs).describe('the whole request, body included, must arrive within this; held long-polls are not affected'),
        docs: z.boolean().default(true).describe('serve Swagger UI at /docs'),
      })
      .refine((a) => a.header_timeout <= a.request_timeout, { path: ['header_timeout'], message: 'must not exceed api.request_timeout (the headers are part of the request)' })
      .prefault({}),
    health_checks: z
      .strictObject({
        enabled: z.boolean().default(true),
      })
      .default({ enabled: true }),
    health: HealthConfig.prefault({}),
    dnssec: z
      .strictObject({
        key_directory: z.string().min(1).describe('where /api/v1/dnssec makes and lists keys (relative to the config file): the directory the dns servers read (dnssec.key_directory in their config), on this host or shared'),
      })
      .optional()
      .describe('DNSSEC key management through the API; absent: the dnssec routes answer 404'),
    scheduler: SchedulerConfig.default(SchedulerConfig.parse({})),
  })
  .superRefine((c, ctx) => {
    if (c.auth.client_certificates && !c.tls?.client_ca_file) {
      ctx.addIssue({ code: 'custom', path: ['auth', 'client_certificates'], message: 'client certificate roles need tls.client_ca_file and tls.client_auth_type (VerifyClientCertIfGiven or RequireAndVerifyClientCert)' });
    }
    if (c.tls && c.insecure) ctx.addIssue({ code: 'custom', path: ['insecure'], message: 'insecure: true allows plain HTTP; it makes no sense with tls set (remove one)' });
  });
export type ControlPlaneConfig = z.output<typeof ControlPlaneConfig>;
