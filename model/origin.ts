import { z } from 'zod';
import { patchSchema } from './patch.ts';
import { IpAddress, Location, Name, Port, Region } from './primitives.ts';

/**
 * The request target a health check sends, exactly as it goes on the wire: RFC 3986 path and query
 * characters only, "%" only as a valid escape. No spaces, control characters (CRLF would inject
 * headers), fragments or raw non-ASCII: Node refuses to send such a path, so it could never be checked.
 */
export const HealthCheckPath = z
  .string()
  .max(1024)
  .regex(/^\//, 'must start with "/"')
  .regex(/^[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*$/, 'only URL path and query characters (RFC 3986); escape anything else, e.g. a space as %20')
  .regex(/^(?:[^%]|%[0-9A-Fa-f]{2})*$/, 'a "%" must start an escape of two hex digits, e.g. %20');

const healthCheckFields = {
  type: z.enum(['http', 'https', 'tcp']).default('tcp'),
  path: HealthCheckPath.default('/'),
  interval_ms: z.number().int().min(100).max(3_600_000).default(5_000),
  timeout_ms: z.number().int().min(10).max(60_000).default(2_000),
  rise: z.number().int().min(1).max(100).default(2).describe('consecutive passes before an origin is healthy again'),
  fall: z.number().int().min(1).max(100).default(2).describe('consecutive failures before an origin is unhealthy'),
  expect_status: z.array(z.number().int().min(100).max(599)).max(32).default([200, 204]),
};

export const HealthCheck = z
  .strictObject(healthCheckFields)
  .refine((h) => h.timeout_ms <= h.interval_ms, { path: ['timeout_ms'], message: 'must not exceed interval_ms' });

/**
 * A health check as stored and served. The path is any string here: data written before paths were
 * validated must still be readable (the checker counts a path it cannot send as a failed check).
 */
export const StoredHealthCheck = z.strictObject({ ...healthCheckFields, path: z.string() }).meta({ id: 'StoredHealthCheck' });

export const AdminState = z.enum(['active', 'drain', 'disabled']).describe(
  'active: scheduled; drain: share walks down to 0 at the damping rate; disabled: 0 at once',
);
export type AdminState = z.infer<typeof AdminState>;

const originFields = {
  name: Name,
  region: Region,
  addresses: z.array(IpAddress).min(1).max(16),
  port: Port,
  location: Location,
  target_rps: z.number().positive().describe("soft capacity, per second in the load balancer's capacity_unit (requests by default): the scheduler plans to stay at or under it"),
  max_rps: z.number().positive().describe("hard capacity, per second in the load balancer's capacity_unit: never planned above it; overflow beyond target spills by headroom"),
  health_check: HealthCheck.optional(),
  admin_state: AdminState.default('active'),
  static_weight: z.number().min(0).max(1000).default(1).describe('used by the weighted policy and as the last fallback'),
  priority: z.number().int().min(0).max(1000).default(0).describe('failover order: lower first'),
};

function targetNotAboveMax(o: { target_rps?: number; max_rps?: number }, ctx: z.RefinementCtx): void {
  if (o.target_rps !== undefined && o.max_rps !== undefined && o.target_rps > o.max_rps) {
    ctx.addIssue({ code: 'custom', path: ['target_rps'], message: `target_rps (${o.target_rps}) must not exceed max_rps (${o.max_rps})` });
  }
}

export const OriginInput = z.strictObject(originFields).superRefine(targetNotAboveMax).meta({ id: 'OriginSpec' });
export type OriginInput = z.input<typeof OriginInput>;
export type OriginSpec = z.output<typeof OriginInput>;

export const OriginPatch = patchSchema(originFields);

export const Origin = z.strictObject({
  id: z.string(),
  load_balancer_id: z.string(),
  ...originFields,
  health_check: StoredHealthCheck.optional(),
  revision: z.number().int(),
  created_at: z.string(),
  updated_at: z.string(),
}).meta({ id: 'Origin' });
export type Origin = z.output<typeof Origin>;

