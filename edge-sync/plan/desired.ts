// EdgeConfig (what the control plane wants) -> the desired state of one data plane: one pool per
// listener (HAProxy backend, nginx upstream, IPVS virtual service) with one server per origin address
// and an integer weight on the data plane's own scale. Pure: data in, data out.
import type { EdgeConfig } from '../../model/views.ts';
import { apportion } from './rounding.ts';

export interface DesiredServer {
  /** Data-plane name of the server (HAProxy server name; informational for nginx/IPVS). */
  name: string;
  originId: string;
  origin: string;
  address: string;
  port: number;
  /** Integer weight on the data plane's scale; 0 = quiesced (no new connections, existing continue). */
  weight: number;
  /** The share the control plane asked for (0 when quiesced locally because unhealthy/disabled). */
  share: number;
}

export interface DesiredPool {
  /** "vip:port" (IPv6 in brackets): the listener this pool serves. */
  listener: string;
  loadBalancerId: string;
  loadBalancer: string;
  vip: string;
  port: number;
  protocol: string;
  /** Data-plane name of the pool (HAProxy backend, nginx upstream); IPVS uses the listener. */
  name: string;
  servers: DesiredServer[];
  /**
   * Set when the pool must NOT be touched this round, with the reason (e.g. every share is 0: applying
   * that would black-hole the listener; the weights in force stay until the control plane says more).
   */
  hold?: string;
  /** Set when every origin is down by quorum and the pool is served by all of them anyway (fail open). */
  failOpen?: string;
}

export interface NamingOptions {
  /** Template for the pool name; {load_balancer}, {load_balancer_id}, {port}, {vip}, {protocol}. */
  poolName: string;
  /** Integer total the shares of one pool are apportioned over. */
  weightTotal: number;
}

export function listenerKey(vip: string, port: number): string {
  return vip.includes(':') ? `[${vip}]:${port}` : `${vip}:${port}`;
}

/** Names usable as HAProxy backend/server names and nginx upstream names: [A-Za-z0-9_.-]. */
export function safeName(text: string): string {
  return text.replace(/[^A-Za-z0-9_.-]/g, '_');
}

export function renderName(template: string, vars: Record<string, string | number>): string {
  return safeName(template.replace(/\{(\w+)\}/g, (whole, key: string) => (key in vars ? String(vars[key]) : whole)));
}

/**
 * Why an origin gets weight 0 regardless of its share: the data plane must not open new connections to
 * an origin the control plane knows to be unhealthy or disabled, even if a stale share says otherwise.
 */
export function quiesceReason(origin: { healthy: boolean; admin_state: string; reachable?: boolean }): string | null {
  if (origin.admin_state === 'disabled') return 'disabled';
  if (!origin.healthy) return 'unhealthy';
  if (origin.reachable === false) return 'unreachable from this edge';
  return null;
}

/**
 * Every enabled origin of the listener is down by quorum: the control plane's view then spreads the
 * weights over all of them (fail open, as gdnsd and PowerDNS do), and so does the edge — an all-red
 * board is more often the checkers' fault, and "no server" is a certain outage.
 */
export function failsOpen(origins: readonly { healthy: boolean; admin_state: string; weight: number }[]): boolean {
  const enabled = origins.filter((o) => o.admin_state !== 'disabled');
  return enabled.length > 0 && enabled.every((o) => !o.healthy) && enabled.some((o) => o.weight > 0);
}

export function desiredPools(config: EdgeConfig, naming: NamingOptions): DesiredPool[] {
  return config.listeners.map((l) => {
    const listener = listenerKey(l.vip, l.port);
    const vars = { load_balancer: l.load_balancer, load_balancer_id: l.load_balancer_id, port: l.port, vip: l.vip, protocol: l.protocol };
    const name = renderName(naming.poolName, vars);
    // One server per (origin, address); an origin's share is split evenly over its addresses.
    const rows: { server: Omit<DesiredServer, 'weight'>; effective: number }[] = [];
    const failOpen = failsOpen(l.origins);
    for (const o of l.origins) {
      const quiesced = failOpen ? o.admin_state === 'disabled' : quiesceReason(o) !== null;
      o.addresses.forEach((address, idx) => {
        const serverName = safeName(o.addresses.length === 1 ? o.name : `${o.name}_${idx + 1}`);
        const effective = quiesced ? 0 : o.weight / o.addresses.length;
        rows.push({ server: { name: serverName, originId: o.id, origin: o.name, address, port: o.port, share: quiesced ? 0 : o.weight }, effective });
      });
    }
    const weights = apportion(rows.map((r) => r.effective), { total: naming.weightTotal });
    const servers = rows.map((r, i) => ({ ...r.server, weight: weights[i]! }));
    const pool: DesiredPool = { listener, loadBalancerId: l.load_balancer_id, loadBalancer: l.load_balancer, vip: l.vip, port: l.port, protocol: l.protocol, name, servers };
    if (failOpen) pool.failOpen = 'every origin is down by quorum: serving all of them (fail open) rather than none';
    if (servers.length === 0) pool.hold = 'no origins in the config for this listener';
    else if (servers.every((s) => s.weight === 0)) pool.hold = 'every origin has share 0 or is unhealthy/disabled; keeping the weights in force rather than black-holing the listener';
    const dup = firstDuplicate(servers.map((s) => s.name));
    if (dup) pool.hold = `two origins map to the same server name "${dup}"; rename one`;
    return pool;
  });
}

function firstDuplicate(names: string[]): string | null {
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) return n;
    seen.add(n);
  }
  return null;
}
