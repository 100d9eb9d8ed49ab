// Addresses, CIDRs, host:port and durations as plain functions with no dependency. The zod schemas in
// primitives.ts are built on them (and re-export them); code that needs only these imports this file and
// never loads zod, which keeps the agent's collector worker small (agent/footprint.test.ts).
import { isIP } from 'node:net';

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses "500ms", "15s", "5m", "168h", "7d" into milliseconds; null when it is not a duration. */
export function parseDuration(text: string): number | null {
  const m = DURATION.exec(text.trim());
  if (!m) return null;
  const ms = Number(m[1]) * UNIT_MS[m[2]!]!;
  return Number.isFinite(ms) ? ms : null;
}

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
  const prefix = prefixOf(text, slash + 1);
  if (prefix < 0) return null;
  // The plain forms (dotted quad; hex groups and one "::") are read in one pass; anything else (an
  // IPv4 tail, a zone, or text that is no address) goes the way isIP decides. A DNS server parses
  // every subnet of a delta in each serving thread: through isIP's regular expressions that was
  // ~1.2 µs a subnet, a quarter of applying a 2 % delta at 1M (measured).
  const bytes = readIPv4(text, slash) ?? readIPv6(text, slash) ?? slowBytes(text.slice(0, slash));
  if (!bytes) return null;
  if (prefix > bytes.length * 8) return null;
  for (let bit = prefix; bit < bytes.length * 8; bit++) {
    if (bytes[bit >> 3]! & (0x80 >> (bit & 7))) return null;
  }
  return { family: bytes.length === 4 ? 4 : 6, bytes, prefix };
}

/** parseCidr's verdict on a subnet written in place by parseCidrInto: IPv6 (else IPv4). */
export const CIDR_IPV6 = 0x100;

/**
 * parseCidr without an object or array per subnet (a delta's 20k subnets parsed per publish): the
 * network's bytes into out[at, at + 4 or 16), returned its prefix | CIDR_IPV6 for IPv6, or -1 when
 * parseCidr would return null (then some bytes there may have been written). Same verdicts as parseCidr.
 */
export function parseCidrInto(text: string, out: Uint8Array, at: number): number {
  const slash = text.indexOf('/');
  if (slash < 0) return -1;
  const prefix = prefixOf(text, slash + 1);
  if (prefix < 0) return -1;
  let len: number;
  if (readIPv4Into(text, slash, out, at)) len = 4;
  else if (readIPv6Into(text, slash, out, at)) len = 16;
  else {
    const bytes = slowBytes(text.slice(0, slash));
    if (!bytes) return -1;
    out.set(bytes, at);
    len = bytes.length;
  }
  if (prefix > len * 8) return -1;
  for (let bit = prefix; bit < len * 8; bit++) {
    if (out[at + (bit >> 3)]! & (0x80 >> (bit & 7))) return -1;
  }
  return len === 16 ? prefix | CIDR_IPV6 : prefix;
}

/** The prefix length after the slash: 1-3 digits (as /^\d{1,3}$/), else -1. */
function prefixOf(text: string, from: number): number {
  const len = text.length - from;
  if (len < 1 || len > 3) return -1;
  let n = 0;
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

function slowBytes(addr: string): Uint8Array | null {
  const family = isIP(addr);
  return family === 0 ? null : bytesOf(addr, family);
}

/**
 * text[0, end) as a dotted quad exactly as isIP accepts one (four decimal octets 0-255, no leading
 * zero), or undefined when it is not one (the caller then asks isIP: never a different verdict).
 */
function readIPv4(text: string, end: number): Uint8Array | undefined {
  const out = new Uint8Array(4);
  return readIPv4Into(text, end, out, 0) ? out : undefined;
}

/** readIPv4 writing the 4 bytes into out[at, at + 4) (some may be written when it fails). */
function readIPv4Into(text: string, end: number, out: Uint8Array, at: number): boolean {
  let octet = 0;
  let n = 0;
  let digits = 0;
  for (let i = 0; i <= end; i++) {
    const c = i === end ? 46 : text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || octet > 3) return false;
      out[at + octet++] = n;
      n = 0;
      digits = 0;
      continue;
    }
    const d = c - 48;
    if (d < 0 || d > 9 || (digits === 1 && n === 0)) return false;
    n = n * 10 + d;
    if (++digits > 3 || n > 255) return false;
  }
  return octet === 4;
}

/** readIPv6's groups (no array per subnet). */
const GROUPS = new Uint16Array(8);

/**
 * text[0, end) as IPv6 of hex groups (1-4 digits) with at most one "::", as isIP accepts it, or
 * undefined for anything else (an embedded IPv4 tail, a zone: the caller asks isIP).
 */
function readIPv6(text: string, end: number): Uint8Array | undefined {
  const out = new Uint8Array(16);
  return readIPv6Into(text, end, out, 0) ? out : undefined;
}

/** readIPv6 writing the 16 bytes into out[at, at + 16) (nothing written when it fails). */
function readIPv6Into(text: string, end: number, out: Uint8Array, at: number): boolean {
  const groups = GROUPS;
  let count = 0;
  let gap = -1; // groups before the "::"
  let i = 0;
  if (text.charCodeAt(0) === 58) {
    if (text.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
  }
  while (i < end) {
    let n = 0;
    let digits = 0;
    for (; i < end; i++) {
      const c = text.charCodeAt(i);
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : c === 58 ? -1 : -2;
      if (d === -2) return false;
      if (d === -1) break;
      n = n * 16 + d;
      if (++digits > 4) return false;
    }
    if (digits === 0 || count === 8) return false; // nine groups: too many in any form
    groups[count++] = n;
    if (i === end) break;
    i++; // the colon
    if (i === end) return false; // a trailing single colon
    if (text.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = count;
      i++;
    }
  }
  if (gap < 0 ? count !== 8 : count > 7) return false;
  out.fill(0, at, at + 16);
  const tail = gap < 0 ? 0 : count - gap;
  for (let g = 0; g < count; g++) {
    const to = at + 2 * (gap >= 0 && g >= gap ? 8 - tail + (g - gap) : g);
    out[to] = groups[g]! >> 8;
    out[to + 1] = groups[g]! & 0xff;
  }
  return true;
}

/** IPv4 or IPv6 text to bytes (4 or 16). */
export function ipToBytes(ip: string): Uint8Array | null {
  return bytesOf(ip, isIP(ip));
}

/**
 * `ip` already checked by isIP (its `family`): parseCidr runs once per learned subnet of every view a
 * DNS server installs, so the (regular-expression) check is not repeated and IPv4 is read in place.
 */
function bytesOf(ip: string, family: number): Uint8Array | null {
  if (family === 4) {
    const out = new Uint8Array(4);
    let octet = 0;
    let n = 0;
    for (let i = 0; i < ip.length; i++) {
      const c = ip.charCodeAt(i);
      if (c === 46) {
        out[octet++] = n;
        n = 0;
      } else n = n * 10 + c - 48;
    }
    out[octet] = n;
    return out;
  }
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
