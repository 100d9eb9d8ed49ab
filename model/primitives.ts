// Small, reusable zod building blocks. Every resource and config schema is made of these, so an
// address, a CIDR or a duration is validated (and explained) the same way everywhere.
import { isIP } from 'node:net';
import { z } from 'zod';
import { parseCidr, parseDuration, parseHostPort } from './addresses.ts';

export { bytesToIp, ipToBytes, maskBytes, parseCidr, parseDuration, parseHostPort, subnetOf, type ParsedCidr } from './addresses.ts';

export const Name = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$/, 'lower-case letters, digits, ".", "_" or "-", starting and ending with a letter or digit');

export const Region = z.string().min(1).max(63).regex(/^[a-z0-9][a-z0-9._-]*$/, 'lower-case letters, digits, ".", "_" or "-"');

export const IpAddress = z.string().refine((s) => isIP(s) !== 0, 'expected an IPv4 or IPv6 address');

/** A CIDR with no host bits set ("81.2.69.0/24", "2001:db8::/48"). */
export const Cidr = z.string().refine((s) => parseCidr(s) !== null, 'expected a CIDR such as 192.0.2.0/24 or 2001:db8::/48 with no host bits set');

export const Port = z.number().int().min(1).max(65535);

/** A DNS name; compared case-insensitively (no transform, so it also serves response schemas). */
export const DnsName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?)(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9])?)*\.?$/i, 'expected a DNS name such as app.example.com');

export const Location = z.strictObject({
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
});
export type Location = z.infer<typeof Location>;

/** A share of traffic, 0..1. */
export const Share = z.number().min(0).max(1);

/** Requests (or new connections) per second: finite and non-negative. */
export const Rps = z.number().nonnegative();

/**
 * The longest delay Node's timers hold: 2^31-1 ms (about 24.8 days). A longer one overflows and fires
 * after 1 ms, so a loop scheduled with it would spin instead of wait.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;
/** Ages and retention periods are compared with timestamps, never scheduled; ten years is plenty. */
export const MAX_AGE_MS = 3650 * 86_400_000;

const EXAMPLES = '"500ms", "15s", "5m" or "168h"';

function humanDays(ms: number): string {
  const days = ms / 86_400_000;
  return `${Number.isInteger(days) ? days : (Math.floor(days * 10) / 10).toFixed(1)} days`;
}

/**
 * A duration as configs write it: a number and a unit ("500ms", "15s", "5m", "168h", "7d"), or 0;
 * milliseconds once parsed. A bare number is refused: "timeout: 30" means 30 s to one reader and
 * 30 ms to another. `maxMs` bounds it (MAX_TIMER_MS for anything scheduled).
 */
export function durationSchema(maxMs: number, why: string) {
  return z.unknown().transform((v, ctx): number => {
    let ms: number | null;
    if (typeof v === 'number') {
      if (v === 0) return 0;
      const message = Number.isFinite(v) && v > 0
        ? `a bare number is ambiguous; write the unit, e.g. "${v}ms" or "${v / 1000}s"`
        : `expected a duration: a number with a unit such as ${EXAMPLES}, got ${String(v)}`;
      ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    }
    if (typeof v === 'string') ms = parseDuration(v);
    else ms = null;
    if (ms === null) {
      ctx.addIssue({ code: 'custom', message: `expected a duration such as ${EXAMPLES}, got ${typeof v === 'string' ? `"${v}"` : String(v)}` });
      return z.NEVER;
    }
    if (!(ms <= maxMs)) {
      ctx.addIssue({ code: 'custom', message: `"${String(v).trim()}" is longer than ${why}: at most ${humanDays(maxMs)} (${maxMs}ms)` });
      return z.NEVER;
    }
    return ms;
  });
}

/** Anything the runtime schedules (intervals, timeouts, waits): at most MAX_TIMER_MS. */
export const Duration = durationSchema(MAX_TIMER_MS, 'a timer can wait');

/** A retention period or time-to-live (compared with timestamps, never scheduled): at most ten years. */
export const AgeDuration = durationSchema(MAX_AGE_MS, 'a retention period may be');

/** "host:port" or "[v6]:port". */
export const HostPort = z.string().transform((v, ctx) => {
  const parsed = parseHostPort(v);
  if (!parsed) {
    ctx.addIssue({ code: 'custom', message: `expected HOST:PORT such as 127.0.0.1:8080 or [::1]:8080, got "${v}"` });
    return z.NEVER;
  }
  return parsed;
});
