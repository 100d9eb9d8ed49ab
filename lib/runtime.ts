// How this process runs sluice's own modules: compiled JavaScript from dist/ (bin/sluice.js, the npm
// package) or TypeScript sources through tsx (tests under vitest, benchmarks). Code that starts another
// thread or process on one of sluice's modules always names the TypeScript source,
//   new URL('./worker.ts', import.meta.url)
// and lets this module turn it into what can run here: in dist/ the URL already points into the
// compiled tree, and the module to run is its `.js` sibling (tsc rewrites import specifiers, not URLs).
import { fileURLToPath } from 'node:url';

/** True when this file is the compiled dist/lib/runtime.js (so every sluice module is compiled). */
export const RUNNING_COMPILED = import.meta.url.endsWith('.js');

/**
 * The package's root directory (where bin/, examples/ and package.json are), from either tree: this
 * file is lib/runtime.ts in the sources and dist/lib/runtime.js compiled. Code that needs a file
 * outside its own folder's mirror (the `sluice` command itself, for one) resolves it from here.
 */
export const PACKAGE_ROOT = new URL(RUNNING_COMPILED ? '../../' : '../', import.meta.url);

/** The module to load for a source URL: the compiled `.js` sibling when running compiled. */
export function runnableUrl(source: URL): URL {
  if (!RUNNING_COMPILED || !source.pathname.endsWith('.ts')) return source;
  const url = new URL(source.href);
  url.pathname = url.pathname.replace(/\.ts$/, '.js');
  return url;
}

/**
 * Node arguments that run a sluice module in a child process:
 * `spawn(process.execPath, [...nodeArgsFor(url), ...args])`. Compiled: the `.js` sibling with source
 * maps on (stack traces name the .ts line). Sources: through tsx.
 */
export function nodeArgsFor(source: URL): string[] {
  const url = runnableUrl(source);
  return url.pathname.endsWith('.ts') ? ['--import', 'tsx', fileURLToPath(url)] : ['--enable-source-maps', fileURLToPath(url)];
}
