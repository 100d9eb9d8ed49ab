// The control plane's YAML config. Command-line --listen and --data-dir override the file.
import { z } from 'zod';
import { Duration, HostPort } from '../model/primitives.ts';
import { SchedulerConfig } from '../scheduler/config.ts';

const Token = z
  .string()
  .min(16, 'tokens must be at least 16 characters (or "sha256:" and 64 hex digits)')
  .refine((t) => !t.startsWith('sha256:') || /^sha256:[0-9a-f]{64}$/.test(t), 'expected "sha256:" followed by 64 lower-case hex digits');

export const ControlPlaneConfig = z.strictObject({
  listen: HostPort.default({ host: '127.0.0.1', port: 8080 }),
  data_dir: z.string().min(1).default('./data'),
  log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  auth: z
    .strictObject({
      admin_tokens: z.array(Token).default([]).describe('bearer tokens allowed to write; plain or "sha256:<hex>"'),
      read_tokens: z.array(Token).default([]).describe('bearer tokens allowed to read only'),
    })
    .default({ admin_tokens: [], read_tokens: [] }),
  api: z
    .strictObject({
      body_limit_bytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
      long_poll_max: Duration.default(60_000).describe('longest ?wait= a client may ask for'),
      docs: z.boolean().default(true).describe('serve Swagger UI at /docs'),
    })
    .default({ body_limit_bytes: 1024 * 1024, long_poll_max: 60_000, docs: true }),
  health_checks: z
    .strictObject({
      enabled: z.boolean().default(true),
    })
    .default({ enabled: true }),
  scheduler: SchedulerConfig.default(SchedulerConfig.parse({})),
});
export type ControlPlaneConfig = z.output<typeof ControlPlaneConfig>;
