// Starts a worker thread from a module URL. Sources are TypeScript run through tsx, and a worker does
// not inherit the main thread's loader, so a .ts worker is started with tsx's loader explicitly.
import { Worker, type WorkerOptions } from 'node:worker_threads';

export function startWorker(moduleUrl: URL, options: WorkerOptions = {}): Worker {
  const isTs = moduleUrl.pathname.endsWith('.ts');
  const execArgv = isTs ? [...(options.execArgv ?? []), '--import', 'tsx'] : options.execArgv;
  return new Worker(moduleUrl, { ...options, ...(execArgv ? { execArgv } : {}) });
}
