// Table-driven config tests (CoreDNS's setup_test.go rows: input, should it fail, expected substring):
// a YAML text is written to a temp file and loaded the way the command loads it, so the message a row
// checks is the one an operator reads.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { z } from 'zod';
import { ConfigError, loadConfigFile } from '../../lib/config-file.ts';

const dir = mkdtempSync(join(tmpdir(), 'sluice-config-cases-'));
let n = 0;

/** Loads `yaml` as a config file through `schema` (or a component's own loader). */
export function loadYaml<T>(load: z.ZodType<T> | ((file: string) => T), yaml: string): T {
  const file = join(dir, `c${++n}.yaml`);
  writeFileSync(file, yaml);
  return typeof load === 'function' ? load(file) : loadConfigFile(load, file);
}

/** The ConfigError message loading `yaml` gives; fails the test if it loads. */
export function configProblem(load: z.ZodType | ((file: string) => unknown), yaml: string): string {
  try {
    loadYaml(load, yaml);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`expected a config error for:\n${yaml}`);
}
