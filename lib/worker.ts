// Starts a worker thread from a module URL. Sources are TypeScript run through tsx; a .ts module is
// loaded through worker-bootstrap.mjs, which registers tsx inside the worker first.
import { Worker, type WorkerOptions } from 'node:worker_threads';

const BOOTSTRAP = new URL('./worker-bootstrap.mjs', import.meta.url);

export function startWorker(moduleUrl: URL, options: WorkerOptions = {}): Worker {
  if (!moduleUrl.pathname.endsWith('.ts')) return new Worker(moduleUrl, options);
  return new Worker(BOOTSTRAP, { ...options, argv: [...(options.argv ?? []), moduleUrl.href] });
}
