// Process helpers shared by the benchmarks: start a server, time it to a ready condition, read its
// memory from /proc, stop it by PID. Every process started here is stopped here (never by name).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The `sluice` command as a user runs it. */
export const SLUICE_BIN = fileURLToPath(new URL('../../bin/sluice.js', import.meta.url));
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

export interface Server {
  name: string;
  child: ChildProcess;
  log(): string;
}

export function startServer(name: string, cmd: string, args: string[], opts: { cwd?: string } = {}): Server {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd ?? REPO_ROOT });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr!.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  return { name, child, log: () => out };
}

export async function stopServer(s: Server): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  const exited = new Promise<void>((r) => s.child.once('exit', () => r()));
  s.child.kill('SIGTERM');
  const t = setTimeout(() => s.child.exitCode === null && s.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

/**
 * Milliseconds from spawning `cmd` until `ready()` first returns true (probed every `everyMs`), then
 * the server is left running for the caller. Throws, with the server's output, if it exits or is not
 * ready within `timeoutMs`.
 */
export async function timeToReady(name: string, cmd: string, args: string[], ready: () => Promise<boolean>, opts: { timeoutMs?: number; everyMs?: number; cwd?: string } = {}): Promise<{ ms: number; server: Server }> {
  const t0 = performance.now();
  const server = startServer(name, cmd, args, opts);
  const deadline = t0 + (opts.timeoutMs ?? 30_000);
  for (;;) {
    if (server.child.exitCode !== null) throw new Error(`${name} exited with ${server.child.exitCode}: ${server.log()}`);
    try {
      if (await ready()) return { ms: performance.now() - t0, server };
    } catch {
      /* not yet */
    }
    if (performance.now() > deadline) {
      await stopServer(server);
      throw new Error(`${name} was not ready within ${opts.timeoutMs ?? 30_000} ms: ${server.log()}`);
    }
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 10));
  }
}

/** Wall time of a process run to completion; throws on a non-zero exit. */
export function timeProcess(cmd: string, args: string[], opts: { input?: string; cwd?: string } = {}): number {
  const t = performance.now();
  const r = spawnSync(cmd, args, { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'], input: opts.input, maxBuffer: 1 << 30, cwd: opts.cwd ?? REPO_ROOT });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr?.toString().slice(0, 1000)}`);
  return ms;
}

/**
 * Wall and CPU time (user + system, all threads: GC and compiler threads included) of a process run to
 * completion, through GNU time. On a shared machine the CPU time is the steadier of the two.
 */
export function timeProcessCpu(cmd: string, args: string[], opts: { cwd?: string } = {}): { wall_ms: number; cpu_ms: number } {
  const out = join(tmpdir(), `sluice-bench-time-${process.pid}-${Date.now()}`);
  try {
    const wall = timeProcess('/usr/bin/time', ['-f', '%U %S', '-o', out, cmd, ...args], opts);
    const [user, sys] = readFileSync(out, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
    return { wall_ms: wall, cpu_ms: (user! + sys!) * 1000 };
  } finally {
    rmSync(out, { force: true });
  }
}

export async function httpOk(url: string): Promise<boolean> {
  const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await r.arrayBuffer();
  return r.ok;
}

/**
 * A process's resident memory in MB: all of it (VmRSS), its peak (VmHWM), and the split of VmRSS into
 * private memory (RssAnon: heaps, stacks; what the process alone costs) and file-backed pages (RssFile:
 * its executable and libraries as far as they were touched, shared with every other process mapping the
 * same files, e.g. every node process on the host).
 */
export function memoryOf(pid: number): { rss_mb: number; peak_mb: number; anon_mb: number; file_mb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss_mb: round1(kb('VmRSS') / 1024), peak_mb: round1(kb('VmHWM') / 1024), anon_mb: round1(kb('RssAnon') / 1024), file_mb: round1(kb('RssFile') / 1024) };
}

export const round1 = (x: number): number => Math.round(x * 10) / 10;

/** One-line description of how busy the shared machine was (benchmarks are relative, this says how noisy). */
export function machineLoad(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}
