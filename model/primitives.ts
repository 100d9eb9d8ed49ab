// Small, reusable zod building blocks. Every resource and config schema is made of these, so an
// address, a CIDR or a duration is validated (and explained) the same way everywhere.
import { isIP } from 'node:net';
import { z } from 'zod';

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

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "500ms", "15s", "5m", "168h", "7d" into milliseconds; null when it is not a duration. */
export function parseDuration(text: string): number | null {
  const m = DURATION.exec(text.trim());
  if (!m) return null;
  const ms = Number(m[1]) * UNIT_MS[m[2]!]!;
  return Number.isFinite(ms) ? ms : null;
}

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

export function parseHostPort(v: string): { host: string; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(v.trim());
  if (!m) return null;
  const port = Number(m[3]);
  if (port < 0 || port > 65535) return null;
  return { host: (m[1] ?? m[2])!, port };
}

export interface ParsedCidr {
  family: 4 | 6;
  /** Network address bytes (4 or 16). */
  bytes: Uint8Array;
  prefix: number;
}

/** Parses a CIDR; null when malformed or when host bits are set. */
export function parseCidr(text: string): ParsedCidr | null {
  const slash = text.indexOf('/');
  if (slash < 0) return null;
  const addr = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) return null;
  const prefix = Number(prefixText);
  const family = isIP(addr);
  if (family === 0) return null;
  const bytes = ipToBytes(addr);
  if (!bytes) return null;
  if (prefix > bytes.length * 8) return null;
  for (let bit = prefix; bit < bytes.length * 8; bit++) {
    if (bytes[bit >> 3]! & (0x80 >> (bit & 7))) return null;
  }
  return { family: family as 4 | 6, bytes, prefix };
}

/** IPv4 or IPv6 text to bytes (4 or 16). */
export function ipToBytes(ip: string): Uint8Array | null {
  const family = isIP(ip);
  if (family === 4) return Uint8Array.from(ip.split('.').map(Number));
  if (family !== 6) return null;
  let text = ip;
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    tail = text.slice(lastColon + 1).split('.').map(Number);
    text = text.slice(0, lastColon + 1) + '0:0';
  }
  const [head = '', rest] = text.split('::') as [string, string | undefined];
  const headGroups = head ? head.split(':') : [];
  const restGroups = rest !== undefined && rest !== '' ? rest.split(':') : [];
  const missing = 8 - headGroups.length - restGroups.length;
  const groups = [...headGroups, ...Array<string>(rest === undefined ? 0 : missing).fill('0'), ...restGroups];
  if (groups.length !== 8) return null;
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  });
  if (tail.length === 4) out.set(tail, 12);
  return out;
}

/** Bytes (4 or 16) to canonical text (RFC 5952 for IPv6). */
export function bytesToIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** The subnet (network address and prefix) that contains `ip`, e.g. ("81.2.69.142", 24) -> "81.2.69.0/24". */
export function subnetOf(ip: string | Uint8Array, prefix: number): string {
  const bytes = typeof ip === 'string' ? ipToBytes(ip) : Uint8Array.from(ip);
  if (!bytes) throw new Error(`not an IP address: ${String(ip)}`);
  const masked = maskBytes(bytes, prefix);
  return `${bytesToIp(masked)}/${prefix}`;
}

export function maskBytes(bytes: Uint8Array, prefix: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  for (let bit = prefix; bit < out.length * 8; bit++) out[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return out;
}
