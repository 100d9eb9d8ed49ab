#!/usr/bin/env node
// `npm run build`: compiles the TypeScript sources to dist/ and makes dist/ a mirror of the source tree
// that the runtime can run on its own (bin/sluice.js, every worker thread, every child process):
//   1. tsc -p tsconfig.build.json: type-checks every file tsconfig.json does and emits JavaScript with
//      source maps, incrementally (dist/.tsbuildinfo), so a build with nothing changed takes seconds;
//   2. every non-TypeScript file in those folders (worker .mjs, lab processes, scenario YAML, the
//      OpenAPI document) and examples/ are copied beside the compiled modules, so code that names a
//      sibling file with `new URL('./x.mjs', import.meta.url)` finds it in dist/ too;
//   3. files in dist/ whose source is gone (a renamed module, a deleted asset) are removed, so a stale
//      module can never be loaded or packed.
// `--lenient`: report type errors but finish the build; `--if-stale`: do nothing when no source is newer
// than the last build. vitest's global setup (test/helpers/dist-setup.ts) uses both, so that a test that
// spawns bin/sluice.js never runs a stale dist/ and the test of a file being edited still runs;
// `npm test`, `npm ci` and `npm pack` build strictly.
// Plain JavaScript on purpose: it runs before anything is compiled.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DIST = join(ROOT, 'dist');
const lenient = process.argv.includes('--lenient');
const ifStale = process.argv.includes('--if-stale');
/** Written after every build; `--if-stale` compares the sources' mtimes with it. */
const STAMP = join(DIST, '.built');

/** The folders tsc compiles (tsconfig.json "include"), plus examples/ (read by the demo). */
function sourceFolders() {
  // tsconfig.json is JSON without comments: the include list is the contract between the two.
  const include = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')).include;
  return [...include.filter((p) => existsSync(join(ROOT, p)) && statSync(join(ROOT, p)).isDirectory()), 'examples'];
}

function* walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (entry.isFile()) yield path;
  }
}

const isAsset = (path) => !path.endsWith('.ts') && !path.endsWith('.md');

function compile() {
  let tsc;
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  } catch {
    // Installed without dev dependencies (npm ci --omit=dev in a checkout): keep a dist/ already built.
    if (existsSync(join(DIST, 'cli/main.js'))) {
      process.stderr.write('build: typescript is not installed (dev dependencies omitted); keeping the existing dist/\n');
      process.exit(0);
    }
    process.stderr.write('build: typescript is not installed and there is no dist/: run `npm ci` with dev dependencies\n');
    process.exit(1);
  }
  const r = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
  if (r.status === 0) return true;
  if (!lenient || !existsSync(join(DIST, 'cli/main.js'))) process.exit(r.status ?? 1);
  process.stderr.write('build: type errors above (dist/ was emitted anyway: --lenient)\n');
  return false;
}

/** Copies assets that are new or changed (size or mtime), keeping the mtime so the next check is cheap. */
function copyAssets(folders) {
  let copied = 0;
  for (const folder of folders) {
    for (const src of walk(join(ROOT, folder))) {
      if (!isAsset(src)) continue;
      const dst = join(DIST, relative(ROOT, src));
      const s = statSync(src);
      if (existsSync(dst)) {
        const d = statSync(dst);
        if (d.size === s.size && Math.abs(d.mtimeMs - s.mtimeMs) < 1) continue;
      }
      mkdirSync(dirname(dst), { recursive: true });
      copyFileSync(src, dst);
      utimesSync(dst, s.atime, s.mtime);
      copied++;
    }
  }
  return copied;
}

/** The source a file in dist/ came from (compiled module or map -> .ts; asset -> itself). */
function sourceOf(distFile) {
  const rel = relative(DIST, distFile);
  if (rel.endsWith('.js.map')) return join(ROOT, rel.slice(0, -'.js.map'.length) + '.ts');
  if (rel.endsWith('.js')) {
    const ts = join(ROOT, rel.slice(0, -'.js'.length) + '.ts');
    return existsSync(ts) ? ts : join(ROOT, rel); // a plain .js asset maps to itself
  }
  return join(ROOT, rel);
}

function pruneOrphans() {
  if (!existsSync(DIST)) return 0;
  let removed = 0;
  for (const file of walk(DIST)) {
    if (existsSync(sourceOf(file))) continue;
    rmSync(file);
    removed++;
  }
  return removed;
}

/** True when dist/ was never built or a source, an asset or a tsconfig changed since. */
function stale(folders) {
  if (!existsSync(STAMP)) return true;
  const built = statSync(STAMP).mtimeMs;
  for (const f of ['tsconfig.json', 'tsconfig.build.json', 'package.json']) if (statSync(join(ROOT, f)).mtimeMs > built) return true;
  for (const folder of folders) for (const src of walk(join(ROOT, folder))) if (!src.endsWith('.md') && statSync(src).mtimeMs > built) return true;
  return false;
}

if (ifStale && !stale(sourceFolders())) process.exit(0);
const started = performance.now();
const typed = compile();
const copied = copyAssets(sourceFolders());
const removed = pruneOrphans();
writeFileSync(STAMP, `${new Date().toISOString()}${typed ? '' : ' (type errors)'}\n`);
const ms = Math.round(performance.now() - started);
process.stderr.write(`build: dist/ ready in ${ms} ms (${copied} asset(s) copied, ${removed} stale file(s) removed${typed ? '' : ', WITH TYPE ERRORS'})\n`);
