// The error catalogue and its documentation cannot drift (Fastify's errors.test.js does the same for
// Errors.md): every code in PROBLEMS has a row in api/README.md's Errors table with its status, and
// the table names no code that is gone.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PROBLEMS } from './errors.ts';

const readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8');
const section = readme.slice(readme.indexOf('## Errors'), readme.indexOf('\n## ', readme.indexOf('## Errors') + 1));
const rows = [...section.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map((m) => ({ code: m[1]!, status: Number(m[2]) }));

describe('api/README.md Errors table', () => {
  it('documents every code of the catalogue with its status', () => {
    for (const [code, { status }] of Object.entries(PROBLEMS)) expect(rows, code).toContainEqual({ code, status });
  });

  it('names no code the catalogue does not have', () => {
    for (const r of rows) expect(Object.keys(PROBLEMS), r.code).toContain(r.code);
  });
});
