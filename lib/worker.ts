// Starts a worker thread on one of sluice's modules. Callers name the TypeScript source,
//   startWorker(new URL('./worker.ts', import.meta.url), options)
// and the same call works both ways (lib/runtime.ts):
//  - compiled (bin/sluice.js, the npm package): the worker runs the `.js` sibling in dist/ directly,
//    no transpiler, with --enable-source-maps (a worker does not inherit the main thread's
//    process.setSourceMapsEnabled) so its stack traces name the .ts line;
//  - sources (vitest, benchmarks under tsx): the worker starts in worker-bootstrap.mjs, which registers
//    tsx inside the worker first (a worker does not inherit the parent's loader, and on Node 20
//    `--import tsx` in a worker's execArgv is not honoured), then loads the module.
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { runnableUrl } from './runtime.ts';

const BOOTSTRAP = new URL('./worker-bootstrap.mjs', import.meta.url);

export function startWorker(source: URL, options: WorkerOptions = {}): Worker {
  const url = runnableUrl(source);
  if (url.pathname.endsWith('.ts')) return new Worker(BOOTSTRAP, { ...options, argv: [...(options.argv ?? []), url.href] });
  const execArgv = options.execArgv ?? process.execArgv;
  return new Worker(url, { ...options, execArgv: execArgv.includes('--enable-source-maps') ? execArgv : [...execArgv, '--enable-source-maps'] });
}
