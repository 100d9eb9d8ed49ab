// Starts a worker thread on one of sluice's modules. Callers name the TypeScript source,
//   startWorker(new URL('./worker.ts', import.meta.url), options)
// and the same call works both ways (lib/runtime.ts): compiled (bin/sluice.js, the npm package), the
// worker runs the `.js` sibling in dist/ directly, no transpiler; from sources (vitest, benchmarks under
// tsx) it runs the .ts through tsx. Either way it starts in worker-bootstrap.mjs, which switches source
// maps on or registers tsx before loading the module. execArgv and V8 flags are inherited as usual.
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { runnableUrl } from './runtime.ts';

const BOOTSTRAP = new URL('./worker-bootstrap.mjs', import.meta.url);

export function startWorker(source: URL, options: WorkerOptions = {}): Worker {
  return new Worker(BOOTSTRAP, { ...options, argv: [...(options.argv ?? []), runnableUrl(source).href] });
}
