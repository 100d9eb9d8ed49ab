// vitest global setup: tests that spawn `bin/sluice.js` run the compiled dist/, exactly what `npm ci`
// builds and the npm package ships, while in-process tests import the TypeScript sources. So that the
// two never disagree, dist/ is rebuilt before any test runs when a source is newer than the last build
// (`tools/build.mjs --if-stale`: ~0.2 s when fresh, an incremental tsc otherwise). Lenient: type errors
// are printed but do not stop the tests of a file being edited; `npm test` builds strictly first.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function buildDist(): void {
  const script = fileURLToPath(new URL('../../tools/build.mjs', import.meta.url));
  const r = spawnSync(process.execPath, [script, '--if-stale', '--lenient'], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`tools/build.mjs failed (${r.status ?? r.signal}): dist/ could not be built, so tests that run bin/sluice.js cannot run`);
}
