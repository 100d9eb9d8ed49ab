// The lab's state file: every namespace (name and inode) and every process (PID and start time) the lab
// made, written as soon as each exists, so `sluice lab down` can remove all of it even after the lab
// process crashed or was killed. Removal is by identity only: a PID is signalled only if its start time
// is still the recorded one (no PID-reuse accidents); a namespace is deleted by its exact name, and a
// process is killed for being inside one of the lab's namespaces only if its /proc/PID/ns/net is that
// namespace's recorded inode. Never a name pattern.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ProcRecord {
  name: string;
  pid: number;
  /** /proc/PID/stat starttime (clock ticks since boot): the PID's identity. */
  start: string;
  namespace?: string;
}

export interface NsRecord {
  label: string;
  name: string;
  inode: number;
}

export interface LabState {
  version: 1;
  scenario: string;
  lab: ProcRecord;
  created_at: string;
  state_dir: string;
  tun: string;
  namespaces: NsRecord[];
  processes: ProcRecord[];
  /** Unix sockets (in the state dir) bridged to services in the core namespace. */
  sockets: { control_plane?: string; prometheus?: string; dns_metrics?: string };
  urls: Record<string, string>;
  token: string;
  /** Per origin: its stats file (the measurements) and address; per load balancer: ids. */
  origins: { name: string; id?: string; address: string; port: number; stats: string; max_rps: number; target_rps: number }[];
  load_balancer?: { id: string; name: string };
  clients: { name: string; stats: string; subnets: string[] }[];
  status: 'building' | 'running' | 'stopping' | 'stopped';
  /** Directories the lab made outside its state dir (PostgreSQL's data), removed at teardown. */
  dirs?: string[];
  /** With TLS on: the lab PKI's CA, the lab's own client certificate and the name servers' certificate carries. */
  tls?: LabTls;
}

export interface LabTls {
  ca: string;
  cert: string;
  key: string;
  servername: string;
}

export const DEFAULT_STATE_DIR = '/tmp/sluice-lab';
export const STATE_FILE = 'lab-state.json';

export function statePath(dir: string): string {
  return join(dir, STATE_FILE);
}

export function writeState(state: LabState): void {
  mkdirSync(state.state_dir, { recursive: true });
  const file = statePath(state.state_dir);
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
}

export function readState(dir: string): LabState | null {
  const file = statePath(dir);
  if (!existsSync(file)) return null;
  return JSON.parse(readFileSync(file, 'utf8')) as LabState;
}

export function procStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

export function procRecord(name: string, pid: number, namespace?: string): ProcRecord {
  return { name, pid, start: procStart(pid) ?? '?', ...(namespace ? { namespace } : {}) };
}

/** True if the recorded process still runs (same PID and same start time). */
export function isSameProcess(p: ProcRecord): boolean {
  const start = procStart(p.pid);
  return start !== null && start === p.start;
}

export function netnsInode(name: string): number | null {
  try {
    return statSync(`/run/netns/${name}`).ino;
  } catch {
    return null;
  }
}

/** PIDs whose network namespace is one of the given inodes (identity, not a name). */
export function pidsInNamespaces(inodes: number[]): number[] {
  const wanted = new Set(inodes.map((i) => `net:[${i}]`));
  const out: number[] = [];
  if (wanted.size === 0) return out;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (wanted.has(readlinkSync(`/proc/${entry}/ns/net`))) out.push(Number(entry));
    } catch {
      // gone, or a kernel thread
    }
  }
  return out;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

/** What of a lab state still exists. Empty = clean. */
export function leftovers(state: LabState): string[] {
  const left: string[] = [];
  for (const ns of state.namespaces) if (existsSync(`/run/netns/${ns.name}`)) left.push(`netns ${ns.name}`);
  for (const p of [state.lab, ...state.processes]) if (p.pid !== process.pid && isSameProcess(p)) left.push(`process ${p.name} (pid ${p.pid})`);
  for (const pid of pidsInNamespaces(state.namespaces.map((n) => n.inode))) left.push(`pid ${pid} inside a lab namespace`);
  // The TUN devices live inside the lab's namespaces; one in the root namespace would be a bug.
  try {
    execFileSync('ip', ['link', 'show', state.tun], { stdio: 'ignore' });
    left.push(`TUN device ${state.tun} in the root namespace`);
  } catch {
    // absent: good
  }
  return left;
}

/**
 * Removes everything a lab state names: the lab process (it cleans up after itself on SIGTERM), every
 * recorded process, any process still inside a lab namespace, then the namespaces. Idempotent.
 */
export async function teardown(state: LabState, log: (line: string) => void = () => undefined): Promise<string[]> {
  if (state.lab.pid !== process.pid && isSameProcess(state.lab)) {
    log(`stopping the lab process ${state.lab.pid}`);
    signal(state.lab.pid, 'SIGTERM');
    if (!(await until(() => !isSameProcess(state.lab), 15_000))) signal(state.lab.pid, 'SIGKILL');
  }
  const alive = state.processes.filter(isSameProcess);
  for (const p of alive) {
    log(`stopping ${p.name} (pid ${p.pid})`);
    signal(p.pid, 'SIGTERM');
  }
  if (!(await until(() => alive.every((p) => !isSameProcess(p)), 3000))) {
    for (const p of alive) if (isSameProcess(p)) signal(p.pid, 'SIGKILL');
    await until(() => alive.every((p) => !isSameProcess(p)), 3000);
  }
  const inodes = state.namespaces.map((n) => n.inode);
  let stray = pidsInNamespaces(inodes);
  if (stray.length > 0) {
    log(`stopping ${stray.length} process(es) still inside the lab's namespaces: ${stray.join(' ')}`);
    for (const pid of stray) signal(pid, 'SIGTERM');
    await until(() => pidsInNamespaces(inodes).length === 0, 3000);
    stray = pidsInNamespaces(inodes);
    for (const pid of stray) signal(pid, 'SIGKILL');
    await until(() => pidsInNamespaces(inodes).length === 0, 2000);
  }
  for (const ns of state.namespaces) {
    const ino = netnsInode(ns.name);
    if (ino === null) continue;
    if (ino !== ns.inode) {
      log(`not deleting netns ${ns.name}: it is not the one the lab made (inode ${ino}, recorded ${ns.inode})`);
      continue;
    }
    try {
      execFileSync('ip', ['netns', 'del', ns.name], { stdio: 'ignore' });
      log(`deleted netns ${ns.name}`);
    } catch (err) {
      log(`ip netns del ${ns.name}: ${(err as Error).message}`);
    }
  }
  for (const d of state.dirs ?? []) {
    // Only what the lab made: temp dirs named sluice-lab-*.
    if (/\/sluice-lab-[^/]+$/.test(d)) rmSync(d, { recursive: true, force: true });
  }
  return leftovers(state);
}
