// Runs a data-plane tool (nginx, haproxy -c, ipvsadm) without a shell, with a timeout, and returns
// its exit code and output; never throws for a non-zero exit (the caller decides what it means).
import { spawn } from 'node:child_process';

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Set when the tool could not be started at all (ENOENT...) or timed out. */
  error?: string;
}

export function execTool(argv: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  const [cmd, ...args] = argv;
  if (!cmd) return Promise.resolve({ code: null, stdout: '', stderr: '', error: 'empty command' });
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let error: string | undefined;
    const timer = setTimeout(() => {
      error = `timed out after ${opts.timeoutMs} ms`;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 10_000);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => (error = err.message));
    child.stdin.on('error', () => undefined);
    child.stdin.end(opts.input ?? '');
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ...(error ? { error } : {}) });
    });
  });
}

export function describeFailure(argv: readonly string[], r: ExecResult): string {
  const out = (r.stderr || r.stdout).trim().split('\n').slice(-5).join(' | ');
  return `${argv.join(' ')}: ${r.error ?? `exit ${r.code}`}${out ? `: ${out}` : ''}`;
}
