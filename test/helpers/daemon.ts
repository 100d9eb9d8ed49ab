// A server program run in the foreground for a test (unbound, knotd, …): its output kept, its exit
// awaited, stopped by PID (SIGTERM, then SIGKILL after 3 s) and its temp dir removed.
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

export interface Daemon {
  child: ChildProcess;
  /** The last 8,000 characters of its stdout and stderr. */
  output(): string;
  /** Resolves when the process has ended. */
  exited: Promise<void>;
  /** Ends it (if it still runs) and removes `dir`. */
  stop(): Promise<void>;
}

export function startDaemon(cmd: string, args: string[], dir: string): Daemon {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-8000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    output: () => out,
    exited,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves with `ready`'s result, or rejects as soon as the daemon exits (with its output). */
export function unlessExited<T>(d: Daemon, name: string, ready: Promise<T>, extraLog: () => string = () => ''): Promise<T> {
  return Promise.race([
    ready,
    d.exited.then(() => {
      throw new Error(`${name} exited: ${d.output()}${extraLog()}`);
    }),
  ]);
}
