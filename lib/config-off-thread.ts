// Loads and validates a config file in a short-lived worker thread and keeps only the validated plain
// object. For long-running processes that must stay small (the agent beside node_exporter): the YAML
// parser and zod cost ~12 MB of resident memory once loaded and can never be unloaded from a thread,
// but a worker's whole heap is returned when it ends. Measured here: loading the agent's config
// in-process leaves ~20 MB more RSS than doing it in a worker (~3 MB left, plus ~50 ms of start-up).
// Errors are the same ConfigError (file, key, expectation) as loading in-process.
import { ConfigError } from './config-error.ts';
import type { ConfigWorkerData, ConfigWorkerReply } from './config-worker.ts';
import { startWorker } from './worker.ts';

/**
 * `loadConfigOffThread(new URL('./config.ts', import.meta.url), 'loadAgentConfig', file)` returns what
 * `loadAgentConfig(file)` returns. The value crosses threads by structured clone: plain data only.
 */
export async function loadConfigOffThread<T>(module: URL, loader: string, file: string): Promise<T> {
  const worker = startWorker(new URL('./config-worker.ts', import.meta.url), { workerData: { module: module.href, loader, file } satisfies ConfigWorkerData });
  try {
    const reply = await new Promise<ConfigWorkerReply>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`config worker exited (${code}) before answering`)));
    });
    if (reply.ok) return reply.value as T;
    if ('problems' in reply) throw new ConfigError(reply.file, reply.problems);
    throw new Error(`loading ${file}: ${reply.error}`);
  } finally {
    await worker.terminate();
  }
}
