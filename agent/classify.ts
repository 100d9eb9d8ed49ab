// Decides what a socket is to the agent: a client connected to one of our service ports (inbound: its
// RTT is client latency), a connection from us to a configured upstream (outbound: upstream latency),
// or neither (ignored). Pure.
import { bytesToIp, ipToBytes, maskBytes, parseCidr } from '../model/addresses.ts';
import type { SocketRecord } from './collector.ts';

export type Direction = 'inbound' | 'outbound' | 'other';

export interface ClassifyConfig {
  servicePorts: ReadonlySet<number>;
  /** "addr|port" keys in canonical text form (see upstreamKey). */
  upstreams: ReadonlyMap<string, string>;
  includeLoopback: boolean;
  /** Peers that are not clients (health checkers, monitoring): `ignore_peers`. Absent when none are configured. */
  ignored?: (addr: string) => boolean;
}

/** Canonical key for an address and port, whatever way the address was written. */
export function upstreamKey(addr: string, port: number): string {
  const bytes = ipToBytes(addr);
  let text = bytes ? bytesToIp(bytes) : addr;
  if (bytes && bytes.length === 16 && text.startsWith('::ffff:')) {
    // Compare v4-mapped upstreams as IPv4, as the parser reports them.
    text = `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
  }
  return `${text}|${port}`;
}

/** "addr:port", "[v6]:port": the `upstream` label. */
export function upstreamLabel(addr: string, port: number): string {
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

export function isLoopback(addr: string): boolean {
  return addr.startsWith('127.') || addr === '::1';
}

export function buildClassifyConfig(opts: { servicePorts: number[]; upstreams: { host: string; port: number }[]; includeLoopback: boolean; ignorePeers?: string[] }): ClassifyConfig {
  const upstreams = new Map<string, string>();
  for (const u of opts.upstreams) {
    const key = upstreamKey(u.host, u.port);
    upstreams.set(key, upstreamLabel(key.slice(0, key.lastIndexOf('|')), u.port));
  }
  const cfg: ClassifyConfig = { servicePorts: new Set(opts.servicePorts), upstreams, includeLoopback: opts.includeLoopback };
  const nets = (opts.ignorePeers ?? []).map((c) => parseCidr(c)).filter((n) => n !== null);
  if (nets.length > 0) {
    cfg.ignored = (addr) => {
      const bytes = ipToBytes(addr);
      return bytes !== null && nets.some((n) => n.bytes.length === bytes.length && maskBytes(bytes, n.prefix).every((b, i) => b === n.bytes[i]));
    };
  }
  return cfg;
}

export interface Classified {
  direction: Direction;
  /** For outbound: the upstream label. */
  upstream?: string;
}

const INBOUND: Classified = { direction: 'inbound' };
const OTHER: Classified = { direction: 'other' };

export function classify(s: SocketRecord, cfg: ClassifyConfig): Classified {
  if (!cfg.includeLoopback && isLoopback(s.remoteAddr)) return OTHER;
  if (cfg.servicePorts.has(s.localPort)) return cfg.ignored?.(s.remoteAddr) ? OTHER : INBOUND;
  if (cfg.upstreams.size > 0) {
    const label = cfg.upstreams.get(`${s.remoteAddr}|${s.remotePort}`);
    if (label) return { direction: 'outbound', upstream: label };
  }
  return OTHER;
}
