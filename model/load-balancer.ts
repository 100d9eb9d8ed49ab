import { z } from 'zod';
import { patchSchema } from './patch.ts';
import { DnsName, IpAddress, Name, Port } from './primitives.ts';

export const Policy = z.enum(['latency', 'balance', 'weighted', 'failover']).describe(
  'latency: nearest origin with capacity, spill to the next; balance: even utilisation first, latency second; weighted: static weights; failover: ordered by priority',
);
export type Policy = z.infer<typeof Policy>;

/**
 * The unit origin capacities (target_rps, max_rps) and every demand and load of this load balancer are
 * counted in, per second. Every input is converted into it before it is planned with (scheduler/inputs/
 * convert.ts); two units are never added.
 */
export const CapacityUnit = z.enum(['requests', 'connections', 'bytes']).describe(
  'requests: HTTP requests per second (default); connections: new TCP connections per second (L4 capacity); bytes: bytes per second, in and out (bandwidth)',
);
export type CapacityUnit = z.infer<typeof CapacityUnit>;

export function capacityUnitOf(lb: { capacity_unit?: CapacityUnit | undefined }): CapacityUnit {
  return lb.capacity_unit ?? 'requests';
}

export const DnsEntry = z.strictObject({
  zone: DnsName.describe('the zone sluice dns is authoritative for, e.g. example.com'),
  hostname: DnsName.describe('the name answered, inside the zone, e.g. app.example.com'),
  ttl: z.number().int().min(1).max(86_400).default(30),
  answers: z.number().int().min(1).max(8).default(1).describe('how many addresses one answer carries'),
});

export const Listener = z.strictObject({
  vip: IpAddress.describe('the virtual (anycast) address edges listen on'),
  port: Port,
  protocol: z.enum(['tcp', 'udp', 'http', 'https']).default('tcp'),
});
export type Listener = z.infer<typeof Listener>;

const loadBalancerFields = {
  name: Name,
  dns: DnsEntry.optional(),
  listeners: z.array(Listener).max(64).default([]),
  policy: Policy.default('latency'),
  // Optional rather than defaulted so that specs written before it existed (stored JSON, callers of the
  // store) stay valid: absent means requests, everywhere it is read (capacityUnitOf).
  capacity_unit: CapacityUnit.optional().describe("what origins' target_rps and max_rps count, per second (default requests); every input is converted into it"),
  max_latency_ms: z.number().positive().max(10_000).default(500).describe('pairs above this RTT are never used'),
  min_samples: z.number().int().min(1).max(1_000_000).default(5).describe('learned RTT with fewer samples is ignored'),
  max_shift: z.number().positive().max(1).default(0.02).describe('largest change of one weight per scheduler cycle'),
  deadband: z.number().min(0).max(0.5).default(0.005).describe('weight moves smaller than this are skipped'),
  gain: z.number().positive().max(1).default(0.5).describe('near the plan, the fraction of the remaining gap closed per cycle (lower settles demand that reacts to RTT)'),
  stickiness_ms: z.number().min(0).max(1000).optional().describe('anti-flap band: moving load off an origin it is on must save at least this much latency (ms; default 0). A few ms keeps many near-identical DNS subnets from trading places on RTT noise'),
  enabled: z.boolean().default(true),
  // Optional (absent = enforce) so specs stored before it existed stay valid.
  mode: z
    .enum(['enforce', 'shadow'])
    .optional()
    .describe('enforce (default): the scheduler publishes its weights; shadow: it reads, decides and records every cycle (what it would publish, predicted loads) but publishes nothing. Back to enforce, it starts from the weights in force, damped'),
};

function dnsHostnameInZone(lb: { dns?: { zone: string; hostname: string } | undefined }, ctx: z.RefinementCtx): void {
  const zone = lb.dns?.zone.toLowerCase().replace(/\.$/, '');
  const host = lb.dns?.hostname.toLowerCase().replace(/\.$/, '');
  if (zone !== undefined && host !== zone && !host?.endsWith(`.${zone}`)) {
    ctx.addIssue({ code: 'custom', path: ['dns', 'hostname'], message: `must be inside zone ${zone}` });
  }
}

/** What a client sends to create (or fully replace) a load balancer. */
export const LoadBalancerInput = z
  .strictObject(loadBalancerFields)
  .superRefine((lb, ctx) => {
    if (!lb.dns && lb.listeners.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['listeners'], message: 'a load balancer needs a dns entry and/or at least one listener' });
    }
    dnsHostnameInZone(lb, ctx);
  })
  .meta({ id: 'LoadBalancerSpec' });
export type LoadBalancerInput = z.input<typeof LoadBalancerInput>;
export type LoadBalancerSpec = z.output<typeof LoadBalancerInput>;

/** PATCH body: any subset of the fields; the merged result is validated as a whole. */
export const LoadBalancerPatch = patchSchema(loadBalancerFields);

export const LoadBalancer = z.strictObject({
  id: z.string(),
  ...loadBalancerFields,
  dns: DnsEntry.optional(),
  revision: z.number().int(),
  created_at: z.string(),
  updated_at: z.string(),
}).meta({ id: 'LoadBalancer' });
export type LoadBalancer = z.output<typeof LoadBalancer>;
