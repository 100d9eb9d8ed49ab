// Running a lab scenario through the real CLI (`sluice lab up`) from a test, bounded in time, and
// asserting its checks — shared by the lab test files.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { ScenarioResult } from '../lab/measure.ts';
import { REPO_ROOT, SLUICE_BIN } from './sluice-process.ts';

export interface LabRun {
  code: number | string;
  result: ScenarioResult;
  output: string;
  stateDir: string;
}

/** `sluice lab up --scenario test/lab/scenarios/<scenario>.yaml` with state and output under `dir` (`env`: e.g. SLUICE_LAB_TLS=1). */
export async function labUp(dir: string, scenario: string, timeoutMs: number, env: NodeJS.ProcessEnv = {}): Promise<LabRun> {
  const stateDir = join(dir, scenario, 'state');
  const outDir = join(dir, scenario, 'out');
  const child = spawn(process.execPath, [SLUICE_BIN, 'lab', 'up', '--scenario', join(REPO_ROOT, 'test/lab/scenarios', `${scenario}.yaml`), '--state', stateDir, '--out', outDir], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  // Bounded: SIGTERM makes the lab tear itself down; SIGKILL after that.
  const term = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
  const kill = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 20_000);
  const code = await new Promise<number | string>((resolve) => child.once('exit', (c, s) => resolve(c ?? s ?? -1)));
  clearTimeout(term);
  clearTimeout(kill);
  const file = join(outDir, 'result.json');
  if (!existsSync(file)) throw new Error(`no result.json (exit ${code}):\n${output.slice(-4000)}`);
  process.stderr.write(`${output.split('\n').filter((l) => /^(PASS|FAIL|\[|built)/.test(l)).join('\n')}\n`);
  return { code, result: JSON.parse(readFileSync(file, 'utf8')) as ScenarioResult, output, stateDir };
}

export function expectAllChecks(r: ScenarioResult, output: string): void {
  const failed = r.checks.filter((c) => !c.pass);
  expect(failed, `${failed.map((c) => `${c.name}: ${c.detail}`).join('\n')}\n--- lab output ---\n${output.slice(-3000)}`).toEqual([]);
  expect(r.checks.length).toBeGreaterThan(3);
}
