// Desired pools + the table read from `ipvsadm -Ln` -> ipvsadm commands (one per line, in the syntax
// `ipvsadm -R` / ipvsadm-restore reads), and the full restore file. Pure.
import type { DesiredPool } from '../plan/desired.ts';
import { type ActualPool, type Change, diffPools } from '../plan/diff.ts';
import type { IpvsService } from './parse.ts';

export type Forwarding = 'masq' | 'route' | 'tunnel';

export interface IpvsOptions {
  scheduler: string;
  forwarding: Forwarding;
  /** Persistence timeout in seconds, or null. */
  persistence: number | null;
}

const FORWARD_FLAG: Record<Forwarding, string> = { masq: '-m', route: '-g', tunnel: '-i' };
const FORWARD_NAME: Record<Forwarding, string> = { masq: 'Masq', route: 'Route', tunnel: 'Tunnel' };

export function protocolOf(pool: Pick<DesiredPool, 'protocol'>): 'TCP' | 'UDP' {
  return pool.protocol === 'udp' ? 'UDP' : 'TCP';
}

/** The virtual-service key, as `ipvsadm -Ln` prints it: "TCP 192.0.2.10:80". */
export function serviceKey(pool: Pick<DesiredPool, 'protocol' | 'listener'>): string {
  return `${protocolOf(pool)} ${pool.listener}`;
}

function serviceFlag(key: string): string {
  const [proto, addr] = key.split(' ') as [string, string];
  return `${proto === 'UDP' ? '-u' : proto === 'SCTP' ? '--sctp-service' : '-t'} ${addr}`;
}

function endpoint(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

export function servicePools(pools: readonly DesiredPool[]): DesiredPool[] {
  return pools.map((p) => ({ ...p, name: serviceKey(p) }));
}

export function actualPools(services: readonly IpvsService[]): ActualPool[] {
  return services
    .filter((s) => s.protocol !== 'FWM')
    .map((s) => ({
      name: `${s.protocol} ${s.address}`,
      meta: { scheduler: s.scheduler, persistent: s.persistent === null ? '' : String(s.persistent) },
      servers: s.reals.map((r) => ({ name: endpoint(r.address, r.port), address: r.address, port: r.port, weight: r.weight, meta: { forward: r.forward } })),
    }));
}

/**
 * Direct routing (-g) and tunnelling (-i) hand the client's packet to the real server unchanged, still
 * addressed to VIP:port, so they cannot map ports: ipvsadm stores such a real server on the service's
 * port whatever port is asked. A listener whose origins use another port would never converge (every
 * pass would add origin:8080 and find :80 in the table), so it is refused and held with the reason;
 * masquerading (NAT, -m) rewrites the destination and maps ports freely.
 */
export function refuseUnmappablePorts(pools: readonly DesiredPool[], forwarding: Forwarding): { pools: DesiredPool[]; problems: string[] } {
  if (forwarding === 'masq') return { pools: [...pools], problems: [] };
  const problems: string[] = [];
  const out = pools.map((p) => {
    const other = p.servers.filter((s) => s.port !== p.port);
    if (other.length === 0 || p.hold) return p;
    const names = [...new Set(other.map((s) => `${s.origin} (port ${s.port})`))].join(', ');
    const reason = `IPVS ${forwarding} (${FORWARD_FLAG[forwarding]}) forwards packets unchanged, so it cannot map listener port ${p.port} to ${names}: the kernel would keep the real servers on port ${p.port} and the plan would never converge; give these origins port ${p.port} (they must serve the VIP's port), or use forwarding: masq`;
    problems.push(`${serviceKey(p)}: ${reason}`);
    return { ...p, hold: reason };
  });
  return { pools: out, problems };
}

function serviceArgs(key: string, opts: IpvsOptions): string {
  return `${serviceFlag(key)} -s ${opts.scheduler}${opts.persistence !== null ? ` -p ${opts.persistence}` : ''}`;
}

function realArgs(key: string, address: string, port: number, weight: number, opts: IpvsOptions): string {
  return `${serviceFlag(key)} -r ${endpoint(address, port)} ${FORWARD_FLAG[opts.forwarding]} -w ${weight}`;
}

export interface IpvsPlan {
  changes: Change[];
  commands: string[];
}

/**
 * Commands that turn `actual` into `pools`. Services are matched by protocol+vip:port, real servers by
 * address:port. Removed only: services listed in `removable` (sluice created them), real servers
 * of services sluice manages. Order: create services and add reals, edit, then delete, so a
 * service never runs without its new reals.
 */
export function planIpvs(pools: readonly DesiredPool[], services: readonly IpvsService[], opts: IpvsOptions, removable: ReadonlySet<string>): IpvsPlan {
  const desired = servicePools(pools);
  const actual = actualPools(services);
  const changes = diffPools(desired, actual, { matchBy: 'address', removablePools: removable });
  const adds: string[] = [];
  const edits: string[] = [];
  const deletes: string[] = [];
  const actualByKey = new Map(actual.map((a) => [a.name, a]));
  for (const c of changes) {
    switch (c.op) {
      case 'add-pool':
        adds.push(`-A ${serviceArgs(c.pool.name, opts)}`);
        for (const s of c.pool.servers) adds.push(`-a ${realArgs(c.pool.name, s.address, s.port, s.weight, opts)}`);
        break;
      case 'add-server':
        adds.push(`-a ${realArgs(c.pool, c.server.address, c.server.port, c.server.weight, opts)}`);
        break;
      case 'set-weight':
        edits.push(`-e ${realArgs(c.pool, c.address, c.port, c.to, opts)}`);
        break;
      case 'remove-server':
        deletes.push(`-d ${serviceFlag(c.pool)} -r ${endpoint(c.server.address, c.server.port)}`);
        break;
      case 'remove-pool':
        deletes.push(`-D ${serviceFlag(c.pool)}`);
        break;
      case 'set-address':
      case 'enable-server':
      case 'edit-pool':
      case 'edit-server':
        break; // not produced by diffPools when matching by address
    }
  }
  // Scheduler/persistence and forwarding-method drift on services and reals that otherwise match.
  for (const p of desired) {
    const a = actualByKey.get(p.name);
    if (!a || p.hold) continue;
    const wantPersist = opts.persistence === null ? '' : String(opts.persistence);
    if (a.meta?.scheduler !== opts.scheduler || a.meta?.persistent !== wantPersist) {
      edits.unshift(`-E ${serviceArgs(p.name, opts)}`);
      changes.push({ op: 'edit-pool', pool: p.name, detail: `scheduler ${a.meta?.scheduler ?? '?'}${a.meta?.persistent ? ` persistent ${a.meta.persistent}` : ''} -> ${opts.scheduler}${wantPersist ? ` persistent ${wantPersist}` : ''}` });
    }
    for (const s of p.servers) {
      const r = a.servers.find((x) => x.address === s.address && x.port === s.port);
      const forward = r?.meta?.forward;
      if (r && forward !== undefined && forward !== FORWARD_NAME[opts.forwarding] && r.weight === s.weight) {
        edits.push(`-e ${realArgs(p.name, s.address, s.port, s.weight, opts)}`);
        changes.push({ op: 'edit-server', pool: p.name, server: endpoint(s.address, s.port), detail: `${s.origin}: forwarding ${forward} -> ${FORWARD_NAME[opts.forwarding]}` });
      }
    }
  }
  return { changes, commands: [...adds, ...edits, ...deletes] };
}

/** The -m/-g/-i flag of a forwarding method as `ipvsadm -Ln` prints it ("Local" reals are added with -g). */
function flagOfForward(forward: string | undefined, fallback: Forwarding): string {
  switch (forward) {
    case 'Masq':
      return '-m';
    case 'Route':
    case 'Local':
      return '-g';
    case 'Tunnel':
      return '-i';
    default:
      return FORWARD_FLAG[fallback];
  }
}

/**
 * A complete ipvsadm-restore file for the managed services, so a host that reboots comes up with the
 * weights last applied: `ipvsadm -R < FILE`. A held pool is written as the kernel holds it now (its
 * scheduler, persistence, and each real server's own forwarding method).
 */
export function restoreFile(pools: readonly DesiredPool[], services: readonly IpvsService[], opts: IpvsOptions): string {
  const lines = ['# Managed by sluice edge-sync: the IPVS services of this edge. Load with: ipvsadm -R < this-file'];
  const actual = new Map(actualPools(services).map((a) => [a.name, a]));
  for (const p of servicePools(pools)) {
    if (p.hold) {
      const a = actual.get(p.name);
      if (!a) continue;
      const persistent = a.meta?.persistent ? Number(a.meta.persistent) : null;
      lines.push(`-A ${serviceArgs(p.name, { ...opts, scheduler: a.meta?.scheduler ?? opts.scheduler, persistence: persistent })}`);
      for (const s of a.servers) lines.push(`-a ${serviceFlag(p.name)} -r ${endpoint(s.address, s.port)} ${flagOfForward(s.meta?.forward, opts.forwarding)} -w ${s.weight}`);
      continue;
    }
    lines.push(`-A ${serviceArgs(p.name, opts)}`);
    for (const s of p.servers) lines.push(`-a ${realArgs(p.name, s.address, s.port, s.weight, opts)}`);
  }
  return `${lines.join('\n')}\n`;
}
