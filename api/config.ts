// The control plane's YAML config. Command-line --listen and --data-dir override the file. With a
// `postgres:` block the store is PostgreSQL (any number of replicas on one database); without it,
// SQLite in data_dir (one machine).
import { z } from 'zod';
import { Duration, HostPort } from '../model/primitives.ts';
import { SchedulerConfig } from '../scheduler/config.ts';
import { SERVER_DEFAULTS } from './server.ts';
import { PostgresConfig } from './store/pg-connection.ts';

const Token = z
  .string()
  .min(16, 'tokens must be at least 16 characters (or "sha256:" and 64 hex digits)')
  .refine((t) => !t.startsWith('sha256:') || /^sha256:[0-9a-f]{64}$/.test(t), 'expected "sha256:" followed by 64 lower-case hex digits');

export const ControlPlaneConfig = z.strictObject({
  listen: HostPort.default({ host: '127.0.0.1', port: 8080 }),
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
    })
    .default({ admin_tokens: [], read_tokens: [] }),
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
  scheduler: SchedulerConfig.default(SchedulerConfig.parse({})),
});
export type ControlPlaneConfig = z.output<typeof ControlPlaneConfig>;
