// Desired pools vs the ACTUAL state read back from the data plane -> the smallest list of changes.
// Pure. Every adapter reads its data plane into ActualPool[], calls diffPools, and turns the changes
// into its own commands; nothing that already matches is touched (idempotent by construction).
import type { DesiredPool, DesiredServer } from './desired.ts';

export interface ActualServer {
  name: string;
  address: string;
  port: number;
  weight: number;
  /** Administratively out of rotation (HAProxy maintenance). */
  maint?: boolean;
  /** Free-form data-plane details (IPVS forwarding method...). */
  meta?: Record<string, string>;
}

export interface ActualPool {
  name: string;
  servers: ActualServer[];
  /** Free-form data-plane details (HAProxy balance algorithm, IPVS scheduler...). */
  meta?: Record<string, string>;
}

export type Change =
  | { op: 'add-pool'; pool: DesiredPool }
  | { op: 'remove-pool'; pool: string }
  | { op: 'add-server'; pool: string; server: DesiredServer }
  | { op: 'remove-server'; pool: string; server: ActualServer }
  | { op: 'set-weight'; pool: string; server: string; address: string; port: number; origin: string; from: number; to: number }
  | { op: 'set-address'; pool: string; server: string; from: string; to: string; address: string; port: number }
  | { op: 'enable-server'; pool: string; server: string }
  /** Data-plane specific settings of a pool or server (IPVS scheduler, forwarding method). */
  | { op: 'edit-pool'; pool: string; detail: string }
  | { op: 'edit-server'; pool: string; server: string; detail: string };

export interface DiffOptions {
  /** How a desired server is matched to an actual one: HAProxy by server name, nginx/IPVS by address. */
  matchBy: 'name' | 'address';
  /** Pools present in the data plane but absent from the desired state that sluice may remove. */
  removablePools?: ReadonlySet<string>;
}

function endpoint(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

export function diffPools(desired: readonly DesiredPool[], actual: readonly ActualPool[], opts: DiffOptions): Change[] {
  const changes: Change[] = [];
  const actualByName = new Map(actual.map((p) => [p.name, p]));
  for (const pool of desired) {
    if (pool.hold) continue;
    const current = actualByName.get(pool.name);
    if (!current) {
      changes.push({ op: 'add-pool', pool });
      continue;
    }
    changes.push(...diffServers(pool, current, opts));
  }
  const wanted = new Set(desired.map((p) => p.name));
  for (const p of actual) {
    if (!wanted.has(p.name) && opts.removablePools?.has(p.name)) changes.push({ op: 'remove-pool', pool: p.name });
  }
  return changes;
}

function diffServers(pool: DesiredPool, current: ActualPool, opts: DiffOptions): Change[] {
  const changes: Change[] = [];
  const key = (s: { name: string; address: string; port: number }) => (opts.matchBy === 'name' ? s.name : endpoint(s.address, s.port));
  const actualByKey = new Map(current.servers.map((s) => [key(s), s]));
  const desiredKeys = new Set<string>();
  for (const s of pool.servers) {
    const k = key(s);
    desiredKeys.add(k);
    const a = actualByKey.get(k);
    if (!a) {
      changes.push({ op: 'add-server', pool: pool.name, server: s });
      continue;
    }
    if (opts.matchBy === 'name' && endpoint(a.address, a.port) !== endpoint(s.address, s.port)) {
      changes.push({ op: 'set-address', pool: pool.name, server: s.name, from: endpoint(a.address, a.port), to: endpoint(s.address, s.port), address: s.address, port: s.port });
    }
    if (a.weight !== s.weight) {
      changes.push({ op: 'set-weight', pool: pool.name, server: s.name, address: s.address, port: s.port, origin: s.origin, from: a.weight, to: s.weight });
    }
    if (a.maint) changes.push({ op: 'enable-server', pool: pool.name, server: s.name });
  }
  for (const a of current.servers) {
    if (!desiredKeys.has(key(a))) changes.push({ op: 'remove-server', pool: current.name, server: a });
  }
  return changes;
}

/** One line per change, for logs and --dry-run. */
export function describeChange(c: Change): string {
  switch (c.op) {
    case 'add-pool':
      return `add pool ${c.pool.name} (${c.pool.listener}) with ${c.pool.servers.map((s) => `${s.name}=${endpoint(s.address, s.port)} w${s.weight}`).join(', ')}`;
    case 'remove-pool':
      return `remove pool ${c.pool}`;
    case 'add-server':
      return `add server ${c.pool}/${c.server.name} ${endpoint(c.server.address, c.server.port)} weight ${c.server.weight}`;
    case 'remove-server':
      return `remove server ${c.pool}/${c.server.name} ${endpoint(c.server.address, c.server.port)}`;
    case 'set-weight':
      return `weight ${c.pool}/${c.server} (${c.origin}) ${c.from} -> ${c.to}`;
    case 'set-address':
      return `address ${c.pool}/${c.server} ${c.from} -> ${c.to}`;
    case 'enable-server':
      return `enable ${c.pool}/${c.server} (was in maintenance)`;
    case 'edit-pool':
      return `edit pool ${c.pool}: ${c.detail}`;
    case 'edit-server':
      return `edit server ${c.pool}/${c.server}: ${c.detail}`;
  }
}
