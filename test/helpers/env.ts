// What a test needs from the machine. Under CI=true a missing tool or privilege fails the test loudly,
// saying how to get it; elsewhere the test is skipped with the same visible reason.
import { execFileSync } from 'node:child_process';

export const IN_CI = process.env.CI === 'true';

export function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Returns null when every command is present, else the reason. Use as
 * `describe.skipIf(missing(...))` after calling `requireOrSkip`, which throws under CI.
 */
export function missingTools(tools: Record<string, string>): string | null {
  const missing = Object.entries(tools).filter(([cmd]) => !hasCommand(cmd));
  if (missing.length === 0) return null;
  return `missing ${missing.map(([cmd, pkg]) => `${cmd} (apt-get install ${pkg})`).join(', ')}`;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/**
 * The reason a test cannot run here, or null. Under CI=true a reason is an error: CI must run everything.
 * Outside CI the caller skips, and the reason is printed so the skip is visible.
 */
export function unavailable(opts: { tools?: Record<string, string>; root?: boolean }): string | null {
  const reasons: string[] = [];
  const tools = opts.tools ? missingTools(opts.tools) : null;
  if (tools) reasons.push(tools);
  if (opts.root && !isRoot()) reasons.push('needs root (network namespaces): run the tests as root, e.g. sudo npm test');
  if (reasons.length === 0) return null;
  const reason = reasons.join('; ');
  if (IN_CI) throw new Error(`CI=true and this test cannot run: ${reason}`);
  process.stderr.write(`SKIPPED: ${reason}\n`);
  return reason;
}
