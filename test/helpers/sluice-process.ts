// Runs the real `sluice` CLI as a child process, as a user would, and collects its output.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PACKAGE_ROOT } from '../../lib/runtime.ts';

// From the package root, not from this file: `sluice lab` runs this module compiled, from dist/.
export const REPO_ROOT = fileURLToPath(PACKAGE_ROOT);
export const SLUICE_BIN = fileURLToPath(new URL('bin/sluice.js', PACKAGE_ROOT));

export interface SluiceProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<number | string>;
}

/**
 * `fdLimit`: a raised open-files limit (tests with thousands of sockets), set by the shell, which then
 * execs node. `netns`: run inside that network namespace (`ip netns exec` execs too). Either way the
 * child's PID is sluice's own. `nodeArgs`: node's own flags (e.g. --cpu-prof, which NODE_OPTIONS refuses;
 * a cluster's workers inherit them).
 */
export function startSluice(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; uid?: number; gid?: number; fdLimit?: number; netns?: string; nodeArgs?: string[] } = {}): SluiceProcess {
  let argv = [process.execPath, ...(opts.nodeArgs ?? []), SLUICE_BIN, ...args];
  if (opts.fdLimit) argv = ['/bin/sh', '-c', `ulimit -n ${opts.fdLimit} && exec "$0" "$@"`, ...argv];
  if (opts.netns) argv = ['ip', 'netns', 'exec', opts.netns, ...argv];
  const [cmd, ...rest] = argv;
  const child = spawn(cmd!, rest, {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
    ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    child,
    output: () => out,
    exited,
    async stop(graceMs = 3000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

/** Runs `sluice ...` to completion. */
export async function runSluice(args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [SLUICE_BIN, ...args], { cwd: REPO_ROOT, env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // A command that exits before reading its input (a refused config) makes the write fail with EPIPE:
  // its exit code and output are the result, not that (tls-clients.ts run() says the same).
  child.stdin.on('error', () => undefined);
  child.stdin.end(opts.input ?? '');
  const code = await new Promise<number | string>((resolve) => child.once('exit', (c, s) => resolve(c ?? s ?? -1)));
  return { code, stdout, stderr };
}
