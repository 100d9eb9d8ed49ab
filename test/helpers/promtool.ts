// `promtool check metrics` on an exposition. prom-client's standard Node collectors name three gauges
// with a _total suffix (nodejs_active_handles_total, nodejs_active_requests_total,
// nodejs_active_resources_total); the usual Node dashboards query those names, so sluice keeps them
// and only these three lint lines are forgiven. Anything else promtool says is a problem.
import { spawn } from 'node:child_process';

const UPSTREAM_NAMES = /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/;

export function promtoolCheck(text: string): Promise<{ code: number | null; problems: string[] }> {
  return new Promise((resolve) => {
    const p = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    p.stdout.on('data', (d: Buffer) => (output += d.toString()));
    p.stderr.on('data', (d: Buffer) => (output += d.toString()));
    p.once('exit', (code) => {
      const problems = output.split('\n').map((l) => l.trim()).filter((l) => l && !UPSTREAM_NAMES.test(l));
      // Exit 3 means lint findings only; when every finding is forgiven, that is a pass.
      resolve({ code: code === 3 && problems.length === 0 ? 0 : code, problems });
    });
    p.stdin.end(text);
  });
}
