// Starting and stopping real HAProxy / nginx processes for tests: own temp dir, own pid file and
// sockets, loopback ports; stopped by PID only (test-only code).
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { waitFor } from '../../test/helpers/wait.ts';
import { HaproxyRuntime } from '../haproxy/runtime.ts';

export interface Managed {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

function manage(child: ChildProcess): Managed {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => out,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    },
  };
}

/** HAProxy in master-worker mode in the foreground (-W -db), as systemd runs it; reload = SIGUSR2. */
export async function startHaproxy(cfgPath: string, adminSocket: string): Promise<Managed & { runtime: HaproxyRuntime; workerPid(): Promise<number>; reload(): Promise<void> }> {
  const m = manage(spawn('haproxy', ['-W', '-db', '-f', cfgPath], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const runtime = new HaproxyRuntime(adminSocket, 2000);
  const workerPid = async () => {
    const info = await runtime.send('show info');
    const pid = /^Pid:\s*(\d+)/m.exec(info);
    if (!pid) throw new Error(`no Pid in show info: ${info.slice(0, 200)}`);
    return Number(pid[1]);
  };
  await waitFor(async () => (m.child.exitCode === null ? workerPid() : Promise.reject(new Error(`haproxy exited: ${m.output()}`))), { timeoutMs: 10_000, what: 'haproxy admin socket' });
  return {
    ...m,
    runtime,
    workerPid,
    async reload() {
      const before = await workerPid();
      process.kill(m.child.pid!, 'SIGUSR2');
      await waitFor(async () => (await workerPid()) !== before, { timeoutMs: 10_000, what: `a new haproxy worker after reload (master output: ${m.output().slice(-300)})` });
    },
  };
}

/** PIDs of the direct children of `pid` (nginx workers of a master). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // process gone
    }
  }
  return out;
}

/** nginx in the foreground (daemon off) with its own prefix, pid file and error log. */
export async function startNginx(prefix: string, confPath: string, pidFile: string): Promise<Managed & { masterPid: number }> {
  const m = manage(spawn('nginx', ['-p', prefix, '-c', confPath, '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] }));
  await waitFor(() => {
    if (m.child.exitCode !== null) throw new Error(`nginx exited: ${m.output()}`);
    try {
      return Number(readFileSync(pidFile, 'utf8').trim()) === m.child.pid && childPids(m.child.pid!).length > 0;
    } catch {
      return false;
    }
  }, { timeoutMs: 10_000, what: 'nginx master and workers' });
  return { ...m, masterPid: m.child.pid! };
}
